"""The check of notebook 06's graded exercise: getting a trained model ready to fine-tune.

The student's ``prepare_fine_tuning(model, first_trainable, learning_rate)`` is judged by what it does,
not by how it is written: it runs on a small residual network (a stem, one block, a classifier), which
then takes one training step on 16 images. After that step the frozen layers' weights must be unchanged,
no BatchNormalization layer may have moved its statistics, and the layers from ``first_trainable`` on must
have learned. Where that fails, the layers' ``trainable`` flags and the optimizer say which mistake it
was, in words. The network runs twice: as a model just trained in this session (compiled, with the
from-scratch optimizer), and as a model read from a file without its optimizer (not compiled).

Two things Keras 3 does that the hints explain (tests/test_transfer_check.py shows both):
Keras builds a model's training step from the ``trainable`` flags at the first ``fit`` after ``compile``,
so a model that has trained keeps training every layer after ``layer.trainable = False`` until it is
compiled again; and a BatchNormalization layer with ``trainable = False`` runs in inference mode,
using and keeping its moving statistics, while ``training=False`` given where the model was built does not
last through ``fit``.
"""
from __future__ import annotations

import numpy as np

from ..errors import CheckFailed
from ..keras_internals import keras
from .messages import fail, first_line

NAME = "prepare_fine_tuning"
#: Notebook 04's starting learning rate (its recipe cell; tests/test_transfer_check.py reads it there).
FROM_SCRATCH_LEARNING_RATE = 2e-3
FIRST_TRAINABLE = "block_conv1"   # in the small network below: the stem is frozen, the block and the head learn
EXAMPLE_RATE = 1e-4               # what the check passes as learning_rate


def _fail(message: str):
    fail(NAME, message)


