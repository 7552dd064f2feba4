"""The helpers notebook 04 uses around training: images, diagrams, plots."""
import numpy as np
import pytest

import resnets_utils as ru


def test_load_image_crops_to_a_square_and_scales(tmp_path):
    from PIL import Image

    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = 255          # the centre square is white, the sides black
    Image.fromarray(wide).save(tmp_path / "wide.png")
    image = ru.load_image(tmp_path / "wide.png")
    assert image.shape == (1, 64, 64, 3) and image.dtype == np.float32
    assert image.min() > 0.95


def test_load_image_turns_a_phone_photo_upright(tmp_path):
    """Phones save a portrait photo as a landscape image with an EXIF orientation tag; read as stored, the hand
    would lie on its side."""
    from PIL import Image

    upright = np.zeros((80, 40, 3), np.uint8)
    upright[:40] = 255                      # the top half white, as the photo is seen
    stored = Image.fromarray(np.rot90(upright, k=1).copy())   # saved turned a quarter left ...
    exif = Image.Exif()
    exif[274] = 6                           # ... with "turn 90 degrees clockwise to view"
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = ru.load_image(tmp_path / "phone.jpg", size=40)[0]
    assert image[:15].mean() > 0.9 and image[-15:].mean() < 0.1


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(ru.CourseError, match="was not found"):
        ru.load_image(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(ru.CourseError, match="not an image Pillow can read"):
        ru.load_image(tmp_path / "bad.jpg")


def test_draw_model_without_graphviz_explains_and_returns_none(monkeypatch, tmp_path, capsys):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert ru.draw_model(object(), "m", folder=tmp_path) is None
    out = capsys.readouterr().out
    assert "apt-get install graphviz" in out and "rest of the notebook does not need" in out
    assert not list(tmp_path.iterdir())


def test_confusion_matrix_counts():
    counts = ru.confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], n_classes=3)
    assert counts.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_require_names_the_exercise():
    assert ru.require(3, "x", "Exercise 3") == 3
    with pytest.raises(ru.CourseError, match="finish Exercise 3"):
        ru.require(None, "model", "Exercise 3")


def test_quick_run_reads_the_environment(monkeypatch):
    monkeypatch.delenv(ru.QUICK_ENV, raising=False)
    assert not ru.quick_run()
    monkeypatch.setenv(ru.QUICK_ENV, "1")
    assert ru.quick_run()


def _small_compiled_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x)))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    return model


def _fit_counting_traces(model, x, y):
    """Fit two epochs; return (how many times Python ran train_step, that is, traces, and the history)."""
    traces, train_step = [], model.train_step

    def counted(data):
        traces.append(1)
        return train_step(data)

    model.train_step = counted
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    return len(traces), history.history


def test_create_training_variables_halves_the_tracing_and_changes_no_number():
    x = np.random.default_rng(0).random((16, 8, 8, 3), np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(16) % 3]
    plain_traces, plain_history = _fit_counting_traces(_small_compiled_model(), x, y)
    model = _small_compiled_model()
    ru.create_training_variables(model, x, y)
    assert model.optimizer.built
    traces, history = _fit_counting_traces(model, x, y)
    assert (plain_traces, traces) == (2, 1)
    assert history == plain_history


def test_create_training_variables_needs_a_compiled_model():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="call model.compile"):
        ru.create_training_variables(model, np.zeros((1, 2)), np.zeros((1, 1)))


def test_compile_for_training_is_compile_without_xla_and_with_the_variables_made():
    """Notebook 04's one training helper: the same compile arguments as before, XLA off, variables created."""
    import keras

    model = _small_compiled_model()
    ru.compile_for_training(model, keras.optimizers.Adam(1e-3), np.zeros((1, 8, 8, 3), np.float32),
                            np.eye(3, dtype=np.float32)[:1], loss="categorical_crossentropy", metrics=["accuracy"])
    assert model.optimizer.built and model.jit_compile is False
    assert model.loss == "categorical_crossentropy"


def _block_model(name, **kwargs):
    import keras

    from tests.notebook_tools import NOTEBOOKS

    notebook = {"identity_block": "02_identity_block.ipynb", "convolutional_block": "03_convolutional_block.ipynb"}
    block = ru.import_exercise(notebook[name], name, NOTEBOOKS)
    inputs = keras.Input((8, 8, 8))
    return keras.Model(inputs, block(inputs, f=3, training=False, **kwargs))


def test_start_blocks_as_identity_makes_an_identity_block_pass_its_input_through():
    model = _block_model("identity_block", filters=[4, 4, 8])
    x = np.random.default_rng(0).random((2, 8, 8, 8), np.float32)   # >= 0, as after a ReLU
    assert not np.allclose(model(x, training=False), x)
    assert ru.start_blocks_as_identity(model) == 1
    np.testing.assert_allclose(model(x, training=False), x, atol=1e-6)


