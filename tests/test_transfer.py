"""The helpers of notebook 06's fine-tuning: drawing k photos per sign, where each stage begins, reading 04's model."""
import numpy as np
import pytest

from resnets_course.environment import import_tensorflow_quietly
from resnets_course.errors import CourseError
from resnets_course.transfer import first_layer_of_stage, load_trained_resnet50, photos_per_sign

import_tensorflow_quietly()
import keras  # noqa: E402


def test_k_photos_of_each_sign_in_file_order():
    x, y = np.arange(60)[:, None], np.repeat(np.arange(6), 10)
    xs, ys = photos_per_sign(x, y, 3, seed=1)
    assert np.bincount(ys).tolist() == [3] * 6 and (np.diff(xs.ravel()) > 0).all()
    assert (xs.ravel() // 10 == ys).all(), "each photo keeps its label"
    assert np.array_equal(photos_per_sign(x, y, 3, seed=1)[0], xs)
    assert not np.array_equal(photos_per_sign(x, y, 3, seed=2)[0], xs)
    assert photos_per_sign(x, y, None)[0] is x
    small = photos_per_sign(x, y, 2, seed=1)[0].ravel()
    with pytest.raises(CourseError, match="fewer than k=11"):
        photos_per_sign(x, y, 11)
    with pytest.raises(CourseError, match="whole number"):
        photos_per_sign(x, y, 0)
    assert len(small) == 12


@pytest.fixture(scope="module")
def resnet50():
    from bench.course import course_resnet50

    return course_resnet50()(input_shape=(64, 64, 3), classes=6)


@pytest.mark.parametrize("stage, kind, shape", [(2, keras.layers.Conv2D, (16, 16, 64)),
                                                (3, keras.layers.Conv2D, (8, 8, 128)),
                                                (5, keras.layers.Conv2D, (2, 2, 512)),
                                                ("head", keras.layers.AveragePooling2D, (1, 1, 2048))])
def test_where_each_stage_of_resnet50_begins(resnet50, stage, kind, shape):
    layer = resnet50.get_layer(first_layer_of_stage(resnet50, stage))
    assert isinstance(layer, kind) and tuple(layer.output.shape[1:]) == shape
    before = resnet50.layers[:resnet50.layers.index(layer)]
    adds = sum(isinstance(l, keras.layers.Add) for l in before)
    assert adds == {2: 0, 3: 3, 5: 13, "head": 16}[stage]


def test_a_stage_that_is_not_there_is_named(resnet50):
    with pytest.raises(CourseError, match="from 2 to 5, or 'head'"):
        first_layer_of_stage(resnet50, 6)


def test_without_notebook_04s_model_the_message_says_to_run_it(tmp_path):
    with pytest.raises(CourseError, match="run notebook 04 to the end"):
        load_trained_resnet50(tmp_path / "resnet50_signs.keras")
    (tmp_path / "broken.keras").write_bytes(b"not a model")
    with pytest.raises(CourseError, match="Run notebook 04 again"):
        load_trained_resnet50(tmp_path / "broken.keras")


def test_notebook_04s_file_reads_back_as_one_input_model_with_the_same_predictions(tmp_path):
    from resnets_course.checks.transfer import small_residual_network

    model = small_residual_network()
    keras.Model(model.inputs, model.outputs, name=model.name).save(tmp_path / "m.keras")   # as notebook 04 saves
    read_back = load_trained_resnet50(tmp_path / "m.keras")
    x = np.random.default_rng(0).random((4, 8, 8, 3)).astype(np.float32)
    assert np.array_equal(read_back.predict(x, verbose=0), model.predict(x, verbose=0))
    assert not isinstance(read_back.inputs, list) or len(read_back.inputs) == 1


def test_in_quick_mode_an_untrained_resnet50_stands_in(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("RESNETS_QUICK", "1")
    model = load_trained_resnet50(tmp_path / "not-there.keras")
    assert model.count_params() == 23_600_006 and "stands in" in capsys.readouterr().out


def _tiny_run():
    from resnets_course.checks.transfer import small_residual_network
    from tests.transfer_mistakes import SOLUTION

    namespace = {}
    exec("import keras\n" + SOLUTION, namespace)
    model = small_residual_network()
    x = np.random.default_rng(1).random((40, 8, 8, 3)).astype(np.float32)
    return model, namespace["prepare_fine_tuning"], x, np.eye(6, dtype=np.float32)[np.arange(40) % 6]


def test_fine_tune_starts_every_run_from_the_same_weights_and_freezes_as_prepared():
    from resnets_course.transfer import fine_tune

    model, prepare, x, y = _tiny_run()
    start = model.get_weights()
    runs = []
    for _ in range(2):
        fine_tune(model, start, prepare, "block_conv1", 1e-3, x, y, keras.layers.Identity(), steps=6, seed=3)
        runs.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*runs)), "the same seed and start give the same run"
    assert np.array_equal(model.get_layer("stem_conv").get_weights()[0], start[0])
    assert not np.array_equal(model.get_layer("head").get_weights()[0], start[-2])