def small_residual_network():
    """A stem (Conv2D, BatchNorm, ReLU), one identity block and a classifier on 8x8x3 images, 6 classes,
    named layer by layer; seeded, so every run starts from the same weights."""
    init = lambda seed: keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=init(1), name="stem_conv")(inputs)
    x = keras.layers.BatchNormalization(axis=3, name="stem_bn")(x)
    shortcut = keras.layers.Activation("relu", name="stem_relu")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=init(2), name="block_conv1")(shortcut)
    x = keras.layers.BatchNormalization(axis=3, name="block_bn1")(x)
    x = keras.layers.Activation("relu", name="block_relu1")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=init(3), name="block_conv2")(x)
    x = keras.layers.BatchNormalization(axis=3, name="block_bn2")(x)
    x = keras.layers.Add(name="block_add")([x, shortcut])
    x = keras.layers.Activation("relu", name="block_relu2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(6, activation="softmax", kernel_initializer=init(4), name="head")(x)
    return keras.Model(inputs, outputs, name="small_resnet")


def _images(n: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    # Not centred on the statistics BatchNorm has: one training step in training mode would move them.
    x = (rng.random((n, 8, 8, 3)) * 3 + 1).astype(np.float32)
    return x, np.eye(6, dtype=np.float32)[np.arange(n) % 6]


def _trained_here():
    """The network as a model just trained from scratch in this session: compiled, Adam at 04's rate, a step taken."""
    model = small_residual_network()
    model.compile(optimizer=keras.optimizers.Adam(FROM_SCRATCH_LEARNING_RATE), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = _images(seed=1)
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    return model


def _read_from_file():
    """The network as notebook 04's saved model is read back: trained weights, no optimizer, not compiled."""
    model = small_residual_network()
    x, _ = _images(seed=1)
    for layer in model.layers:   # statistics that differ from a fresh layer's, as a trained model's do
        if isinstance(layer, keras.layers.BatchNormalization):
            out = keras.Model(model.input, layer.input)(x).numpy()
            layer.moving_mean.assign(out.mean(axis=(0, 1, 2)))
            layer.moving_variance.assign(out.var(axis=(0, 1, 2)) + 0.5)
    return model


def _weights(model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.array(w) for w in layer.weights] for layer in model.layers if layer.weights}


def _learning_rate(optimizer) -> float | None:
    rate = getattr(optimizer, "learning_rate", None)
    if rate is None:
        return None
    try:
        return float(np.array(rate))
    except (TypeError, ValueError):
        schedule = getattr(optimizer, "_learning_rate", None)
        initial = getattr(schedule, "initial_learning_rate", None)
        return float(initial) if initial is not None else None


def _judge(prepare_fine_tuning, model, compiled_before: bool):
    names = [layer.name for layer in model.layers]
    before_first = set(names[:names.index(FIRST_TRAINABLE)])
    optimizer_before = getattr(model, "optimizer", None)
    try:
        returned = prepare_fine_tuning(model, FIRST_TRAINABLE, EXAMPLE_RATE)
    except CheckFailed:
        raise
    except Exception as e:   # noqa: BLE001 - any error of the student's code becomes a hint
        _fail(f"calling prepare_fine_tuning(model, {FIRST_TRAINABLE!r}, {EXAMPLE_RATE}) raised "
              f"{type(e).__name__}: {first_line(e)}")
    if returned is None:
        _fail("returned None. Finish the code in the START CODE HERE region and keep the final `return model`.")
    if not isinstance(returned, keras.Model):
        _fail(f"returned a {type(returned).__name__}; return the model, ready to fine-tune.")
    model = returned
    layers = {layer.name: layer for layer in model.layers}
    if FIRST_TRAINABLE not in layers:
        _fail(f"the model you returned has no layer named {FIRST_TRAINABLE!r}: change the layers' `trainable` "
              "flags on the model you were given, and return it.")
    with_weights = [n for n in layers if layers[n].weights]
    batchnorms = [n for n in with_weights if isinstance(layers[n], keras.layers.BatchNormalization)]
    frozen_part = [n for n in with_weights if n in before_first and n not in batchnorms]
    learning_part = [n for n in with_weights if n not in before_first and n not in batchnorms]

    # What the flags say.
    if all(layers[n].trainable for n in with_weights) and getattr(model, "optimizer", None) is optimizer_before:
        _fail("changed nothing: every layer is still trainable and the model was not compiled again. Please "
              "finish the code between START CODE HERE and END CODE HERE.")
    if all(not layers[n].trainable for n in learning_part):
        if all(layers[n].trainable for n in frozen_part):
            _fail("the wrong end is frozen: the layers from `first_trainable` on are frozen and the ones before it "
                  "still learn. Freeze the layers before `first_trainable`; keep it and the layers after it trainable.")
        _fail("every layer is frozen: nothing can learn. Keep the layers from `first_trainable` on (the classifier "
              "at least) trainable.")
    if not layers[FIRST_TRAINABLE].trainable:
        _fail(f"the layer {FIRST_TRAINABLE!r} is frozen, and it is `first_trainable`: the first layer that keeps "
              "learning. Freeze only the layers before it.")
    stuck = [n for n in learning_part if not layers[n].trainable]
    if stuck:
        _fail(f"the layer {stuck[0]!r} comes after `first_trainable` but is frozen: freeze only the layers before "
              "`first_trainable`.")
    if all(layers[n].trainable for n in frozen_part):
        _fail(f"nothing is frozen: the layers before `first_trainable` ({', '.join(frozen_part)} here) still have "
              "trainable = True. Set `layer.trainable = False` on each of them.")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        _fail("the model is not compiled: it cannot be trained. After changing the `trainable` flags, compile it: "
              "model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss='categorical_crossentropy', "
              "metrics=['accuracy']).")
    rate = _learning_rate(model.optimizer)
    if rate is not None and not np.isclose(rate, EXAMPLE_RATE, rtol=1e-6):
        hint = (" It is still the optimizer the model was compiled with before: compile again after freezing."
                if compiled_before and np.isclose(rate, FROM_SCRATCH_LEARNING_RATE) else "")
        _fail(f"the optimizer's learning rate is {rate:g}, not the `learning_rate` argument ({EXAMPLE_RATE:g}): "
              f"compile with keras.optimizers.Adam(learning_rate).{hint}")

    # What one training step does.
    start = _weights(model)
    x, y = _images()
    try:
        model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    except Exception as e:   # noqa: BLE001
        msg = first_line(e)
        if "compile" in msg:
            _fail("the model cannot be trained: compile it after changing the `trainable` flags, "
                  "model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss='categorical_crossentropy', "
                  "metrics=['accuracy']).")
        _fail(f"one training step on one-hot labels raised {type(e).__name__}: {msg}. The labels are one-hot, as in "
              "notebook 04: compile with loss='categorical_crossentropy'.")
    end = _weights(model)
    changed = lambda n: any(not np.array_equal(a, b) for a, b in zip(start[n], end[n]))
    moved = [n for n in frozen_part if changed(n)]
    if moved:
        if compiled_before:
            _fail(f"the frozen layer {moved[0]!r} still changed in a training step. Keras builds the training step "
                  "from the `trainable` flags once, at the first fit after compile: compile the model again after "
                  "freezing.")
        _fail(f"the frozen layer {moved[0]!r} still changed in a training step: set `trainable = False` on it and "
              "compile the model afterwards.")
    drifted = [n for n in batchnorms if changed(n)]
    if drifted:
        _fail(f"the BatchNormalization layer {drifted[0]!r} changed its moving mean and variance in a training "
              "step: it ran in training mode. Keep every BatchNormalization layer in inference mode while "
              "fine-tuning by setting its `trainable = False` (in Keras 3 that also makes it use its moving "
              "statistics), the ones after `first_trainable` too; `training=False` where the model was built "
              "does not last through fit. A few new images would otherwise overwrite statistics learned on "
              "a thousand.")
    if not any(changed(n) for n in learning_part):
        _fail("nothing changed in a training step: the layers from `first_trainable` on must learn. Are they "
              "trainable, and is the learning rate above 0?")


def check_prepare_fine_tuning(prepare_fine_tuning, learning_rate) -> None:
    """Judge ``prepare_fine_tuning`` on the small network, trained here and read from a file, and the learning
    rate chosen for fine-tuning (``learning_rate``); print "All tests passed." or raise CheckFailed."""
    if prepare_fine_tuning is None:
        _fail("is None: run the cell that defines it first.")
    _judge(prepare_fine_tuning, _trained_here(), compiled_before=True)
    _judge(prepare_fine_tuning, _read_from_file(), compiled_before=False)
    check_fine_tuning_rate(learning_rate)
    print("All tests passed.")


def check_fine_tuning_rate(learning_rate) -> None:
    """The rate chosen for fine-tuning: a positive number well below the from-scratch rate."""
    if learning_rate is None:
        raise CheckFailed("FINE_TUNING_LEARNING_RATE is None: choose the learning rate for fine-tuning.")
    try:
        rate = float(learning_rate)
    except (TypeError, ValueError):
        raise CheckFailed(f"FINE_TUNING_LEARNING_RATE is {learning_rate!r}: a learning rate is one number, "
                          "like 1e-4.") from None
    if not rate > 0:
        raise CheckFailed(f"FINE_TUNING_LEARNING_RATE is {rate:g}: a learning rate must be above 0.")
    if rate >= FROM_SCRATCH_LEARNING_RATE / 4:
        raise CheckFailed(f"FINE_TUNING_LEARNING_RATE is {rate:g}, about as high as training from scratch "
                          f"(notebook 04 started at {FROM_SCRATCH_LEARNING_RATE:g}). Steps that large would throw away "
                          "much of what the model learned in its first few updates: fine-tune at a tenth to a "
                          "hundredth of it.")
    if rate < FROM_SCRATCH_LEARNING_RATE / 1000:
        raise CheckFailed(f"FINE_TUNING_LEARNING_RATE is {rate:g}, a thousandth of the from-scratch rate or less: "
                          "in a few epochs the weights would barely move. Fine-tune at about a tenth to a "
                          "hundredth of it.")
