"""Generate the course's SIGNS-format hand-sign dataset.

    python datasets/make_signs.py            # writes datasets/*.h5, images/my_image.jpg, images/signs_samples.png

The original SIGNS photos (one right hand against a pale wall, 0-5 raised fingers) cannot be
downloaded here, so we render hands procedurally in exactly the same file format:

    train_signs.h5: train_set_x (1080, 64, 64, 3) uint8, train_set_y (1080,) int64, list_classes (6,) int64
    test_signs.h5:  test_set_x  (120, 64, 64, 3)  uint8, test_set_y  (120,)  int64, list_classes (6,) int64

How a hand is drawn: every part (forearm, palm, thumb, finger segments) is a rounded solid with a
height profile; a tiny z-buffer keeps the nearest part at each pixel, and the shading comes from
the normals of the resulting height map. Images are rendered at 4x the final size and downsampled
with antialiasing, then blurred and given sensor noise, so edges look photographic.

Same seed -> byte-identical arrays (only NumPy's PCG64 stream and float64 arithmetic are used).
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parent.parent
CLASSES = np.arange(6, dtype=np.int64)
FINAL = 64          # output size (SIGNS is 64x64)
RENDER = 256        # render size before antialiased downsampling
TRAIN_PER_CLASS, TEST_PER_CLASS = 180, 20
DEFAULT_SEED = 2024

# Finger order in this file: index, middle, ring, little.
FINGER_LENGTH = np.array([0.95, 1.05, 0.98, 0.78])      # in palm widths, before a per-hand factor
FINGER_RADIUS = np.array([0.105, 0.11, 0.102, 0.088])  # in palm widths
KNUCKLE_U = np.array([0.36, 0.12, -0.12, -0.35])        # across the palm, thumb side positive
KNUCKLE_V = np.array([0.97, 1.0, 0.97, 0.88])           # up the palm, as a fraction of its length
PHALANX_SHARE = np.array([0.45, 0.30, 0.25])

SKIN_TONES = np.array([   # light to dark, RGB in [0, 1]
    [0.94, 0.80, 0.70], [0.87, 0.70, 0.58], [0.78, 0.59, 0.46],
    [0.66, 0.47, 0.34], [0.50, 0.34, 0.24], [0.38, 0.26, 0.19],
])
SKIN_WEIGHTS = np.array([0.26, 0.26, 0.2, 0.14, 0.08, 0.06])


def raised_fingers(label: int, rng: np.random.Generator) -> tuple[bool, np.ndarray]:
    """Which digits are raised for a class: (thumb, [index, middle, ring, little])."""
    if label == 0:
        return False, np.array([False] * 4)
    if label == 1:
        return False, np.array([True, False, False, False])
    if label == 2:
        return False, np.array([True, True, False, False])
    if label == 3:   # counting from the index finger; the thumb joins only for 5
        return False, np.array([True, True, True, False])
    if label == 4:
        return False, np.array([True] * 4)
    if label == 5:
        return True, np.array([True] * 4)
    raise ValueError(f"label must be 0..5, got {label}")


class Canvas:
    """A height map with one colour per pixel: the nearest part wins (a z-buffer)."""

    def __init__(self, size: int):
        self.size = size
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
        self.x, self.y = xs, ys
        self.height = np.full((size, size), -np.inf)
        self.colour = np.zeros((size, size, 3))

    def _paint(self, h: np.ndarray, colour: np.ndarray) -> None:
        nearer = h > self.height
        self.height[nearer] = h[nearer]
        self.colour[nearer] = colour

    def capsule(self, p0, p1, radius, depth, colour, flatten=0.8):
        """A cylinder with round ends from p0 to p1 (pixels), axis at the given depth."""
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        d = p1 - p0
        length2 = max(float(d @ d), 1e-9)
        t = np.clip(((self.x - p0[0]) * d[0] + (self.y - p0[1]) * d[1]) / length2, 0.0, 1.0)
        dist2 = (self.x - p0[0] - t * d[0]) ** 2 + (self.y - p0[1] - t * d[1]) ** 2
        inside = dist2 < radius * radius
        h = np.full(dist2.shape, -np.inf)
        h[inside] = depth + flatten * np.sqrt(radius * radius - dist2[inside])
        self._paint(h, colour)

    def palm(self, centre, axis_u, axis_v, half_width, half_length, thickness, colour):
        """A rounded, slightly tapered slab: wider at the knuckles than at the wrist."""
        dx, dy = self.x - centre[0], self.y - centre[1]
        u = dx * axis_u[0] + dy * axis_u[1]
        v = dx * axis_v[0] + dy * axis_v[1]
        taper = 0.86 + 0.14 * np.clip((v / half_length + 1) / 2, 0, 1)   # 0.86 at wrist, 1 at knuckles
        corner = 0.45 * half_width
        qu = np.abs(u / taper) - (half_width - corner)
        qv = np.abs(v) - (half_length - corner)
        outside = np.hypot(np.maximum(qu, 0), np.maximum(qv, 0)) + np.minimum(np.maximum(qu, qv), 0)
        sdf = outside - corner
        edge = 0.35 * half_width
        t = np.clip(-sdf / edge, 0, 1)
        dome = 1 - 0.25 * (u / half_width) ** 2
        h = np.where(sdf < 0, thickness * np.sqrt(1 - (1 - t) ** 2) * dome, -np.inf)
        self._paint(h, colour)


def _rot(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def draw_hand(canvas: Canvas, label: int, rng: np.random.Generator, skin: np.ndarray) -> None:
    """Draw one right hand showing `label` raised fingers, placed and posed at random."""
    S = canvas.size
    W = rng.uniform(0.38, 0.44) * S                  # palm width: the hand fills the frame, as in SIGNS
    palm_len = W * rng.uniform(0.95, 1.1)
    finger_scale = rng.uniform(0.85, 1.0) * W
    yaw = rng.uniform(0.82, 1.0)                     # turning the hand sideways narrows it
    back_view = rng.random() < 0.05                  # some photos show the back of the hand
    mirror = -1.0 if back_view else 1.0              # thumb side flips when the hand turns round
    spread = np.radians(rng.uniform(12, 20))
    angle = np.radians(np.clip(rng.normal(4, 6), -10, 15))     # tilt; the arm mostly enters bottom-right

    rot = _rot(-angle)

    def to_px(u, v, origin):
        """Hand coordinates (u across, v up, in pixels) to image pixels."""
        return origin + rot @ np.array([u * yaw * mirror, -v])

    thumb_up, fingers_up = raised_fingers(label, rng)
    sleeve = rng.random() < 0.3
    sleeve_colour = rng.uniform(0.1, 0.8, size=3) * rng.uniform(0.5, 1.0)

    # Lay the hand out at the origin first, then move it so it sits inside the frame.
    parts = []   # (kind, args) in hand coordinates; drawn after placement

    def capsule(u0, v0, u1, v1, r, depth, colour=skin, flatten=0.8):
        parts.append(("capsule", (u0, v0, u1, v1, r, depth, colour, flatten)))

    # Forearm, leaving the frame at the bottom.
    arm_r = 0.42 * W
    capsule(0, 0.2 * palm_len, rng.uniform(-0.15, 0.25) * W, -3.5 * W, arm_r, -0.18 * W, flatten=0.6)
    if sleeve:
        cut = rng.uniform(0.9, 1.6) * W
        capsule(0, -cut, 0.1 * W, -3.5 * W, arm_r * 1.18, -0.1 * W, colour=sleeve_colour, flatten=0.5)
    parts.append(("palm", (W / 2, palm_len / 2, 0.26 * W)))
    if not back_view:   # the fleshy base of the thumb
        capsule(0.3 * W, 0.15 * palm_len, 0.22 * W, 0.6 * palm_len, 0.2 * W, 0.02 * W, flatten=0.45)

    fan = np.array([1.4, 0.35, -0.65, -1.7]) * spread + rng.normal(0, 0.04, 4)
    lengths = FINGER_LENGTH * finger_scale * rng.uniform(0.93, 1.05, 4)
    for i in range(4):
        r = FINGER_RADIUS[i] * W
        ku, kv = KNUCKLE_U[i] * W, KNUCKLE_V[i] * palm_len
        if fingers_up[i]:
            direction = fan[i]
            u, v = ku, kv - 0.1 * W
            bend = rng.uniform(0, 0.12)   # a slightly curled finger looks shorter
            for j, share in enumerate(PHALANX_SHARE):
                seg = lengths[i] * share * (1 - bend * j)
                u1, v1 = u + seg * np.sin(direction), v + seg * np.cos(direction)
                capsule(u, v, u1, v1, r * (1 - 0.06 * j), 0.08 * W)
                u, v = u1, v1
            if back_view:   # a fingernail near the tip
                nail = np.array([np.sin(direction), np.cos(direction)])
                tip = np.array([u, v])
                a, b = tip - nail * 0.45 * r * 2.2, tip - nail * 0.25 * r
                capsule(*a, *b, 0.62 * r, 0.08 * W + 0.55 * r, colour=np.clip(skin * 1.12 + 0.05, 0, 1))
        elif back_view:    # only the knuckle row shows; the curled finger is behind the palm
            capsule(ku, kv - 0.2 * W, ku, kv + 0.08 * W, r * 1.05, 0.12 * W)
        else:              # curled towards the camera, lying over the top of the palm
            drop = rng.uniform(0.35, 0.5) * W
            capsule(ku, kv + 0.06 * W, ku - 0.02 * W, kv - drop, r * 1.08, 0.3 * W + r, flatten=0.85)

    # The thumb: raised outwards, or folded across the palm (in front of the curled fingers).
    tr = 0.12 * W
    bu, bv = 0.42 * W, 0.28 * palm_len
    if thumb_up:
        direction = np.radians(rng.uniform(35, 70))
        seg = np.array([0.5, 0.36]) * W * rng.uniform(0.9, 1.1)
        u1, v1 = bu + seg[0] * np.sin(direction), bv + seg[0] * np.cos(direction)
        direction2 = direction - np.radians(rng.uniform(0, 20))
        u2, v2 = u1 + seg[1] * np.sin(direction2), v1 + seg[1] * np.cos(direction2)
        capsule(bu, bv, u1, v1, tr * 1.1, 0.1 * W)
        capsule(u1, v1, u2, v2, tr, 0.1 * W)
    elif back_view:
        capsule(bu, bv, 0.52 * W, 0.75 * palm_len, tr, -0.02 * W)
    else:
        end_u = rng.uniform(-0.2, 0.05) * W
        end_v = rng.uniform(0.55, 0.7) * palm_len
        mid_u, mid_v = 0.35 * W, 0.55 * palm_len
        capsule(bu, bv, mid_u, mid_v, tr * 1.15, 0.35 * W)
        capsule(mid_u, mid_v, end_u, end_v, tr, 0.62 * W + tr)

    # Place: everything but the forearm must fit inside the frame, with a little margin.
    pts = []
    for kind, a in parts[1 + sleeve:]:
        if kind == "capsule":
            pts += [to_px(a[0], a[1], np.zeros(2)), to_px(a[2], a[3], np.zeros(2))]
        else:
            pts += [to_px(sx * a[0], sy * 2 * a[1], np.zeros(2)) for sx in (-1, 1) for sy in (0, 1)]
    pts = np.array(pts)
    lo, hi = pts.min(0) - 0.12 * W, pts.max(0) + 0.12 * W
    span = hi - lo
    margin = 0.02 * S
    origin = np.array([
        rng.uniform(margin - lo[0], max(margin - lo[0], S - margin - hi[0])),
        rng.uniform(margin - lo[1], max(margin - lo[1], S - 0.02 * S - hi[1] + 0.1 * span[1])),
    ])

    axis_v = rot @ np.array([0.0, -1.0])
    axis_u = rot @ np.array([yaw * mirror, 0.0])
    axis_u /= np.linalg.norm(axis_u)
    for kind, a in parts:
        if kind == "capsule":
            u0, v0, u1, v1, r, depth, colour, flatten = a
            radius = r * (0.85 + 0.15 * yaw)
            canvas.capsule(to_px(u0, v0, origin), to_px(u1, v1, origin), radius, depth, colour, flatten)
        else:
            half_w, half_l, thick = a
            canvas.palm(to_px(0, half_l, origin), axis_u, axis_v, half_w * yaw, half_l, thick, skin)


def gaussian_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float64 array (edges replicated)."""
    radius = int(3 * sigma) + 1
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(a, radius, mode="edge")
    rows = sum(w * padded[:, i:i + a.shape[1]] for i, w in enumerate(k))
    return sum(w * rows[i:i + a.shape[0], :] for i, w in enumerate(k))


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid upsampled bilinearly."""
    grid = rng.uniform(-1, 1, (cells + 1, cells + 1))
    img = Image.fromarray(grid.astype(np.float32)).resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.float64)


def render(label: int, rng: np.random.Generator, out_size: int = FINAL) -> np.ndarray:
    """One RGB uint8 image of a hand showing `label` raised fingers."""
    S = RENDER
    skin = SKIN_TONES[rng.choice(len(SKIN_TONES), p=SKIN_WEIGHTS)]
    skin = np.clip(skin * rng.uniform(0.92, 1.08) + rng.normal(0, 0.02, 3), 0, 1)
    canvas = Canvas(S)
    draw_hand(canvas, label, rng, skin)

    # Light: mostly from above, sometimes from the side.
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.8, -0.1), 1.0])
    light /= np.linalg.norm(light)
    covered = np.isfinite(canvas.height)
    # A slightly blurred height map: creases between parts become soft, as on a real hand.
    h = np.where(covered, canvas.height, 0.0)
    h = gaussian_blur(h, 1.5)
    gy, gx = np.gradient(h)
    gx, gy = np.clip(gx, -2, 2), np.clip(gy, -2, 2)
    normal_z = 1 / np.sqrt(1 + gx ** 2 + gy ** 2)
    lambert = np.clip((-gx * light[0] - gy * light[1] + light[2]) * normal_z, 0, 1)
    ambient = rng.uniform(0.35, 0.5)
    shade = ambient + (1 - ambient) * lambert
    specular = 0.12 * lambert ** 12
    # Shadows on skin go slightly redder, as light scatters inside it.
    hand = canvas.colour * shade[..., None] * np.array([1.0, 0.96, 0.93]) ** (1 - shade[..., None]) * 1.0
    hand += specular[..., None]

    # The wall: off-white/beige, unevenly lit, faintly textured; the hand casts a soft shadow on it.
    base = np.array([0.88, 0.84, 0.76]) + rng.normal(0, 0.015, 3) + rng.uniform(-0.1, 0.05)
    if rng.random() < 0.2:   # some walls are grey or cooler
        base = np.full(3, rng.uniform(0.7, 0.9)) + rng.normal(0, 0.01, 3)
    yy, xx = canvas.y / S - 0.5, canvas.x / S - 0.5
    gradient = 1 + rng.uniform(-0.12, 0.12) * xx + rng.uniform(-0.15, 0.08) * yy - 0.25 * (xx ** 2 + yy ** 2)
    texture = 0.03 * _smooth_noise(rng, S, 6) + 0.012 * _smooth_noise(rng, S, 40)
    wall = base[None, None, :] * (gradient + texture)[..., None]
    shift = (int(round(-light[0] * rng.uniform(4, 14))), int(round(-light[1] * rng.uniform(4, 14))))
    shadow = np.roll(covered.astype(np.float32), shift, axis=(1, 0))
    shadow_img = Image.fromarray((shadow * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(4, 10)))
    wall *= (1 - rng.uniform(0.1, 0.3) * np.asarray(shadow_img, np.float64)[..., None] / 255)

    # Soft silhouette: the z-buffer edge is hard, so blend over a pixel-wide blur of the mask.
    mask = Image.fromarray((covered * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    alpha = np.asarray(mask, np.float64)[..., None] / 255
    img = alpha * hand + (1 - alpha) * wall

    # Camera: white balance, exposure, blur, downsample, sensor noise.
    img = img * rng.uniform(0.96, 1.04, 3) * rng.uniform(0.85, 1.1)
    img = np.clip(img, 0, 1) ** rng.uniform(0.85, 1.15)
    pil = Image.fromarray(np.round(img * 255).astype(np.uint8))
    pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
    pil = pil.resize((out_size, out_size), Image.LANCZOS)
    out = np.asarray(pil, np.float64) + rng.normal(0, rng.uniform(1, 3), (out_size, out_size, 3))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def split_plan(n_per_class: int, seed: int, split: str):
    """Labels (balanced, shuffled) and one independent random stream per image of a split."""
    key = [seed, {"train": 0, "test": 1}[split]]
    labels = np.random.default_rng(key).permutation(np.repeat(CLASSES, n_per_class))
    return labels, np.random.SeedSequence(key).spawn(len(labels))


def make_split(n_per_class: int, seed: int, split: str, progress=None, indices=None):
    """Render a split, or only the images at ``indices`` (each image has its own stream)."""
    labels, streams = split_plan(n_per_class, seed, split)
    indices = range(len(labels)) if indices is None else indices
    x = np.empty((len(indices), FINAL, FINAL, 3), np.uint8)
    for k, i in enumerate(indices):
        x[k] = render(int(labels[i]), np.random.default_rng(streams[i]))
        if progress is not None:
            progress.update(1)
    return x, labels[list(indices)].astype(np.int64)


def make_stress_set(per_class: int = 50, seed: int = DEFAULT_SEED):   # placeholder: replaced by the real stress generator
    return make_split(per_class, seed + 1000, "test")


def write_h5_atomic(path: Path, split: str, x: np.ndarray, y: np.ndarray) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written dataset."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".h5.tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset(f"{split}_set_x", data=x)
            f.create_dataset(f"{split}_set_y", data=y)
            f.create_dataset("list_classes", data=CLASSES)
        os.chmod(tmp, 0o644)   # mkstemp makes it private; a dataset is for everyone
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def make_my_image(seed: int, path: Path, label: int = 2) -> None:
    """A larger "photo" of a hand that is in neither split, for the predict-your-own-image cell."""
    arr = render(label, np.random.default_rng([seed, 99]), out_size=256)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.jpg")
    Image.fromarray(arr).save(tmp, quality=92)
    os.replace(tmp, path)


def main(argv=None) -> None:
    from tqdm import tqdm

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=REPO / "datasets", help="folder for the .h5 files")
    parser.add_argument("--images", type=Path, default=REPO / "images",
                        help="folder for my_image.jpg and signs_samples.png")
    parser.add_argument("--no-images", action="store_true", help="write only the .h5 files")
    args = parser.parse_args(argv)

    total = len(CLASSES) * (TRAIN_PER_CLASS + TEST_PER_CLASS)
    with tqdm(total=total, desc="rendering hands", unit="img") as bar:
        train = make_split(TRAIN_PER_CLASS, args.seed, "train", bar)
        test = make_split(TEST_PER_CLASS, args.seed, "test", bar)
    write_h5_atomic(args.out / "train_signs.h5", "train", *train)
    write_h5_atomic(args.out / "test_signs.h5", "test", *test)
    print(f"wrote {args.out / 'train_signs.h5'} and {args.out / 'test_signs.h5'}")
    if not args.no_images:
        import matplotlib
        matplotlib.use("Agg")
        import resnets_utils

        make_my_image(args.seed, args.images / "my_image.jpg")
        fig = resnets_utils.plot_samples(train[0], train[1], per_class=6)
        resnets_utils.save_fig(fig, "signs_samples", folder=args.images, dpi=80)
        print(f"wrote {args.images / 'my_image.jpg'} and {args.images / 'signs_samples.png'}")


if __name__ == "__main__":
    main()
