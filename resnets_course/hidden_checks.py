"""Checks whose answers the student's kernel never sees: grading's last word on an exercise.

The checks in the notebook run in the same Python process as the student's code, so code written to get
round them can (empty a check's table, swap its helpers while it runs, print the numbers a cell shows).
Grading therefore also calls each graded function on inputs of its own and compares what it returns with
answers computed from the solution when the course was released. The inputs may be known; the answers are
kept in ``releases/hidden_answers.json``, which the judge reads outside the kernel's sandbox and which is not
mounted in it. Only a function that computes the right numbers passes; which is doing the exercise.

``answer(fn, exercise, case)`` runs in the kernel (``judge_kernel.evaluate_hidden``) and, at release time,
on the solution (``tools.release``); ``differs(got, want)`` runs in the judge.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ANSWERS = Path(__file__).resolve().parent / "releases" / "hidden_answers.json"
#: The grader's own inputs: other sizes, filters, strides and seeds than the notebooks print.
CASES = {
    "residual_block_forward": [{"seed": 21, "n": 5, "hidden": 4, "m": 3}],
    "residual_block_backward": [{"seed": 22, "n": 5, "hidden": 4, "m": 3}],
    "identity_block": [{"seed": 11, "shape": [2, 5, 5, 5], "f": 3, "filters": [3, 4, 5]}],
    "convolutional_block": [{"seed": 12, "shape": [2, 6, 6, 3], "f": 3, "filters": [3, 4, 5], "s": 2},
                            {"seed": 13, "shape": [2, 5, 5, 4], "f": 2, "filters": [2, 3, 6], "s": 1}],
    # Notebook 05: a projection (new width and stride 2) and an identity shortcut for each block
    **{name: [{"seed": seed, "shape": [2, 6, 6, 3], "filters": 2, "s": 2},
              {"seed": seed + 1, "shape": [2, 5, 5, width], "filters": 2, "s": 1}]
       for name, seed, width in [("basic_block", 31, 2), ("bottleneck_block", 33, 8),
                                 ("preact_basic_block", 35, 2), ("preact_bottleneck_block", 37, 8)]},
    "bottleneck_cost": [{"H": 14, "W": 9, "F": 24}, {"H": 3, "W": 5, "F": 7}],
    # Whole networks are compared by what they are made of (``_model_answer``), at a size and a number of
    # classes that no notebook uses: a hard-coded Input or Dense(6) cannot pass.
    "ResNet50": [{"input_shape": [72, 56, 3], "classes": 4}],
    "build_resnet": [{"depth": 18, "input_shape": [56, 48, 3], "classes": 3, "preact": False},
                     {"depth": 50, "input_shape": [40, 40, 3], "classes": 5, "preact": True}],
    # Notebook 06: another layer to start at and another rate than its check uses
    "prepare_fine_tuning": [{"first_trainable": "block_conv2", "learning_rate": 3e-5, "seed": 41}],
}
NETWORKS = ("ResNet50", "build_resnet")   # compared exactly, by their layers (_model_answer)
TOLERANCE = {"abs": 1e-3, "rel": 1e-3}


def answer(fn, exercise: str, case: dict) -> list[float]:
    """What ``fn`` returns on the case's inputs, flattened and rounded to 5 decimals."""
    if exercise in ("residual_block_forward", "residual_block_backward"):
        values = _numpy_answer(fn, exercise, case)
    elif exercise == "bottleneck_cost":
        values = list(fn(case["H"], case["W"], case["F"]))
    elif exercise in NETWORKS:
        values = _model_answer(fn, case)
    elif exercise == "prepare_fine_tuning":
        values = _fine_tuning_answer(fn, case)
    else:
        values = _block_answer(fn, case)
    return [round(float(v), 5) + 0.0 for v in values]


