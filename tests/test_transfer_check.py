"""Notebook 06's check (getting a trained model ready to fine-tune) passes the solution and correct variants,
and names every catalogued mistake; the Keras behaviours its hints state hold in the pinned Keras."""
import re

import numpy as np
import pytest

from resnets_course.environment import import_tensorflow_quietly
from tests import transfer_mistakes as tm
from tests.notebook_tools import NOTEBOOKS, read

import_tensorflow_quietly()
import keras  # noqa: E402

from resnets_course.checks import transfer  # noqa: E402
from resnets_course.errors import CheckFailed  # noqa: E402


def define(source):
    namespace = {}
    exec("import keras\n" + source, namespace)
    return namespace["prepare_fine_tuning"], namespace["FINE_TUNING_LEARNING_RATE"]


def test_the_solution_passes(capsys):
    transfer.check_prepare_fine_tuning(*define(tm.SOLUTION))
    assert capsys.readouterr().out.strip() == "All tests passed."


@pytest.mark.parametrize("variant", [
    # freeze everything, then thaw what learns
    [(tm.LOOP, "    model.trainable = True\n    for layer in model.layers[:first]:\n        layer.trainable = False\n"
               "    for layer in model.layers:\n        if isinstance(layer, keras.layers.BatchNormalization):\n"
               "            layer.trainable = False\n")],
    # label smoothing, another metric, a schedule that starts at the rate
    [('loss="categorical_crossentropy"', "loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1)"),
     ('metrics=["accuracy"]', 'metrics=["categorical_accuracy"]')],
    [("keras.optimizers.Adam(learning_rate)", "keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, 100))")],
    [("FINE_TUNING_LEARNING_RATE = 1e-4", "FINE_TUNING_LEARNING_RATE = 3e-5")],
    # compile first, freeze after: the training step is built from the flags at the first fit
    [(tm.COMPILE, ""), ("    names = [", tm.COMPILE + "    names = [")],
], ids=["freeze-all-then-thaw", "smoothing-and-metric", "cosine-schedule", "lower-rate", "compile-then-freeze"])
def test_correct_variants_pass(variant, capsys):
    transfer.check_prepare_fine_tuning(*define(tm.apply(tm.SOLUTION, variant)))
    assert capsys.readouterr().out.strip() == "All tests passed."


@pytest.mark.parametrize("mistake", tm.MISTAKES, ids=[m[0] for m in tm.MISTAKES])
def test_the_check_names_the_mistake(mistake):
    _, edits, hint = mistake
    with pytest.raises(CheckFailed) as e:
        transfer.check_prepare_fine_tuning(*define(tm.apply(tm.SOLUTION, edits)))
    assert hint in str(e.value), f"expected the hint {hint!r}, got: {e.value}"
    assert e.value._render_traceback_() == [f"CheckFailed: {e.value}"]


def test_at_least_ten_mistakes_each_with_its_own_edit():
    assert len(tm.MISTAKES) >= 10
    sources = [tm.apply(tm.SOLUTION, edits) for _, edits, _ in tm.MISTAKES]
    assert len(set(sources)) == len(sources) and tm.SOLUTION not in sources


def test_the_from_scratch_rate_is_notebook_04s():
    recipe = "".join(c.source for c in read(NOTEBOOKS / "04_resnet50.ipynb").cells if c.cell_type == "code")
    [start] = re.findall(r"CosineDecay\(([\d.e-]+), steps\)", recipe)
    assert float(start) == transfer.FROM_SCRATCH_LEARNING_RATE


def _one_step(model):
    x, y = transfer._images()
    before = transfer._weights(model)
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    after = transfer._weights(model)
    return {name: any(not np.array_equal(a, b) for a, b in zip(before[name], after[name])) for name in before}


def test_keras_reads_trainable_at_the_first_fit_after_compiling():
    """What the hints say about Keras 3: on a model that has trained, `trainable = False` without compiling again
    changes nothing; after compiling, frozen layers keep their weights, and a frozen BatchNormalization its
    statistics."""
    model = transfer._trained_here()
    for layer in model.layers[:4]:
        layer.trainable = False
    assert _one_step(model)["stem_conv"] and _one_step(model)["stem_bn"]
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy")
    changed = _one_step(model)
    assert not changed["stem_conv"] and not changed["stem_bn"] and changed["block_bn1"] and changed["head"]


def test_a_frozen_batchnorm_reads_its_moving_statistics_while_training():
    """trainable = False puts BatchNormalization in inference mode during fit: its output is the same whether
    called in training mode or not."""
    model = transfer._read_from_file()
    bn = model.get_layer("block_bn1")
    x = keras.Model(model.input, bn.input)(transfer._images()[0])
    assert not np.allclose(bn(x, training=True), bn(x, training=False), atol=1e-3)
    bn.trainable = False
    np.testing.assert_allclose(bn(x, training=True), bn(x, training=False), atol=1e-6)


def test_training_false_where_the_model_was_built_does_not_last_through_fit():
    """Why the hint says to use `trainable`: a BatchNormalization called with training=False when the model was
    built still moves its statistics in fit."""
    inputs = keras.Input((8, 8, 3))
    bn = keras.layers.BatchNormalization(axis=3)
    outputs = keras.layers.Dense(6, activation="softmax")(keras.layers.GlobalAveragePooling2D()(bn(inputs, training=False)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy")
    start = np.array(bn.moving_mean)
    x, y = transfer._images()
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    assert not np.array_equal(start, np.array(bn.moving_mean))
