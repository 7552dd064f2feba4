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


class CheckFailed(CourseError, AssertionError):
    """A graded check failed; the message says what to change (shared by all the notebooks' checks)."""


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
# Reusing your own exercises (introduced in 04)
# --------------------------------------------------------------------------------------------

def import_exercise(notebook: str, name: str, folder: str | os.PathLike | None = None, namespace: dict | None = None):
    """Your function ``name``, defined by the graded cells of ``notebook`` as saved on disk.

    Later notebooks build on earlier exercises without a hidden reference copy: this reads the
    earlier notebook (by default from the current folder, where Jupyter runs the notebook),
    runs the import statements of its code cells and then its graded cells in a fresh namespace,
    and returns the function. Nothing else of that notebook runs (no training, no checks).
    ``namespace`` adds names the graded cells use but do not import (e.g. the blocks for ResNet50).
    """
    import ast
    import json

    folder = Path.cwd() if folder is None else Path(folder)
    path = folder / notebook
    where = f"{notebook} (in {folder})"
    if not path.exists():
        raise CourseError(f"{where} was not found. This notebook reuses your {name} from it: keep the "
                          f"course notebooks together in one folder, and run this notebook from there.")
    try:
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CourseError(f"{where} is not a readable notebook ({e}). Open it in Jupyter, save it, "
                          f"and run this cell again.") from None
    namespace = {**(namespace or {}), "__name__": f"exercises_of_{Path(notebook).stem}"}
    imports, graded = [], []
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        is_graded = "graded" in cell.get("metadata", {}).get("tags", [])
        try:
            tree = ast.parse(source)
        except SyntaxError as e:
            if is_graded:
                raise CourseError(f"Your code in {where} has a syntax error (line {e.lineno} of its graded "
                                  f"cell: {e.msg}). Fix it there, save the notebook, and run this cell again.") from None
            continue   # a broken cell that is not graded cannot define the function we need
        if is_graded:
            graded.append(tree)
        else:
            imports += [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    try:
        exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), namespace)
        for tree in graded:
            exec(compile(tree, str(path), "exec"), namespace)
    except Exception as e:
        raise CourseError(f"Running the graded cells of {where} failed: {type(e).__name__}: {e}. "
                          f"Fix it there, save the notebook, and run this cell again.") from None
    function = namespace.get(name)
    if not callable(function):
        raise CourseError(f"{where} defines no function {name}. Did you rename or delete it? "
                          f"Restore its graded cell, save the notebook, and run this cell again.")
    return function


def require(value, what: str, exercise: str):
    """``value``, or a clear error when an unfinished exercise left it as None."""
    if value is None:
        raise CourseError(f"{what} is None: finish {exercise} above (its check must pass), then run this cell again.")
    return value


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


# --------------------------------------------------------------------------------------------
# Training and evaluating ResNet-50 (introduced in 04)
# --------------------------------------------------------------------------------------------

QUICK_ENV = "RESNETS_QUICK"


def quick_run() -> bool:
    """True when ``RESNETS_QUICK=1``: the test suite's contract runs check a notebook's plumbing with
    a tiny training run. Students and the suite's main run of each solution always train in full."""
    return os.environ.get(QUICK_ENV, "") == "1"


def _without_autotune(data):
    """Switch off tf.data's autotuning thread: nothing in the course's pipelines is tuned by it, and
    destroying an iterator that has one can wait for the thread's sleep to end, up to 10 s (seen at the
    end of notebook 04's training, twice per fit)."""
    tf = import_tensorflow_quietly()
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)


def augmented_batches(x, y, augment, batch_size: int = 32, seed: int = SEED):
    """A tf.data pipeline for ``fit``: shuffled each epoch, batched, then ``augment`` applied per batch.

    Augmenting inside the pipeline (not in the model) keeps the saved model free of random layers
    and lets the next batch be prepared while the current one trains.
    """
    tf = import_tensorflow_quietly()
    data = tf.data.Dataset.from_tensor_slices((np.asarray(x, np.float32), np.asarray(y, np.float32)))
    data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return _without_autotune(data.map(lambda images, labels: (augment(images, training=True), labels)).prefetch(2))


def test_batches(x, y, batch_size: int = 32):
    """A tf.data pipeline of ``(x, y)`` in order, batched: ``fit``'s ``validation_data``, or any data to be
    fed neither shuffled nor augmented (the training benchmark feeds the training images this way)."""
    tf = import_tensorflow_quietly()
    data = tf.data.Dataset.from_tensor_slices((np.asarray(x, np.float32), np.asarray(y, np.float32)))
    return _without_autotune(data.batch(batch_size))


def create_training_variables(model, x, y) -> None:
    """Create the optimizer's slots and the metrics' counters of a compiled model before ``fit``.

    With the TensorFlow backend Keras creates them while it traces the first training step, and a
    ``tf.function`` that creates variables is traced twice: for ResNet-50 on a 2-core CPU that is about
    8 s of the first epoch. Created here, from one example ``x[:1]``, ``y[:1]``, they start at zero
    exactly as they would inside ``fit``, so training gives the same numbers, only sooner.
    """
    if getattr(model, "optimizer", None) is None:
        raise ValueError("create_training_variables needs a compiled model: call model.compile(...) first.")
    model.optimizer.build(model.trainable_variables)
    model.compute_metrics(x[:1], y[:1], model(x[:1], training=False))
    model.reset_metrics()


