"""The course's figures: saved byte-identically, drawn in one style (samples, models, curves, confusions)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .environment import IMAGES
from .exercises import require
from .numpy_blocks import PLAIN_DEEP, PLAIN_SHALLOW, RESIDUAL_HE, RESIDUAL_ZERO


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
    """Loss and accuracy per epoch, training beside validation (``history`` is what ``fit`` returns; the
    ``val_`` curves are those of its ``validation_data``, the images held out of the training file)."""
    import matplotlib.pyplot as plt

    h = require(history, "history", "the training cell").history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, label in zip(axes, ("loss", "accuracy"), ("cross-entropy loss", "accuracy")):
        ax.plot(epochs, h[key], "o-", label="train")
        if f"val_{key}" in h:
            ax.plot(epochs, h[f"val_{key}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_yscale("log")   # an early spike of the validation loss would otherwise flatten the rest
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
    ax.set_xlabel("predicted sign")
    ax.set_ylabel("true sign")
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



def plot_prediction(image, probabilities, title: str = "Your image"):
    """The image beside a bar chart of the model's class probabilities."""
    import matplotlib.pyplot as plt

    probabilities = np.asarray(probabilities).ravel()
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8), gridspec_kw={"width_ratios": [1, 1.5]})
    left.imshow(np.asarray(image)[0] if np.ndim(image) == 4 else image)
    left.axis("off")
    left.set_title(title)
    best = int(np.argmax(probabilities))
    bars = right.bar(range(len(probabilities)), probabilities, color="tab:blue", edgecolor="black", linewidth=0.6)
    # The prediction is told by hatching and words as well as colour: readable in grey and by colour-blind readers.
    bars[best].set(facecolor="tab:orange", hatch="//", hatchcolor="black")
    right.annotate(f"predicted: {best}\n({probabilities[best]:.2f})", (best, probabilities[best]),
                   xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8)
    right.set_xticks(range(len(probabilities)))
    right.set_xlabel("sign (ASL numeral)")
    right.set_ylim(0, 1.25)
    right.set_yticks([0, 0.25, 0.5, 0.75, 1])
    right.set_title("class probabilities")
    fig.tight_layout()
    return fig


# Notebook 01's degradation experiment: a colour and a line style per net, so that no curve is told by colour alone.
DEGRADATION_STYLES = {PLAIN_SHALLOW: ("C0", ":"), PLAIN_DEEP: ("C1", "-"), RESIDUAL_HE: ("C2", "--"),
                      RESIDUAL_ZERO: ("C3", "-.")}


def plot_degradation(runs: dict, title: str = "Training loss"):
    """``degradation_runs``' losses: every seed's curve on the left, each seed's final loss as a dot on the right
    (the dashed line is 0.01, below which a net fits)."""
    import matplotlib.pyplot as plt

    fig, (ax, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2, 1]})
    for k, (name, losses) in enumerate(runs.items()):
        color, line = DEGRADATION_STYLES.get(name, (f"C{k}", "-"))
        ax.semilogy(np.arange(1, losses.shape[1] + 1), losses.T, color=color, ls=line, lw=1)
        ax.plot([], [], color=color, ls=line, label=name)
        final = losses[:, -100:].mean(axis=1)
        right.semilogy(k + np.linspace(-0.2, 0.2, len(final)), final, "o", color=color)
    ax.set(xlabel="training step", ylabel="training loss (cross-entropy)", title=title)
    ax.legend(fontsize=8)
    right.axhline(0.01, color="gray", lw=0.8, ls="--")
    right.set_xticks(range(len(runs)), [name.replace(", ", "\n") for name in runs], fontsize=8)
    right.set_xlim(-0.5, len(runs) - 0.5)
    right.set_title("Loss over the last 100 steps\n(one dot per seed)")
    fig.tight_layout()
    return fig

