"""Generate the course's SIGNS-format hand-sign dataset: rendered photographs of the ASL numerals 0-5.

    python datasets/make_signs.py            # writes datasets/*.h5, images/my_image.jpg, images/signs_samples.png

The original SIGNS photos (one right hand against a plain light wall, showing an American Sign
Language numeral) cannot be downloaded here, so the course renders them, in exactly the same file format:

    train_signs.h5: train_set_x (1080, 64, 64, 3) uint8, train_set_y (1080,) int64, list_classes (6,) int64
    test_signs.h5:  test_set_x  (120, 64, 64, 3)  uint8, test_set_y  (120,)  int64, list_classes (6,) int64

How a picture is made:
- **A hand in 3D.** A palm, a forearm and five fingers of three phalanges each, posed by joint angles:
  each class has its sign's pose (0 is an "O", 3 is thumb + index + middle, 4 folds the thumb across
  the palm), and every hand varies: spread, curl, finger lengths, wrist bend, a 3D turn of the wrist,
  in-plane tilt, size and position.
- **Rendered as a photograph.** The hand is a signed-distance field (tapered capsules, a rounded palm,
  blended smoothly), ray-marched in NumPy at twice the final size. It is shaded with a soft key light, a
  skin-like wrap term, light scattered under the skin, occlusion in the creases, paler palms, nails and
  palm lines, and casts a soft shadow on a plain, unevenly lit wall. A camera step then sets the white
  balance, exposure and gamma, defocuses slightly, downsamples to 64x64 and adds sensor noise.
- **A stress set** (`make_stress_set`, never written to the data files) draws from a shifted
  distribution: tilts up to 45 degrees either way, smaller and off-centre hands, coloured walls, side
  lights and tinted light, more side views. A model that only learned the training set's habits fails it.
- **The training images vary as widely** (domain randomisation): each one shifts each of those five
  factors with probability TRAIN_SHIFT_RATE (1/4), so about a quarter of them shift none. Real photos tilt
  up to 45 degrees and frame the hand loosely; a model that has seen such hands reads them better. The
  test images shift nothing, so the test score measures the course's plain photographs.

Same seed -> byte-identical arrays on any x86-64 CPU: every image has its own NumPy PCG64 stream, the
per-pixel arithmetic is +, -, *, /, sqrt, min and max (correctly rounded everywhere, with or without
AVX-512), and the few transcendental functions (of scalars) are rounded to 12 decimals.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parent.parent
CLASSES = np.arange(6, dtype=np.int64)
FINAL = 64          # output size (SIGNS is 64x64)
SUPERSAMPLE = 2     # rendered at twice the size, then downsampled with antialiasing
TRAIN_PER_CLASS, TEST_PER_CLASS, STRESS_PER_CLASS = 180, 20, 50
DEFAULT_SEED = 2024
SPLIT_KEYS = {"train": 0, "test": 1, "stress": 2}
STRESS_FACTORS = ("tilt", "size", "wall", "light", "turn")   # what the stress set shifts
TRAIN_SHIFT_RATE = 0.25   # how often a training image shifts each of them (`train_plan`)


# ---- scalar geometry (Python floats: the same bits on every CPU) -----------------------------------

def stable(x: float) -> float:
    """A transcendental function's result, rounded so that every libm and CPU gives the same bits."""
    return round(float(x), 12)


def sin(a: float) -> float:
    return stable(math.sin(a))


def cos(a: float) -> float:
    return stable(math.cos(a))


def radians(degrees: float) -> float:
    return degrees * math.pi / 180.0


def unit(v):
    norm = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return (v[0] / norm, v[1] / norm, v[2] / norm)


def matmul3(a, b):
    return tuple(tuple(a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j] for j in range(3)) for i in range(3))


def rotate(m, v):
    return tuple(m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2] for i in range(3))


def rotation(yaw: float, pitch: float, roll: float):
    """Turn about the vertical axis (yaw), tip towards the camera (pitch), tilt in the picture (roll); degrees."""
    cy, sy = cos(radians(yaw)), sin(radians(yaw))
    cp, sp = cos(radians(pitch)), sin(radians(pitch))
    cr, sr = cos(radians(roll)), sin(radians(roll))
    turn = ((cy, 0, sy), (0, 1, 0), (-sy, 0, cy))
    tip = ((1, 0, 0), (0, cp, -sp), (0, sp, cp))
    tilt = ((cr, -sr, 0), (sr, cr, 0), (0, 0, 1))
    return matmul3(tilt, matmul3(tip, turn))


