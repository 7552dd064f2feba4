"""Real photographs of the signs 0 to 5, in the SIGNS files' format: datasets/real/{train,validation,test}_signs.h5.

    python datasets/make_real_signs.py            # writes the three files from datasets/real/photos/
    python datasets/make_real_signs.py --check    # converts again: are the files' images and labels the same bytes?

The photos are the signs 0 to 5 of the Sign Language Digits Dataset (Arda Mavi and Zeynep Dikle, Ayrancı
Anadolu High School, Ankara; arXiv:2011.08927; Apache License 2.0, datasets/real/LICENSE), unchanged:
100x100 JPEG files, one folder per sign, named by the camera's file number. Each is decoded, turned
upright by its EXIF orientation (all are upright already), and resized to 64x64 with Pillow's Lanczos
filter, as the course's `load_image` reads a photo of one's own.

**The splits keep every hand in one split.** One student photographed the ten digits in a row, a few
seconds apart, so neighbouring file numbers are one hand. The photos were taken on four days (12 to 15
December 2017, from their EXIF time), in contiguous, non-overlapping ranges of file numbers, so a split by
day puts no student in two splits:

- test: 15 December (324 photos), never used to choose anything;
- validation: 13 December (277 photos), for every choice a fine-tuning run makes;
- train: 12 and 14 December (636 photos), the pool to fine-tune on.

Each file holds, besides SIGNS's three datasets, the photos' file numbers (``file_number``), so that a
test can check that no run of neighbouring photos crosses a split.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
PHOTOS = HERE / "real" / "photos"
OUT = HERE / "real"
CLASSES = np.arange(6, dtype=np.int64)
SIZE = 64
SPLIT_OF_DAY = {"2017:12:12": "train", "2017:12:13": "validation", "2017:12:14": "train", "2017:12:15": "test"}
SPLITS = ("train", "validation", "test")
EXIF_IFD, DATE_TIME_ORIGINAL = 0x8769, 36867


def taken(image: Image.Image) -> str:
    """The photo's EXIF time, 'YYYY:MM:DD HH:MM:SS'."""
    return image.getexif().get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL]


def convert(path: Path) -> tuple[np.ndarray, str]:
    """One photo as SIGNS stores an image, (64, 64, 3) uint8, and the time it was taken."""
    with Image.open(path) as image:
        when = taken(image)
        image = ImageOps.exif_transpose(image).convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.LANCZOS)
        return np.asarray(image, dtype=np.uint8), when


def photos() -> list[tuple[int, int, Path]]:
    """(file number, sign, path) of every photo, in file-number order."""
    found = [(int(path.stem.split("_")[1]), int(folder.name), path)
             for folder in sorted(PHOTOS.iterdir()) if folder.is_dir()
             for path in sorted(folder.glob("IMG_*.JPG"))]
    return sorted(found)


def make_splits() -> dict[str, dict[str, np.ndarray]]:
    """{split: {"x", "y", "file_number", "taken"}}, each split in file-number order."""
    parts = {split: {"x": [], "y": [], "file_number": [], "taken": []} for split in SPLITS}
    for number, sign, path in photos():
        x, when = convert(path)
        part = parts[SPLIT_OF_DAY[when[:10]]]
        for key, value in (("x", x), ("y", sign), ("file_number", number), ("taken", when)):
            part[key].append(value)
    return {split: {"x": np.stack(p["x"]), "y": np.array(p["y"], np.int64),
                    "file_number": np.array(p["file_number"], np.int64), "taken": np.array(p["taken"], "S19")}
            for split, p in parts.items()}


def digest(x: np.ndarray, y: np.ndarray) -> str:
    """sha256 of the images, then the labels, as the tests fix them."""
    return hashlib.sha256(np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest()


def write(path: Path, split: str, data: dict[str, np.ndarray]) -> None:
    """Write a temporary file beside ``path``, then rename it: never a half-written dataset."""
    fd, tmp = tempfile.mkstemp(suffix=".h5.tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset(f"{split}_set_x", data=data["x"], track_times=False)
            f.create_dataset(f"{split}_set_y", data=data["y"], track_times=False)
            f.create_dataset("list_classes", data=CLASSES, track_times=False)
            f.create_dataset("file_number", data=data["file_number"], track_times=False)
            f.create_dataset("taken", data=data["taken"], track_times=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare a fresh conversion with the files")
    args = parser.parse_args(argv)
    splits = make_splits()
    failed = False
    for split in SPLITS:
        data, path = splits[split], OUT / f"{split}_signs.h5"
        counts = np.bincount(data["y"], minlength=6).tolist()
        if args.check:
            with h5py.File(path, "r") as f:
                same = digest(f[f"{split}_set_x"][:], f[f"{split}_set_y"][:]) == digest(data["x"], data["y"])
            failed |= not same
            print(f"{path}: {'identical' if same else 'DIFFERENT'}")
        else:
            write(path, split, data)
            print(f"{path}: {len(data['y'])} photos, per sign {counts}")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