def _numpy_answer(fn, exercise: str, case: dict) -> list:
    from .numpy_blocks import example, exercise_cache

    a_prev, p = example(case["seed"], n=case["n"], hidden=case["hidden"], m=case["m"])
    if exercise == "residual_block_forward":
        a_next, _ = fn(a_prev, p)
        return np.asarray(a_next, float).ravel().tolist()
    da_next = np.random.default_rng(case["seed"] + 10).standard_normal(a_prev.shape)
    da_prev, grads = fn(da_next, exercise_cache(a_prev, p))
    parts = [np.asarray(da_prev, float).ravel()] + [np.asarray(grads[k], float).ravel() for k in ("dW1", "db1", "dW2", "db2")]
    return np.concatenate(parts).tolist()


def _block_answer(fn, case: dict) -> list:
    import keras

    def initializer(*args, **kwargs):   # as the notebooks' glorot_uniform, called initializer(seed=0)
        return keras.initializers.RandomNormal(stddev=0.5, seed=case["seed"])

    X = np.random.default_rng(case["seed"]).standard_normal(case["shape"]).astype(np.float32)
    arguments = {k: case[k] for k in ("f", "filters", "s") if k in case}
    found = []
    for training in (False, True):
        out = fn(X, **arguments, training=training, initializer=initializer)
        found += np.asarray(keras.ops.convert_to_numpy(out), float).ravel().tolist()
    return found


def _model_answer(fn, case: dict) -> list:
    """The model's layers as numbers, in an order of their own (any correct order of writing a block gives the same
    list): for each layer its kind, kernel and strides, output shape and parameter count; then the total."""
    import zlib

    from .checks.tracing import layer_kind

    arguments = {k: (tuple(v) if k == "input_shape" else v) for k, v in case.items()}
    model = fn(**arguments)
    rows = []
    for layer in model.layers:
        kind, settings = layer_kind(layer)
        if kind == "conv":
            kind += f" {settings['kernel_size']} {settings['strides']}"
        elif kind == "activation":
            kind += " " + settings["name"]
        shape = [d or 0 for d in layer.output.shape[1:]]
        rows.append([zlib.crc32(kind.encode()) % 100_000, *(shape + [0, 0, 0])[:3], layer.count_params()])
    return [v for row in sorted(rows) for v in row] + [model.count_params()]



def _fine_tuning_answer(fn, case: dict) -> list:
    """What one training step after ``fn`` changes in notebook 06's small check network, read from a file as
    it were (not compiled): for each layer with weights, 1 if any of them changed (a BatchNorm's statistics
    included), else 0; then the optimizer's learning rate."""
    from .checks import transfer

    model = transfer.small_residual_network()
    model = fn(model, case["first_trainable"], case["learning_rate"])
    before = [[np.array(w) for w in layer.weights] for layer in model.layers if layer.weights]
    rng = np.random.default_rng(case["seed"])
    x = (rng.random((16, 8, 8, 3)) * 3 + 1).astype(np.float32)
    model.fit(x, np.eye(6, dtype=np.float32)[np.arange(16) % 6], batch_size=16, epochs=1, verbose=0)
    after = [[np.array(w) for w in layer.weights] for layer in model.layers if layer.weights]
    changed = [float(any(not np.array_equal(a, b) for a, b in zip(old, new))) for old, new in zip(before, after)]
    return changed + [float(np.array(model.optimizer.learning_rate)) * 1e5]


def differs(got, want: list[float], exercise: str = "") -> str | None:
    """None if ``got`` (the kernel's answer) equals ``want`` within TOLERANCE; else how it differs, in words."""
    if not isinstance(got, list) or not all(isinstance(v, (int, float)) for v in got):
        return "does not return numbers"
    if exercise in NETWORKS and got != want:
        return ("builds another network than the course's solution (compared layer by layer: kind, kernel, "
                "strides, output shape and parameters)")
    if len(got) != len(want):
        return f"returns {len(got)} numbers where the solution returns {len(want)} (another shape)"
    worst = max((abs(g - w) - TOLERANCE["rel"] * abs(w) for g, w in zip(got, want)), default=0.0)
    return None if worst <= TOLERANCE["abs"] else "gives other numbers than the course's solution"


def answers() -> dict:
    """{exercise: [answer per case]}, as the release tool stored them ({} if there are none)."""
    return json.loads(ANSWERS.read_text()) if ANSWERS.exists() else {}