def draw_model(model, name: str, folder: str | os.PathLike | None = None, dpi: int = 48):
    """Draw a Keras model with ``plot_model`` into ``images/<name>.png``; without graphviz, say how to get it.

    Returns the path, or None when the diagram could not be drawn (nothing else depends on it).
    """
    import shutil

    folder = Path(folder) if folder is not None else IMAGES
    missing = []
    try:
        import pydot  # noqa: F401
    except ImportError:
        missing.append("the Python package pydot (pip install -r requirements.txt)")
    if shutil.which("dot") is None:
        missing.append("Graphviz's `dot` program (Debian/Ubuntu: sudo apt-get install graphviz; "
                       "macOS: brew install graphviz; conda: conda install graphviz)")
    if missing:
        print("Cannot draw the model diagram: missing " + " and ".join(missing) + ".")
        print("Install it and run this cell again; the rest of the notebook does not need the diagram.")
        return None
    from keras.utils import plot_model

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    tmp = folder / f".{name}.tmp.png"
    plot_model(model, to_file=str(tmp), show_shapes=True, dpi=dpi)
    os.replace(tmp, path)
    return path


def plot_history(history, title: str = "Learning curves"):
    """Loss and accuracy per epoch, training beside test (``history`` is what ``fit`` returns)."""
    import matplotlib.pyplot as plt

    h = require(history, "history", "the training cell").history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, label in zip(axes, ("loss", "accuracy"), ("cross-entropy loss", "accuracy")):
        ax.plot(epochs, h[key], "o-", label="train")
        if f"val_{key}" in h:
            ax.plot(epochs, h[f"val_{key}"], "s--", label="test")
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_yscale("log")   # an early spike of the test loss would otherwise flatten the rest
    axes[1].set_ylim(0, 1.02)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, n_classes: int = 6) -> np.ndarray:
    """counts[i, j] = number of images of class i predicted as j."""
    counts = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(counts, (np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()), 1)
    return counts


def plot_confusion(y_true, y_pred, n_classes: int = 6, title: str = "Confusion matrix (test set)"):
    import matplotlib.pyplot as plt

    counts = confusion_matrix(y_true, y_pred, n_classes)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(counts, cmap="Blues")
    for i in range(n_classes):
        for j in range(n_classes):
            ax.text(j, i, counts[i, j], ha="center", va="center",
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(n_classes))
    ax.set_yticks(range(n_classes))
    ax.set_xlabel("predicted fingers")
    ax.set_ylabel("true fingers")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_misclassified(x, y_true, y_pred, probabilities, limit: int = 12):
    """A grid of the misclassified images, each titled 'true -> predicted (probability)'."""
    import matplotlib.pyplot as plt

    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    wrong = np.flatnonzero(y_true != y_pred)
    print(f"{len(wrong)} of {len(y_true)} test images are misclassified.")
    if len(wrong) == 0:
        return None
    shown = wrong[:limit]
    cols = min(len(shown), 6)
    rows = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown):
        ax.imshow(x[i])
        ax.set_title(f"{y_true[i]} -> {y_pred[i]} ({probabilities[i, y_pred[i]]:.2f})", fontsize=9)
    fig.suptitle("Misclassified: true -> predicted (probability)", fontsize=10)
    fig.tight_layout()
    return fig


def load_image(path, size: int = 64) -> np.ndarray:
    """A photo as a (1, size, size, 3) float array in [0, 1], centre-cropped to a square first."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path} was not found. Put your photo there (JPEG or PNG) or change the path.")
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError) as e:
        raise CourseError(f"{path} is not an image Pillow can read ({e}). Use a JPEG or PNG photo.") from None
    img = img.convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
    return np.asarray(img, dtype=np.float32)[None] / 255.0


def plot_prediction(image, probabilities, title: str = "Your image"):
    """The image beside a bar chart of the model's class probabilities."""
    import matplotlib.pyplot as plt

    probabilities = np.asarray(probabilities).ravel()
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8), gridspec_kw={"width_ratios": [1, 1.5]})
    left.imshow(np.asarray(image)[0] if np.ndim(image) == 4 else image)
    left.axis("off")
    left.set_title(title)
    best = int(np.argmax(probabilities))
    right.bar(range(len(probabilities)), probabilities,
              color=["tab:orange" if k == best else "tab:blue" for k in range(len(probabilities))])
    right.set_xticks(range(len(probabilities)))
    right.set_xlabel("fingers")
    right.set_ylim(0, 1)
    right.set_title("class probabilities")
    fig.tight_layout()
    return fig


if sys.version_info < (3, 11):  # pragma: no cover - a readable message beats a syntax error later
    print(f"WARNING: Python {platform.python_version()} is older than the course's {PYTHON}.")
