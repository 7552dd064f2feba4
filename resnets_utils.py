"""Helpers shared by the ResNets course notebooks.

Every notebook starts with::

    from resnets_utils import check_environment
    check_environment()

Helpers are never renamed once a notebook uses them; each docstring says where it is introduced.
"""
from __future__ import annotations

import os

# TensorFlow prints C++ log lines (oneDNN notice, CUDA probing) with timestamps and process ids at
# import time. They are noise for students and would make stored notebook outputs differ from run
# to run, so they are silenced before anything can import TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import platform
import random
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent
DATASETS = REPO / "datasets"
IMAGES = REPO / "images"
REGENERATE = "python datasets/make_signs.py"

#: The versions the course is tested with; requirements.txt pins the same (a test keeps them equal).
PINS = {
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "numpy": "2.4.6",
    "matplotlib": "3.11.2",
    "h5py": "3.14.0",
}
PYTHON = "3.11"
SEED = 1


class CourseError(Exception):
    """An error whose message is the whole story: notebooks show it without a traceback."""

    def _render_traceback_(self):  # IPython calls this instead of printing the traceback
        return [f"{type(self).__name__}: {self}"]


class DatasetError(CourseError):
    """The dataset file is missing, unreadable, or not in the SIGNS format."""


# --------------------------------------------------------------------------------------------
# Environment (introduced in every notebook's first code cell)
# --------------------------------------------------------------------------------------------

def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def import_tensorflow_quietly():
    """Import TensorFlow without its start-up chatter on stderr; return the module.

    TF 2.21 prints a few C++ log lines (oneDNN notice, CUDA probing) *before* its logging is
    configured, so TF_CPP_MIN_LOG_LEVEL cannot silence them. Jupyter forwards the process's stderr
    into the notebook, where these lines (with timestamps and process ids) would differ on every
    run. So the import runs with file descriptor 2 pointed at /dev/null; real errors still arrive
    as Python exceptions, and later messages are filtered by TF_CPP_MIN_LOG_LEVEL.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def check_environment(seed: int = SEED, keras: bool = True) -> None:
    """Print the versions that matter, warn clearly on a mismatch with the pins, and seed everything.

    With ``keras=True`` Keras (and TensorFlow) are imported and seeded too; the NumPy-only notebook
    passes ``keras=False`` and starts faster.
    """
    python = ".".join(platform.python_version_tuple()[:2])
    found = {name: installed_version(name) for name in PINS}
    shown = ["tensorflow", "keras", "numpy"]
    print(f"Python {python} | " + " | ".join(f"{n} {found[n]}" for n in shown))
    problems = []
    if python != PYTHON:
        problems.append(f"Python {python} (the course is tested on {PYTHON})")
    for name, pinned in PINS.items():
        if found[name] is None:
            problems.append(f"{name} is not installed (pinned {pinned})")
        elif found[name] != pinned:
            problems.append(f"{name} {found[name]} (pinned {pinned})")
    if problems:
        print("WARNING: this environment differs from the one the course is tested with:")
        for p in problems:
            print("  -", p)
        print("Your numbers may differ from the stored ones. Fix: pip install -r requirements.txt")
    random.seed(seed)
    np.random.seed(seed)
    if keras:
        import_tensorflow_quietly()
        import keras as _keras

        _keras.utils.set_random_seed(seed)
    print(f"Environment OK, random seed {seed}." if not problems else f"Random seed {seed}.")


# --------------------------------------------------------------------------------------------
# Data (introduced in 04: ResNet-50 on the hand signs)
# --------------------------------------------------------------------------------------------

_SPLITS = {"train": 1080, "test": 120}


def _read_split(folder: Path, split: str):
    import h5py

    path = Path(folder) / f"{split}_signs.h5"
    if not path.exists():
        raise DatasetError(
            f"{path} is missing. Regenerate the course data with `{REGENERATE}` from the course "
            f"folder, or copy the original SIGNS file {path.name} there.")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DatasetError(
            f"{path} is not a readable HDF5 file ({e}). It may be truncated or not a dataset at all: "
            f"delete it and run `{REGENERATE}`.") from None
    with f:
        for key in (f"{split}_set_x", f"{split}_set_y", "list_classes"):
            if key not in f:
                raise DatasetError(
                    f"{path} has no '{key}' dataset (it has: {', '.join(sorted(f.keys())) or 'nothing'}). "
                    f"It is not a SIGNS file: delete it and run `{REGENERATE}`.")
        x, y, classes = f[f"{split}_set_x"][:], f[f"{split}_set_y"][:], f["list_classes"][:]
    if x.ndim != 4 or x.shape[1:] != (64, 64, 3) or x.dtype != np.uint8:
        raise DatasetError(
            f"{path}: '{split}_set_x' has shape {x.shape} and dtype {x.dtype}; expected "
            f"(m, 64, 64, 3) uint8 images. Run `{REGENERATE}` to restore the course data.")
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


def convert_to_one_hot(Y, C: int):
    """Labels of shape (1, m) or (m,) -> one-hot of shape (C, m), like the original helper."""
    Y = np.asarray(Y).reshape(-1)
    if Y.size and (Y.min() < 0 or Y.max() >= C):
        raise ValueError(f"labels must lie in 0..{C - 1}; found {Y.min()}..{Y.max()}")
    return np.eye(C)[Y].T


# --------------------------------------------------------------------------------------------
# Figures (introduced in 01; all course figures share this style and folder)
# --------------------------------------------------------------------------------------------

def save_fig(fig, name: str, folder: str | os.PathLike | None = None, dpi: int = 100) -> Path:
    """Save a matplotlib figure as ``images/<name>.png`` with no timestamp, so reruns are byte-identical."""
    folder = Path(folder) if folder is not None else IMAGES
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    tmp = folder / f".{name}.tmp.png"
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    os.replace(tmp, path)
    return path


def plot_samples(x, y, per_class: int = 6, classes=None, title: str | None = "SIGNS: one row per class"):
    """A labelled grid of images: one row per class, the first ``per_class`` images of each."""
    import matplotlib.pyplot as plt

    y = np.asarray(y).reshape(-1)
    classes = np.unique(y) if classes is None else np.asarray(classes)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.3 * per_class, 1.4 * len(classes)))
    axes = np.atleast_2d(axes)
    for row, c in zip(axes, classes):
        idx = np.flatnonzero(y == c)[:per_class]
        for k, ax in enumerate(row):
            ax.axis("off")
            if k < len(idx):
                ax.imshow(x[idx[k]])
                ax.set_title(f"y = {c}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


if sys.version_info < (3, 11):  # pragma: no cover - a readable message beats a syntax error later
    print(f"WARNING: Python {platform.python_version()} is older than the course's {PYTHON}.")
