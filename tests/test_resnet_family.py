"""The counting helpers of notebook 05, on small models whose counts are known by hand."""
import pytest

from resnets_utils import CheckFailed, import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402

from resnets_course.checks.models import check_family_table  # noqa: E402
from resnets_course.counting import (KERAS_APPLICATIONS, KERAS_APPLICATIONS_V2, TABLE1_GFLOPS,  # noqa: E402
                                     TORCHVISION_PARAMS, FamilyRow, count_parameters, keras_applications_count,
                                     multiply_adds)


def small_model():
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)          # 4x4x4 outputs, 27 weights each
    y = keras.layers.BatchNormalization()(y)
    z = keras.layers.Conv2D(4, 1, use_bias=False)(x)                      # no BatchNorm after it
    z = keras.layers.MaxPooling2D(2)(z)
    y = keras.layers.Add()([y, z])
    y = keras.layers.GlobalAveragePooling2D()(y)
    return keras.Model(x, keras.layers.Dense(5)(y))


def test_multiply_adds_counts_convolutions_and_dense_layers():
    assert multiply_adds(small_model()) == 4 * 4 * 4 * 27 + 8 * 8 * 4 * 3 + 4 * 5


def test_parameter_breakdown():
    count = count_parameters(small_model())
    assert count.total == (27 * 4 + 4) + 4 * 4 + 3 * 4 + (4 * 5 + 5)
    assert count.conv_biases == 4 and count.conv_biases_before_bn == 4
    assert count.bn_moving_statistics == 8
    assert count.torchvision_style == count.total - 12


def test_keras_applications_counts_the_course_quotes():
    """The reference counts the notebook and shared/COURSE.md quote, measured from keras itself."""
    assert keras.applications.ResNet50(weights=None).count_params() == 25_636_712
    assert keras.applications.ResNet50V2(weights=None).count_params() == 25_613_800


def row(depth, gflops, params=1, torchvision=None):
    return FamilyRow(depth, "basic", params, torchvision or TORCHVISION_PARAMS[depth], int(gflops * 1e9), 0, 0)


def test_family_table_check_accepts_the_references(capsys):
    check_family_table([row(d, g) for d, g in TABLE1_GFLOPS.items()])
    assert "agrees" in capsys.readouterr().out


@pytest.mark.parametrize("bad, message", [
    (row(50, 4.2), "more than 5% away"),
    (row(18, 1.8, torchvision=11_000_000), "counted as torchvision does"),
    (FamilyRow(50, "bottleneck", 1, TORCHVISION_PARAMS[50], int(3.8e9), 0, 0, keras_params=2), "keras.applications"),
])
def test_family_table_check_names_a_mismatch(bad, message):
    with pytest.raises(CheckFailed, match=message):
        check_family_table([bad])


@pytest.mark.parametrize("reference", [KERAS_APPLICATIONS, KERAS_APPLICATIONS_V2], ids=["v1", "v2"])
def test_stored_keras_applications_counts_are_what_keras_builds(reference):
    for depth, (name, stored) in reference.items():
        assert keras_applications_count(name) == stored, f"{name}: update its count in resnets_course/counting.py"