# ---- the hand and its poses --------------------------------------------------------------------------
# The hand's own frame: x across the palm (thumb side positive), y up the fingers, z out of the palm
# (towards the camera when the palm faces it). Unit: one palm width. The wrist is at the origin.

KNUCKLES = ((0.31, 1.0, 0.0), (0.10, 1.04, 0.0), (-0.11, 1.0, 0.0), (-0.30, 0.9, 0.0))   # index ... little
PHALANGES = ((0.46, 0.28, 0.22), (0.52, 0.32, 0.23), (0.48, 0.30, 0.22), (0.37, 0.22, 0.19))
FINGER_RADII = ((0.105, 0.095, 0.085), (0.108, 0.098, 0.087), (0.102, 0.092, 0.083), (0.088, 0.08, 0.073))
SPLAY = (13.0, 3.0, -8.0, -19.0)      # degrees each finger leans away from the middle when the hand spreads
THUMB_BASE = (0.34, 0.14, 0.06)
THUMB_LENGTHS = (0.40, 0.30, 0.25)
THUMB_RADII = (0.13, 0.115, 0.1)
RAISED = {1: (1, 0, 0, 0), 2: (1, 1, 0, 0), 3: (1, 1, 0, 0), 4: (1, 1, 1, 1), 5: (1, 1, 1, 1)}   # index ... little


def finger_chain(base, lengths, lean_degrees, flex_degrees):
    """Joint positions of a finger that leans by `lean` in the palm's plane and bends each joint towards
    the palm by `flex` (the angles add up along the finger, as real joints do); also the direction the
    back of each phalanx faces, where its nail is."""
    a = radians(lean_degrees)
    up = (sin(a), cos(a), 0.0)
    points, backs, theta, p = [base], [], 0.0, base
    for length, flex in zip(lengths, flex_degrees):
        theta += radians(flex)
        c, s = cos(theta), sin(theta)
        p = (p[0] + length * up[0] * c, p[1] + length * up[1] * c, p[2] + length * s)
        points.append(p)
        backs.append((up[0] * s, up[1] * s, -c))
    return points, backs


def curve_chain(base, control, tip, lengths):
    """A thumb laid along the curve base-control-tip (a quadratic Bezier), its joints spaced by length."""
    total, points, along = sum(lengths), [base], 0.0
    for length in lengths:
        along += length
        t = along / total
        points.append(tuple((1 - t) * (1 - t) * b + 2 * (1 - t) * t * c + t * t * e
                            for b, c, e in zip(base, control, tip)))
    return points


def pose(label: int, rng: np.random.Generator):
    """The five digits of a right hand showing `label` in ASL: [(joints, radii, backs)], index to little, thumb."""
    if label not in range(6):
        raise ValueError(f"label must be 0..5, got {label}")
    spread = rng.uniform(0.75, 1.35)
    if label == 0:   # an "O": every finger curves round to meet the thumb's tip
        curl = rng.uniform(0.85, 1.15)
        flexes = [(rng.uniform(30, 45) * curl, rng.uniform(50, 65) * curl, rng.uniform(25, 40) * curl)
                  for _ in range(4)]
    else:
        flexes = [(rng.uniform(-4, 10), rng.uniform(0, 12), rng.uniform(0, 10)) if raised
                  else (rng.uniform(70, 88), rng.uniform(95, 110), rng.uniform(45, 65))
                  for raised in RAISED[label]]
    length_factor = rng.uniform(0.92, 1.08)
    digits, tips = [], []
    for i in range(4):
        lean = SPLAY[i] * (0.3 if label == 0 else spread)
        if label == 2 and i < 2:   # the V
            lean = (14.0 if i == 0 else -8.0) * spread
        lengths = [x * length_factor * rng.uniform(0.96, 1.04) for x in PHALANGES[i]]
        joints, backs = finger_chain(KNUCKLES[i], lengths, lean + rng.uniform(-2, 2), flexes[i])
        digits.append((joints, FINGER_RADII[i], backs))
        tips.append(joints[-1])

    base = THUMB_BASE
    if label in (3, 5):            # out to the side
        a, bend = radians(rng.uniform(35, 60)), radians(rng.uniform(0, 15))
        forward = rng.uniform(0.05, 0.35)
        d1, d2 = unit((sin(a), cos(a), forward)), unit((sin(a - bend), cos(a - bend), forward))
        p1 = tuple(base[k] + THUMB_LENGTHS[0] * d1[k] for k in range(3))
        p2 = tuple(p1[k] + THUMB_LENGTHS[1] * d2[k] for k in range(3))
        p3 = tuple(p2[k] + THUMB_LENGTHS[2] * d2[k] for k in range(3))
        thumb = [base, p1, p2, p3]
    elif label == 4:               # folded across the palm
        tip = (rng.uniform(-0.2, 0.0), rng.uniform(0.45, 0.6), 0.2)
        thumb = curve_chain(base, (0.42, 0.55, 0.22), tip, THUMB_LENGTHS)
    elif label in (1, 2):          # holding the folded fingers down
        tip = (rng.uniform(-0.15, 0.02), rng.uniform(0.68, 0.8), rng.uniform(0.42, 0.5))
        thumb = curve_chain(base, (0.4, 0.6, 0.35), tip, THUMB_LENGTHS)
    else:                          # 0: the thumb's tip meets the index and middle fingertips
        tip = tuple((tips[0][k] + tips[1][k]) / 2 for k in range(3))
        thumb = curve_chain(base, (0.45, 0.55, tip[2] + 0.15), tip, THUMB_LENGTHS)
    digits.append((thumb, THUMB_RADII, [(0.0, 0.0, -1.0)] * 3))
    return digits


