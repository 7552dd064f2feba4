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
