"""The SIGNS data: reading the HDF5 files (the course's generated ones or the original ones, unchanged),
holding validation images out of the training file, and reading a photo of one's own."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .environment import DATASETS
from .errors import CourseError, DatasetError

REGENERATE = "python datasets/make_signs.py"
_SPLITS = {"train": 1080, "test": 120}
REAL = DATASETS / "real"
REAL_SPLITS = ("train", "validation", "test")
_REAL_REGENERATE = "python datasets/make_real_signs.py"


def _read_split(folder: Path, split: str, regenerate: str = REGENERATE):
    import h5py

    path = Path(folder) / f"{split}_signs.h5"
    if not path.exists():
        if regenerate == REGENERATE:
            raise DatasetError(
                f"{path} is missing. Regenerate the course data with `{REGENERATE}` from the course "
                f"folder, or copy the original SIGNS file {path.name} there.")
        raise DatasetError(f"{path} is missing. Regenerate it from the photos with `{regenerate}` from the course folder.")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DatasetError(
            f"{path} is not a readable HDF5 file ({e}). It may be truncated or not a dataset at all: "
            f"delete it and run `{regenerate}`.") from None
    with f:
        for key in (f"{split}_set_x", f"{split}_set_y", "list_classes"):
            if key not in f:
                raise DatasetError(
                    f"{path} has no '{key}' dataset (it has: {', '.join(sorted(f.keys())) or 'nothing'}). "
                    f"It is not a SIGNS file: delete it and run `{regenerate}`.")
        x, y, classes = f[f"{split}_set_x"][:], f[f"{split}_set_y"][:], f["list_classes"][:]
    if x.ndim != 4 or x.shape[1:] != (64, 64, 3) or x.dtype != np.uint8:
        raise DatasetError(
            f"{path}: '{split}_set_x' has shape {x.shape} and dtype {x.dtype}; expected "
            f"(m, 64, 64, 3) uint8 images. Run `{regenerate}` to restore the course data.")
    if y.shape != (x.shape[0],):
        raise DatasetError(
            f"{path}: '{split}_set_y' has shape {y.shape}; expected ({x.shape[0]},), one label per image.")
    if classes.ndim != 1 or (y.size and not np.isin(y, classes).all()):
        raise DatasetError(f"{path}: labels are not all in 'list_classes' {classes.tolist()}.")
    return x, y, classes


def load_dataset(path: str | os.PathLike | None = None):
    """Load the SIGNS data, as the original assignment did.

    ``path`` is the folder holding ``train_signs.h5`` and ``test_signs.h5`` (default: the course's
    ``datasets/``). Returns ``X_train, Y_train, X_test, Y_test, classes`` with images of shape
    (m, 64, 64, 3) uint8 and labels of shape (1, m), like the original loader.
    """
    folder = Path(path) if path is not None else DATASETS
    x_train, y_train, classes = _read_split(folder, "train")
    x_test, y_test, _ = _read_split(folder, "test")
    return x_train, y_train.reshape(1, -1), x_test, y_test.reshape(1, -1), classes


def load_real_photos(split: str = "test", path: str | os.PathLike | None = None):
    """Real photographs of the signs 0 to 5 (the Sign Language Digits Dataset, Apache License 2.0:
    ``datasets/real/README.md``), 64x64 like SIGNS: one split's images (m, 64, 64, 3) uint8 and labels (m,).

    The splits are by the day the photos were taken, so no hand is in two of them: ``"train"`` (636
    photos, to fine-tune on), ``"validation"`` (277, for every choice a fine-tuning run makes) and
    ``"test"`` (324, read once at the end).
    """
    if split not in REAL_SPLITS:
        raise CourseError(f"split={split!r}: the real photographs come in the splits {', '.join(map(repr, REAL_SPLITS))}.")
    x, y, _ = _read_split(Path(path) if path is not None else REAL, split, _REAL_REGENERATE)
    return x, y


def hold_out_validation(X, Y, per_class: int = 15, seed: int = 0):
    """Split a validation set off the training images: ``per_class`` images of every class, drawn at random.

    ``X`` holds the images (m, ...) and ``Y`` their integer labels, shaped (1, m) as ``load_dataset``
    returns them, or (m,). Returns ``(X_train, Y_train), (X_val, Y_val)``, the labels shaped as ``Y``
    was. The draw depends only on ``seed``; both parts keep the order the images had in ``X``, so the
    training images are the file's, less the held-out ones. Every class found in ``Y`` gives exactly
    ``per_class`` images (stratified), so validation is as balanced as the file.
    """
    X, Y = np.asarray(X), np.asarray(Y)
    if Y.ndim == 2 and Y.shape[0] == 1:
        labels = Y[0]
    elif Y.ndim == 1:
        labels = Y
    else:
        raise DatasetError(
            f"the labels have shape {Y.shape}; expected (1, m) as load_dataset returns them, or (m,). "
            f"Hold out the validation images before one-hot encoding the labels.")
    if len(labels) != len(X):
        raise DatasetError(f"{len(X)} images but {len(labels)} labels: pass the images and labels of the same file.")
    if len(labels) == 0:
        raise DatasetError("there are no images to hold validation images out of.")
    if int(per_class) != per_class or per_class < 1:
        raise CourseError(f"per_class={per_class!r}: hold out a whole number of images per class, at least 1.")
    rng = np.random.default_rng(seed)
    held_out = []
    for label in np.unique(labels):   # one generator, classes in label order: a seed always gives one split
        members = np.flatnonzero(labels == label)
        if len(members) <= per_class:
            raise DatasetError(
                f"class {label} has only {len(members)} images: holding out {per_class} for validation would "
                f"leave none for training. Use a smaller per_class, or a training file with more images of it.")
        held_out.append(rng.choice(members, size=int(per_class), replace=False))
    is_validation = np.zeros(len(labels), dtype=bool)
    is_validation[np.concatenate(held_out)] = True

    def labels_like_y(part):
        return part.reshape(1, -1) if Y.ndim == 2 else part

    return ((X[~is_validation], labels_like_y(labels[~is_validation])),
            (X[is_validation], labels_like_y(labels[is_validation])))


def load_image(path, size: int = 64) -> np.ndarray:
    """A photo as a (1, size, size, 3) float array in [0, 1]: turned upright as its EXIF orientation says,
    then centre-cropped to a square."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path} was not found. Put your photo there (JPEG or PNG) or change the path.")
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError) as e:
        raise CourseError(f"{path} is not an image Pillow can read ({e}). Use a JPEG or PNG photo.") from None
    img = ImageOps.exif_transpose(img).convert("RGB")   # a phone stores a portrait photo sideways, with a tag
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
    return np.asarray(img, dtype=np.float32)[None] / 255.0