def test_start_blocks_as_identity_keeps_a_convolutional_blocks_projection():
    import keras

    model = _block_model("convolutional_block", filters=[4, 4, 16], s=2)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert ru.start_blocks_as_identity(model) == 1
    zeroed = [n.name for n in norms if not np.any(n.gamma.numpy())]
    assert len(zeroed) == 1, zeroed
    # The zeroed one is on the main path: the projection still reaches the output.
    x = np.random.default_rng(0).random((2, 8, 8, 8), np.float32)
    assert np.any(model(x, training=False).numpy())


def test_start_blocks_as_identity_finds_every_block_of_resnet50():
    import keras

    from bench.course import course_resnet50

    model = course_resnet50()(input_shape=(64, 64, 3), classes=6)
    assert ru.start_blocks_as_identity(model) == 16
    zero = [layer for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization) and not np.any(layer.gamma.numpy())]
    assert len(zero) == 16


def test_start_blocks_as_identity_explains_an_add_without_a_main_path():
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Add()([inputs, keras.layers.Dense(4)(inputs)]))
    with pytest.raises(ValueError, match="found 0"):
        ru.start_blocks_as_identity(model)


def test_reestimate_batchnorm_statistics_makes_inference_match_training_on_the_same_images():
    model = _block_model("identity_block", filters=[4, 4, 8])
    x = np.random.default_rng(1).random((12, 8, 8, 8), np.float32)
    # Moving averages as fit leaves them after a few steps: not the statistics of x.
    assert not np.allclose(model(x, training=False), model(x, training=True), atol=1e-3)
    assert ru.reestimate_batchnorm_statistics(model, x, batch_size=len(x)) == 3
    # One batch: each layer's moving statistics are now those of the batch, so both modes agree.
    np.testing.assert_allclose(model(x, training=False), model(x, training=True), atol=1e-4)


def test_reestimate_batchnorm_statistics_pools_uneven_batches_exactly():
    import keras

    model = _block_model("identity_block", filters=[4, 4, 8])
    x = np.random.default_rng(2).random((10, 8, 8, 8), np.float32) * 3 + 1
    ru.reestimate_batchnorm_statistics(model, x, batch_size=4)   # batches of 4, 4 and 2
    first = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    # The first BatchNorm's input does not depend on any normalisation: its statistics over all 10 images.
    conv_output = keras.Model(model.input, first.input)(x).numpy().astype(np.float64)
    np.testing.assert_allclose(first.moving_mean.numpy(), conv_output.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first.moving_variance.numpy(), conv_output.var(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)


def test_reestimate_batchnorm_statistics_keeps_the_old_statistics_when_it_fails(monkeypatch):
    import keras

    model = _block_model("identity_block", filters=[4, 4, 8])
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for norm in norms:
        norm.moving_mean.assign(np.full(norm.moving_mean.shape, 0.5, np.float32))
    x = np.random.default_rng(3).random((8, 8, 8, 8), np.float32)
    calls, call = [], keras.Model.__call__

    def interrupted_on_the_second_batch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt   # the first batch has already moved the averages
        return call(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "__call__", interrupted_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        ru.reestimate_batchnorm_statistics(model, x, batch_size=4)
    assert len(calls) == 2
    assert all(np.all(norm.moving_mean.numpy() == 0.5) for norm in norms)


def test_reestimate_batchnorm_statistics_without_images_or_with_one_batchnorm_or_none():
    import keras

    model = _block_model("identity_block", filters=[4, 4, 8])
    with pytest.raises(ValueError, match="x is empty"):
        ru.reestimate_batchnorm_statistics(model, np.zeros((0, 8, 8, 8), np.float32))
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert ru.reestimate_batchnorm_statistics(dense, np.zeros((2, 3), np.float32)) == 0
    # One BatchNorm layer (a probe with one output gives one tensor, not a list of them).
    single = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    x = np.random.default_rng(4).random((6, 4), np.float32) * 5
    assert ru.reestimate_batchnorm_statistics(single, x) == 1
    np.testing.assert_allclose(single.layers[0].moving_mean.numpy(), x.mean(axis=0), rtol=1e-5)


def test_predict_with_mirror_image_averages_an_image_and_its_mirror_image():
    import keras

    model = keras.Sequential([keras.Input((2, 3, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax", kernel_initializer="glorot_uniform")])
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3, 1) / 12
    mirrored = x[:, :, ::-1]   # columns reversed: left and right swap
    assert mirrored[0, 0, 0, 0] == x[0, 0, 2, 0]
    expected = (model.predict(x, verbose=0) + model.predict(mirrored, verbose=0)) / 2
    np.testing.assert_allclose(ru.predict_with_mirror_image(model, x), expected, rtol=1e-6)
    # An image and its mirror image get the same reading.
    np.testing.assert_allclose(ru.predict_with_mirror_image(model, mirrored), expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"image\[None\]"):
        ru.predict_with_mirror_image(model, x[0])