def pose_angles(label: int, rng: np.random.Generator, shifted: frozenset):
    """How the hand is held: yaw (turned sideways), pitch and in-plane roll, in degrees."""
    if label == 0:   # the "O" is shown from the side, so that the ring's hole shows
        yaw = rng.choice([-1.0, 1.0], p=[0.3, 0.7]) * rng.uniform(40, 80)
    elif label in (1, 2):
        yaw = rng.uniform(-45, 45)
    else:            # 3, 4 and 5: palm mostly towards the camera
        yaw = float(np.clip(rng.normal(0, 14), -35, 35))
    if "turn" in shifted:   # more side views
        yaw = float(np.clip(yaw * 1.4 + rng.uniform(-20, 20), -85, 85))
    if "tilt" in shifted:
        roll = rng.uniform(-45, 45)
    else:            # leaning left, the forearm coming in from the bottom right, is the most common
        roll = float(np.clip(rng.normal(10, 16), -35, 45))
    pitch = float(np.clip(rng.normal(0, 9), -20, 20))
    return yaw, pitch, roll


# ---- the signed-distance field ----------------------------------------------------------------------

def smooth_min(a, b, k):
    """Polynomial smooth minimum: joins two shapes with a fillet about k wide (no exp, so bit-stable)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def length3(x, y, z):
    return np.sqrt(x * x + y * y + z * z)


class HandField:
    """Distance from points (in the hand's frame) to the hand's skin; negative inside.

    Every part's distance is a lower bound of the true one, so that ray marching never steps through skin.
    """

    def __init__(self, digits, arm_direction):
        segments = [(*joints[j], *joints[j + 1], radii[j], radii[j + 1] if j < 2 else 0.92 * radii[j])
                    for joints, radii, _ in digits for j in range(3)]
        s = np.array(segments)
        self.a, self.ba = s[:, 0:3], s[:, 3:6] - s[:, 0:3]
        self.length2 = self.ba[:, 0] * self.ba[:, 0] + self.ba[:, 1] * self.ba[:, 1] + self.ba[:, 2] * self.ba[:, 2]
        self.r0, self.r1 = s[:, 6], s[:, 7]
        self.backs = [back for _, _, backs in digits for back in backs]
        self.n_digits = len(digits)
        self.arm = arm_direction

    def along(self, j, x, y, z):
        """Where points lie along segment j: 0 at its base joint, 1 at its far joint."""
        a, ba = self.a[j], self.ba[j]
        return ((x - a[0]) * ba[0] + (y - a[1]) * ba[1] + (z - a[2]) * ba[2]) / self.length2[j]

    def palm_and_arm(self, x, y, z):
        # The palm: a rounded slab, narrower at the wrist; the ball of the thumb (an ellipsoid) blended in.
        taper = 0.86 + 0.14 * np.clip(y, 0.0, 1.0)
        qx, qy, qz = np.abs(x / taper) - 0.36, np.abs(y - 0.5) - 0.42, np.abs(z) - 0.04
        outside = length3(np.maximum(qx, 0), np.maximum(qy, 0), np.maximum(qz, 0))
        palm = (outside + np.minimum(np.maximum(qx, np.maximum(qy, qz)), 0.0) - 0.12) * 0.86
        ex, ey, ez = (x - 0.27) / 0.2, (y - 0.3) / 0.3, (z - 0.04) / 0.15
        k0 = length3(ex, ey, ez)
        thenar = k0 * (k0 - 1.0) / np.maximum(length3(ex / 0.2, ey / 0.3, ez / 0.15), 1e-9)
        palm = smooth_min(palm, thenar, 0.08)
        # The forearm: flattened, widening from the wrist, leaving the picture.
        ax, ay, az = self.arm
        h = np.clip(x * ax + (y - 0.1) * ay + z * az, 0.0, 12.0)
        radius = 0.31 + 0.12 * np.minimum(h / 2.0, 1.0)
        # Flattening stretches distances by up to 1.45: dividing keeps this a lower bound.
        arm = (length3(x - h * ax, y - 0.1 - h * ay, (z - h * az) * 1.45) - radius) / 1.45
        return smooth_min(palm, arm, 0.12)

    def segments(self, x, y, z):
        """Distance to every phalanx, (points, segments): tapered capsules."""
        px, py, pz = x[:, None] - self.a[:, 0], y[:, None] - self.a[:, 1], z[:, None] - self.a[:, 2]
        bx, by, bz = self.ba[:, 0], self.ba[:, 1], self.ba[:, 2]
        h = np.clip((px * bx + py * by + pz * bz) / self.length2, 0.0, 1.0)
        return length3(px - h * bx, py - h * by, pz - h * bz) - (self.r0 + (self.r1 - self.r0) * h)

    def __call__(self, x, y, z):
        d = self.palm_and_arm(x, y, z)
        digits = self.segments(x, y, z).reshape(len(x), self.n_digits, 3).min(axis=2)
        for i in range(self.n_digits):   # fingers join the palm smoothly, but do not melt into each other
            d = smooth_min(d, digits[:, i], 0.05)
        return d

    def normals(self, x, y, z, eps):
        nx = self(x + eps, y, z) - self(x - eps, y, z)
        ny = self(x, y + eps, z) - self(x, y - eps, z)
        nz = self(x, y, z + eps) - self(x, y, z - eps)
        norm = np.maximum(length3(nx, ny, nz), 1e-12)
        return nx / norm, ny / norm, nz / norm


# ---- the camera ---------------------------------------------------------------------------------------

MARCH_STEPS = 80


def place(digits, R, rng: np.random.Generator, size: int, smaller: bool):
    """Scale (pixels per palm width) and position: the hand's longer side spans 68-92% of the frame
    (about 40-70% of its area), inside it, with the wrist low; ``smaller``: 50-68%, anywhere."""
    points = [(sx * 0.48, y, 0.0) for sx in (-1, 1) for y in (0.0, 1.0)]
    points += [p for joints, _, _ in digits for p in joints]
    turned = np.array([rotate(R, p) for p in points])
    lo, hi = turned.min(0) - 0.12, turned.max(0) + 0.12
    fill = rng.uniform(0.5, 0.68) if smaller else rng.uniform(0.68, 0.92)
    scale = fill * size / float(max(hi[0] - lo[0], hi[1] - lo[1]))
    margin = 0.03 * size
    x_lo, x_hi = margin - scale * lo[0], size - margin - scale * hi[0]
    y_lo, y_hi = margin - scale * lo[1], size - margin - scale * hi[1]
    if not smaller:   # the wrist low in the frame, as when the elbow rests on a table
        y_hi = min(y_hi, max(y_lo, 0.3 * size - scale * lo[1]))
    offset = (rng.uniform(x_lo, max(x_lo, x_hi)), rng.uniform(y_lo, max(y_lo, y_hi)))
    depth = (scale * (hi[2] + 0.6), scale * (lo[2] - 3.0))   # front and back; the forearm may lean back
    return scale, offset, depth


def march(field: HandField, R, scale: float, offset, depth, size: int):
    """Sphere-trace one orthographic ray per pixel, straight into the picture.

    Returns which pixels hit skin and, for those, the hit points in the hand's frame.
    """
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    ox, oy, oz = xs.ravel() - offset[0], (size - ys).ravel() - offset[1], depth[0]
    # The hand's frame is the picture's, turned by R and scaled: R is a rotation, so its inverse is R^T.
    hx = (R[0][0] * ox + R[1][0] * oy + R[2][0] * oz) / scale
    hy = (R[0][1] * ox + R[1][1] * oy + R[2][1] * oz) / scale
    hz = (R[0][2] * ox + R[1][2] * oy + R[2][2] * oz) / scale
    dx, dy, dz = -R[2][0] / scale, -R[2][1] / scale, -R[2][2] / scale
    t = np.zeros(size * size)
    hit = np.zeros(size * size, bool)
    active = np.arange(size * size)
    for step in range(MARCH_STEPS):
        ta = t[active]
        dist = field(hx[active] + ta * dx, hy[active] + ta * dy, hz[active] + ta * dz) * scale
        # A ray grazing the skin creeps along it; after the last step, a pixel's width away counts as a hit.
        done = dist < (0.25 if step < MARCH_STEPS - 1 else 2.0)
        hit[active[done]] = True
        t[active] = ta + np.where(done, 0.0, 0.85 * dist)
        active = active[~done & (t[active] < depth[0] - depth[1])]
        if active.size == 0:
            break
    where = np.flatnonzero(hit)
    return hit.reshape(size, size), (hx[where] + t[where] * dx, hy[where] + t[where] * dy, hz[where] + t[where] * dz)


# ---- skin, light, wall, camera ----------------------------------------------------------------------

SKIN_TONES = np.array([   # light to dark, RGB in [0, 1]
    [0.95, 0.78, 0.67], [0.89, 0.68, 0.55], [0.80, 0.58, 0.44],
    [0.67, 0.46, 0.33], [0.52, 0.34, 0.24], [0.38, 0.25, 0.18],
])
SKIN_WEIGHTS = np.array([0.24, 0.24, 0.2, 0.14, 0.1, 0.08])
PALM_TONE = np.array([0.93, 0.74, 0.64])
NAIL_TONE = np.array([0.96, 0.8, 0.76])
UNDER_SKIN = np.array([1.0, 0.78, 0.68])   # the colour of light scattered under the skin
OTHER_WALLS = np.array([[0.55, 0.4, 0.28], [0.45, 0.55, 0.65], [0.5, 0.6, 0.45], [0.35, 0.35, 0.38],
                         [0.75, 0.55, 0.55], [0.9, 0.9, 0.92]])


def skin_albedo(field: HandField, points, normal, skin):
    """The skin's colour at each hit point: paler palms, nails on the backs of the fingertips,
    darker palm lines and finger creases. Returns the colours and how nail-like each point is."""
    x, y, z = points
    nx, ny, nz = normal
    palm_tone = skin + (PALM_TONE - skin) * (0.15 + 0.5 * (1 - skin.mean()))   # most visible on dark skin
    albedo = skin + (palm_tone - skin) * np.clip(nz * 1.5 + 0.5, 0, 1)[:, None]
    segments = field.segments(x, y, z)
    nearest = segments.argmin(axis=1)
    lines = np.minimum(np.minimum(np.abs(y - (0.66 + 0.12 * x)),                                    # heart line
                                  np.abs(y - (0.52 - 0.16 * x)) + np.maximum(x - 0.25, 0)),         # head line
                       np.abs(np.sqrt((x - 0.45) * (x - 0.45) + (y - 0.05) * (y - 0.05)) - 0.42)    # life line
                       + np.maximum(0.15 - y, 0))
    on_palm = segments.min(axis=1) > 0.03
    crease = on_palm * np.clip(1 - lines / 0.04, 0, 1) * np.clip(nz * 2, 0, 1) * 0.7
    nail = np.zeros(len(x))
    for j in range(12):   # the four fingers' phalanges
        sel = nearest == j
        if not sel.any():
            continue
        along = field.along(j, x[sel], y[sel], z[sel])
        back = field.backs[j]
        facing = nx[sel] * back[0] + ny[sel] * back[1] + nz[sel] * back[2]
        if j % 3 == 2:
            nail[sel] = np.clip((facing - 0.45) * 4, 0, 1) * np.clip((along - 0.3) * 5, 0, 1)
        if j % 3:   # the crease of the joint below this phalanx, on the palm side
            joint = np.clip(1 - np.abs(along - 0.02) / 0.08, 0, 1) * np.clip(-facing * 2, 0, 1)
            crease[sel] = np.maximum(crease[sel], joint)
    nail_colour = skin + (NAIL_TONE - skin) * 0.55
    albedo = albedo + (nail_colour - albedo) * nail[:, None]
    return albedo * (1 - 0.14 * crease)[:, None], nail


def occlusion(field: HandField, points, normal):
    """Ambient occlusion: how much of the hand lies just above the surface (creases, between fingers)."""
    ao = np.ones(len(points[0]))
    for k, step in enumerate((0.04, 0.09, 0.16)):
        d = field(*(p + n * step for p, n in zip(points, normal)))
        ao -= (step - d) * (2.2 / (k + 1))
    return np.clip(ao, 0.25, 1.0)


def moved(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Move an image by (dx, dy) pixels, repeating its edges (an arm's shadow goes on below the frame)."""
    h, w = a.shape
    p = np.pad(a, ((abs(dy), abs(dy)), (abs(dx), abs(dx))), mode="edge")
    return p[abs(dy) - dy:abs(dy) - dy + h, abs(dx) - dx:abs(dx) - dx + w]


def binomial_blur(a: np.ndarray, passes: int) -> np.ndarray:
    """Blur with the kernel [1, 4, 6, 4, 1] / 16 in both directions (exact arithmetic, any CPU)."""
    for _ in range(passes):
        p = np.pad(a, 2, mode="edge")
        a = (p[:-4] + 4 * p[1:-3] + 6 * p[2:-2] + 4 * p[3:-1] + p[4:]) / 16
        a = (a[:, :-4] + 4 * a[:, 1:-3] + 6 * a[:, 2:-2] + 4 * a[:, 3:-1] + a[:, 4:]) / 16
    return a


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid upsampled bilinearly."""
    grid = rng.uniform(-1, 1, (cells + 1, cells + 1))
    img = Image.fromarray(grid.astype(np.float32)).resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.float64)


def wall(rng: np.random.Generator, size: int, other: bool) -> np.ndarray:
    """A plain wall, light and warm (in the stress set often coloured or dark), unevenly lit."""
    if other and rng.random() < 0.6:
        base = np.clip(OTHER_WALLS[rng.integers(len(OTHER_WALLS))] + rng.normal(0, 0.05, 3), 0, 1)
    elif not other and rng.random() < 0.2:   # now and then a painted wall, so that the wall tells nothing
        light_wall = np.array([0.88, 0.85, 0.8])
        base = np.clip(light_wall + (OTHER_WALLS[rng.integers(len(OTHER_WALLS))] - light_wall) * rng.uniform(0.3, 0.8)
                       + rng.normal(0, 0.02, 3), 0, 1)
    elif rng.random() < 0.25:   # whiter or greyer
        base = np.full(3, rng.uniform(0.72, 0.93)) + rng.normal(0, 0.008, 3)
    else:                       # off-white to beige
        base = np.array([0.90, 0.86, 0.79]) + rng.normal(0, 0.008, 3) + rng.uniform(-0.14, 0.06)
    ys, xs = np.mgrid[0:size, 0:size] / size - 0.5
    gradient = 1 + rng.uniform(-0.15, 0.15) * xs + rng.uniform(-0.15, 0.1) * ys - 0.3 * (xs * xs + ys * ys)
    texture = 0.025 * smooth_noise(rng, size, 5) + 0.01 * smooth_noise(rng, size, 30)
    return base * (gradient + texture)[..., None]


def render(label: int, rng: np.random.Generator, out_size: int = FINAL, stress=False) -> np.ndarray:
    """One RGB uint8 photograph-like image of a right hand showing `label` in ASL.

    ``stress`` shifts the distribution: True for all of STRESS_FACTORS, or a collection of some of them.
    """
    shifted = frozenset(STRESS_FACTORS if stress is True else stress or ())
    if not shifted <= set(STRESS_FACTORS):
        raise ValueError(f"stress factors are {STRESS_FACTORS}, got {sorted(shifted)}")
    size = out_size * SUPERSAMPLE
    digits = pose(label, rng)
    bend = radians(rng.uniform(-8, 28))   # the wrist's sideways bend: the forearm leans right
    field = HandField(digits, unit((sin(bend), -cos(bend), -rng.uniform(0.0, 0.3))))
    R = rotation(*pose_angles(label, rng, shifted))
    scale, offset, depth = place(digits, R, rng, size, "size" in shifted)
    hit, points = march(field, R, scale, offset, depth, size)
    normal = field.normals(*points, eps=0.5 / scale)
    facing_camera = [R[i][0] * normal[0] + R[i][1] * normal[1] + R[i][2] * normal[2] for i in range(3)]

    tone = SKIN_TONES[rng.choice(len(SKIN_TONES), p=SKIN_WEIGHTS)]
    skin = np.clip(tone * rng.uniform(0.93, 1.07) + rng.normal(0, 0.015, 3), 0, 1)
    albedo, nail = skin_albedo(field, points, normal, skin)
    ao = occlusion(field, points, normal)

    # Light: a soft key light from the front, a sky-like ambient from above, a faint sheen.
    light = unit((rng.uniform(-0.7, 0.7), rng.uniform(0.1, 0.9), 1.0))
    if rng.random() < (0.5 if "light" in shifted else 0.15):   # a strong side light
        light = unit((rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 1.6), rng.uniform(-0.3, 0.9), 1.0))
    light_colour = np.array([1.0, 0.98, 0.94]) + rng.normal(0, 0.01, 3)
    if "light" in shifted and rng.random() < 0.5:   # tungsten or daylight
        light_colour = light_colour * np.array([[1.0, 0.85, 0.65], [0.8, 0.9, 1.05], [1.0, 1.0, 1.0]][rng.integers(3)])
    n_dot_l = sum(facing_camera[i] * light[i] for i in range(3))
    diffuse = np.clip((n_dot_l + 0.4) / 1.4, 0, 1)    # "wrap" lighting: skin lets light round the terminator
    ambient = (rng.uniform(0.15, 0.45) if "light" in shifted else rng.uniform(0.28, 0.42)) * (0.8 + 0.2 * facing_camera[1])
    half = unit((light[0], light[1], light[2] + 1.0))
    sheen = np.clip(sum(facing_camera[i] * half[i] for i in range(3)), 0, 1)
    for _ in range(4):   # sheen ** 16, by squaring: no pow, so bit-stable
        sheen = sheen * sheen
    shade = (diffuse * (1 - ambient) + ambient * ao)[:, None]
    colour = (albedo * light_colour * (shade + (1 - shade) * 0.25 * UNDER_SKIN) * (0.55 + 0.45 * ao[:, None])
              + (sheen * (0.05 + 0.1 * nail))[:, None])

    # The wall, with the hand's soft shadow, offset away from the light.
    background = wall(rng, size, "wall" in shifted) * light_colour
    gap = rng.uniform(0.06, 0.2) * size
    shadow = moved(hit.astype(np.float64), int(round(-light[0] / light[2] * gap)), int(round(light[1] / light[2] * gap)))
    shadow = binomial_blur(shadow, passes=int(rng.integers(4, 12)))
    image = (background * (1 - rng.uniform(0.12, 0.3) * shadow)[..., None]).reshape(-1, 3)
    image[np.flatnonzero(hit)] = colour
    return camera(image.reshape(size, size, 3), rng, out_size)


def camera(image: np.ndarray, rng: np.random.Generator, out_size: int) -> np.ndarray:
    """White balance, exposure, gamma, slight defocus, downsampling with antialiasing, sensor noise."""
    image = image * rng.uniform(0.98, 1.02, 3) * rng.uniform(0.9, 1.08)
    levels = np.round(np.clip(image, 0, 1) * 4095).astype(np.int64)
    gamma = rng.uniform(0.88, 1.12)
    curve = np.array([stable(math.pow(i / 4095, gamma)) for i in range(4096)])   # a lookup table: no array pow
    pil = Image.fromarray(np.round(curve[levels] * 255).astype(np.uint8))
    pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    pil = pil.resize((out_size, out_size), Image.LANCZOS)
    out = np.asarray(pil, np.float64) + rng.normal(0, rng.uniform(1, 3), (out_size, out_size, 3))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# ---- splits and files ---------------------------------------------------------------------------------

def split_plan(n_per_class: int, seed: int, split: str):
    """Labels (balanced, shuffled) and one independent random stream per image of a split."""
    key = [seed, SPLIT_KEYS[split]]
    labels = np.random.default_rng(key).permutation(np.repeat(CLASSES, n_per_class))
    return labels, np.random.SeedSequence(key).spawn(len(labels))


def _render_one(job):
    label, stream, stress = job
    return render(label, np.random.default_rng(stream), stress=stress)


def stress_plan(n_images: int, seed: int):
    """Which factors each stress image shifts: each one with probability 1/2, at least one."""
    rng = np.random.default_rng([seed, SPLIT_KEYS["stress"], 1])
    plan = []
    for _ in range(n_images):
        picks = rng.random(len(STRESS_FACTORS)) < 0.5
        if not picks.any():
            picks[rng.integers(len(STRESS_FACTORS))] = True
        plan.append(tuple(f for f, p in zip(STRESS_FACTORS, picks) if p))
    return plan


def train_plan(n_images: int, seed: int):
    """Which factors each training image shifts: each one with probability TRAIN_SHIFT_RATE, independently
    (a stream of its own, so the images' own streams, and every image that shifts nothing, are unchanged)."""
    rng = np.random.default_rng([seed, SPLIT_KEYS["train"], 1])
    return [tuple(f for f in STRESS_FACTORS if rng.random() < TRAIN_SHIFT_RATE) for _ in range(n_images)]


def make_split(n_per_class: int, seed: int, split: str, progress=None, indices=None, workers: int = 1,
               factors=None):
    """Render a split, or only the images at ``indices`` (each image has its own stream, so the
    result does not depend on ``workers``). Training images shift some of the STRESS_FACTORS now and
    then (``train_plan``), test images none; in the stress split each image shifts some of them
    (``stress_plan``), or all of ``factors`` when given."""
    labels, streams = split_plan(n_per_class, seed, split)
    indices = list(range(len(labels)) if indices is None else indices)
    if split == "train":
        shifted = train_plan(len(labels), seed)
    elif split == "test":
        shifted = [()] * len(labels)
    else:
        shifted = stress_plan(len(labels), seed) if factors is None else [tuple(factors)] * len(labels)
    jobs = [(int(labels[i]), streams[i], shifted[i]) for i in indices]
    x = np.empty((len(indices), FINAL, FINAL, 3), np.uint8)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        folder = str(Path(__file__).resolve().parent)
        if folder not in sys.path:   # fresh worker processes import this file by its name
            sys.path.append(folder)
        # A worker that dies raises BrokenProcessPool here, rather than leaving the pool waiting forever.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for k, img in enumerate(pool.map(_render_one, jobs, chunksize=8)):
                x[k] = img
                if progress is not None:
                    progress.update(1)
    else:
        for k, job in enumerate(jobs):
            x[k] = _render_one(job)
            if progress is not None:
                progress.update(1)
    return x, labels[indices].astype(np.int64)


def make_stress_set(per_class: int = STRESS_PER_CLASS, seed: int = DEFAULT_SEED, workers: int = 1,
                    factors=None):
    """A shifted distribution for measuring robustness: tilted, smaller, off-centre hands, other walls and
    light, more side views (``factors`` picks some of these, to see which one a model is sensitive to)."""
    return make_split(per_class, seed, "stress", workers=workers, factors=factors)


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


MY_IMAGE_LABEL = 2


def make_my_image(seed: int, path: Path, label: int = MY_IMAGE_LABEL) -> None:
    """A larger rendered "photo" of a hand, from a stream that is in no split, for the predict-an-image cell."""
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
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes rendering in parallel (the images do not depend on it)")
    args = parser.parse_args(argv)

    total = len(CLASSES) * (TRAIN_PER_CLASS + TEST_PER_CLASS)
    with tqdm(total=total, desc="rendering hands", unit="img") as bar:
        train = make_split(TRAIN_PER_CLASS, args.seed, "train", bar, workers=args.workers)
        test = make_split(TEST_PER_CLASS, args.seed, "test", bar, workers=args.workers)
    write_h5_atomic(args.out / "train_signs.h5", "train", *train)
    write_h5_atomic(args.out / "test_signs.h5", "test", *test)
    print(f"wrote {args.out / 'train_signs.h5'} and {args.out / 'test_signs.h5'}")
    if not args.no_images:
        import matplotlib
        matplotlib.use("Agg")
        import resnets_utils

        make_my_image(args.seed, args.images / "my_image.jpg")
        fig = resnets_utils.plot_samples(train[0], train[1], per_class=8)
        resnets_utils.save_fig(fig, "signs_samples", folder=args.images, dpi=80)
        print(f"wrote {args.images / 'my_image.jpg'} and {args.images / 'signs_samples.png'}")


if __name__ == "__main__":
    main()