_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def load_photo_set(path) -> tuple[np.ndarray, np.ndarray]:
    """Photographs of the signs from anywhere, to read with a trained model: a folder with one subfolder per
    sign (``0`` to ``5``) of JPEG or PNG files, each read as ``load_image`` reads a photo (upright, central
    square, 64x64); or one SIGNS-format HDF5 file (``<split>_signs.h5``, the original SIGNS files included).
    Returns images (m, 64, 64, 3) uint8 and labels (m,)."""
    path = Path(path)
    if path.is_file() and path.suffix == ".h5":
        split = path.name.removesuffix("_signs.h5")
        if split == path.name:
            raise DatasetError(f"{path}: a SIGNS file is named <split>_signs.h5 (train_signs.h5, test_signs.h5).")
        x, y, _ = _read_split(path.parent, split)
        return x, y.astype(int)
    if not path.is_dir():
        raise DatasetError(f"{path} is neither a folder of photos (one subfolder per sign, 0 to 5) nor a "
                           "SIGNS .h5 file.")
    images, labels = [], []
    for sign in range(6):
        folder = path / str(sign)
        files = sorted(f for f in folder.glob("*") if f.suffix.lower() in _PHOTO_SUFFIXES) if folder.is_dir() else []
        for file in files:
            images.append(np.round(load_image(file)[0] * 255).astype(np.uint8))
            labels.append(sign)
    if not images:
        raise DatasetError(f"{path} holds no photos: put JPEG or PNG files of each sign in subfolders named 0 to 5 "
                           f"({path / '0'}, {path / '1'}, ...).")
    return np.stack(images), np.array(labels)
