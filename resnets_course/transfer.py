"""Fine-tuning a trained ResNet on a few real photographs (notebook 06 and its benchmark): choosing the photos,
finding where a stage begins, and reading notebook 04's saved model."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import CourseError

#: The file notebook 04 saves its trained model to, beside the notebooks.
SAVED_MODEL = "resnet50_signs.keras"


def photos_per_sign(x, y, k: int | None, seed: int = 0):
    """``k`` photos of each sign drawn at random (``seed``), in their order in ``x``; all of them if ``k`` is
    None. ``y`` holds integer labels (m,). A sign with fewer than ``k`` photos is an error, not a silent
    smaller draw."""
    x, y = np.asarray(x), np.asarray(y).ravel()
    if k is None:
        return x, y
    if int(k) != k or k < 1:
        raise CourseError(f"k={k!r}: draw a whole number of photos per sign, at least 1 (or None for all).")
    rng = np.random.default_rng(seed)
    chosen = []
    for sign in np.unique(y):
        members = np.flatnonzero(y == sign)
        if len(members) < k:
            raise CourseError(f"sign {sign} has {len(members)} photos, fewer than k={k}.")
        chosen.append(rng.choice(members, size=int(k), replace=False))
    keep = np.sort(np.concatenate(chosen))
    return x[keep], y[keep]


def _blocks_by_stage(model) -> list[list[int]]:
    """Indices in ``model.layers`` of each residual block's Add layer, grouped by stage (a stage is a run of
    blocks with the same output shape)."""
    import keras

    stages, shape = [], None
    for i, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.Add):
            out = tuple(layer.output.shape[1:])
            if out != shape:
                stages.append([])
                shape = out
            stages[-1].append(i)
    return stages


def first_layer_of_stage(model, stage) -> str:
    """The name of the first layer of ``stage`` in a ResNet built block by block, as notebook 04's is: 2 to 5
    for conv2 to conv5, or "head" for what follows the last block (the pooling and the classifier). Freezing
    the layers before it keeps the stages below it as they were trained."""
    import keras

    stages = _blocks_by_stage(model)
    if not stages:
        raise CourseError(f"{model.name} has no Add layer: it is not a residual network.")
    layers = model.layers
    if stage == "head":
        index = stages[-1][-1] + 1
    elif stage in range(3, len(stages) + 2):
        index = stages[stage - 3][-1] + 1   # after the previous stage's last Add
    elif stage == 2:
        pools = [i for i, layer in enumerate(layers[:stages[0][0]])
                 if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))]
        if not pools:
            raise CourseError("no pooling layer before the first block: where stage 2 begins is unclear.")
        return layers[pools[-1] + 1].name
    else:
        raise CourseError(f"stage={stage!r}: name a stage from 2 to {len(stages) + 1}, or 'head'.")
    # The Add is followed by its block's ReLU; the next layer begins the stage.
    while index < len(layers) and isinstance(layers[index], keras.layers.Activation):
        index += 1
    if index >= len(layers):
        raise CourseError(f"nothing follows the last block of {model.name}.")
    return layers[index].name


def load_trained_resnet50(path: str | os.PathLike | None = None):
    """Notebook 04's trained model, as it saved it (``resnet50_signs.keras`` beside the notebooks), or a
    message that says how to make it."""
    import keras

    path = Path(path) if path is not None else Path(SAVED_MODEL)
    if not path.exists():
        raise CourseError(f"{path} is not there. Notebook 06 starts from the model notebook 04 trains and saves: "
                          f"run notebook 04 to the end (its last cell saves {SAVED_MODEL} beside the notebooks), "
                          "then come back.")
    try:
        return keras.models.load_model(path)
    except Exception as e:   # noqa: BLE001 - a truncated or foreign file
        raise CourseError(f"{path} could not be read as a Keras model ({type(e).__name__}: {str(e)[:200]}). "
                          "Run notebook 04 again to save it afresh.") from None