def test_fine_tune_and_train_from_scratch_name_bad_input():
    from resnets_course.transfer import fine_tune, train_from_scratch

    model, prepare, x, y = _tiny_run()
    start = model.get_weights()
    with pytest.raises(CourseError, match="Divide them by 255"):
        fine_tune(model, start, prepare, "block_conv1", 1e-3, (x * 255).astype(np.uint8), y, keras.layers.Identity())
    with pytest.raises(CourseError, match="Divide them by 255"):
        train_from_scratch(model, start, x * 255, y, keras.layers.Identity(), steps=2)
    with pytest.raises(CourseError, match="returned None: finish Exercise 1"):
        fine_tune(model, start, lambda m, f, r: None, "block_conv1", 1e-3, x, y, keras.layers.Identity())
    fresh = keras.models.clone_model(model)
    with pytest.raises(CourseError, match="not compiled: finish Exercise 1"):
        fine_tune(fresh, start, lambda m, f, r: m, "block_conv1", 1e-3, x, y, keras.layers.Identity())


def test_train_from_scratch_trains_every_layer_with_notebook_04s_recipe():
    """The recipe's settings are notebook 04's (its recipe cell states them), and every layer learns."""
    import inspect

    from bench.course import recipe_cell
    from resnets_course import transfer

    source, cell = inspect.getsource(transfer.train_from_scratch), recipe_cell()
    settings = ("CosineDecay(2e-3", "label_smoothing=0.1", "layer.momentum = 0.9", "start_blocks_as_identity(model)")
    for setting in settings:
        assert setting in source and setting in cell, setting
    assert "BATCH_SIZE = 16" in cell and transfer.BATCH_SIZE == 16
    model, prepare, x, y = _tiny_run()
    start = model.get_weights()
    prepare(model, "head", 1e-4)   # a model left frozen by fine-tuning: from scratch unfreezes it
    transfer.train_from_scratch(model, start, x, y, keras.layers.Identity(), steps=6)
    assert all(layer.trainable for layer in model.layers)
    assert not np.array_equal(model.get_layer("stem_conv").get_weights()[0], start[0])


def test_a_set_of_photos_is_read_by_every_saved_model_sign_by_sign(tmp_path, capsys):
    """tools.read_photos (and read_photos in notebook 06) take a folder with a subfolder per sign, any photo size,
    or a SIGNS .h5 file; errors name the layout expected."""
    import shutil

    from resnets_course.data import load_photo_set
    from resnets_course.environment import DATASETS
    from tools import read_photos

    photos = tmp_path / "photos"
    for sign in (0, 3):   # two signs only, two photos each, as they came from the camera (100x100 JPEG)
        (photos / str(sign)).mkdir(parents=True)
        for file in sorted((DATASETS / "real" / "photos" / str(sign)).glob("*.JPG"))[:2]:
            shutil.copy(file, photos / str(sign) / file.name)
    (photos / "3" / "notes.txt").write_text("not a photo")
    x, y = load_photo_set(photos)
    assert x.shape == (4, 64, 64, 3) and x.dtype == np.uint8 and y.tolist() == [0, 0, 3, 3]
    x_h5, y_h5 = load_photo_set(DATASETS / "real" / "test_signs.h5")
    assert x_h5.shape == (324, 64, 64, 3) and np.bincount(y_h5).tolist() == [54] * 6

    inputs = keras.Input((64, 64, 3))
    always_3 = keras.Model(inputs, keras.layers.Dense(6, activation="softmax", kernel_initializer="zeros",
                                                       bias_initializer=keras.initializers.Constant(
                                                           [0, 0, 0, 5, 0, 0]))(
        keras.layers.GlobalAveragePooling2D()(inputs)))
    always_3.save(tmp_path / "always_3.keras")
    assert read_photos.main([str(photos), "--model", str(tmp_path / "always_3.keras")]) == 0
    out = capsys.readouterr().out
    assert "4 photos" in out and "0.500" in out and "0/2" in out and "2/2" in out
    header, row = out.splitlines()[1:3]   # a model's path longer than the column's usual width still lines up
    assert len(str(tmp_path / "always_3.keras")) > 38 and header.index("sign 0") == row.index("0/2")

    for bad, message in ((tmp_path / "empty", "holds no photos"), (tmp_path / "x.h5", "neither a folder")):
        if bad.suffix != ".h5":
            bad.mkdir()
        assert read_photos.main([str(bad), "--model", str(tmp_path / "always_3.keras")]) == 1
        assert message in capsys.readouterr().err
