"""The fast BatchNorm (resnets_course.keras_internals): Keras's own layer computed by TensorFlow's fused
kernel gives Keras's results, runs the fused kernel only where it applies, and saves a model that plain
Keras loads."""
import json
import subprocess
import sys

import numpy as np
import pytest

from resnets_course.keras_internals import fused_batchnorm, keras, tf


def _pair(shape, rng, **kwargs):
    """Two Keras BatchNormalization layers with the same random gamma and beta, built for `shape`."""
    layers = keras.layers.BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    gamma, beta = rng.normal(1, 0.5, shape[-1]), rng.normal(0, 0.5, shape[-1])
    for layer in layers:
        layer.build(shape)
        layer.gamma.assign(gamma.astype(np.float32))
        layer.beta.assign(beta.astype(np.float32))
    return layers


def _step(layer, x, upstream, fused):
    """Outputs, input gradient and gamma/beta gradients of one training-mode call."""
    with fused_batchnorm(fused), tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * upstream)
    return [y, *tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])]


@pytest.mark.parametrize("shape", [(32, 15, 15, 64), (32, 2, 2, 2048), (3, 1, 1, 5)])
def test_same_results_as_keras_layer(shape):
    rng = np.random.default_rng(0)
    keras_bn, fused_bn = _pair(shape, rng, axis=3, momentum=0.9)
    for _ in range(3):   # three updates of the moving statistics
        x = tf.constant(rng.normal(2.0, 3.0, shape).astype(np.float32))
        upstream = tf.constant(rng.normal(size=shape).astype(np.float32))
        for name, want, got in zip(["outputs", "d/dx", "d/dgamma", "d/dbeta"],
                                   _step(keras_bn, x, upstream, False), _step(fused_bn, x, upstream, True)):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()), err_msg=name)
    with fused_batchnorm(False):
        keras_outputs = [keras_bn(x, training=False), keras_bn(x)]
    with fused_batchnorm(True):
        fused_outputs = [fused_bn(x, training=False), fused_bn(x)]
    for want, got in [(keras_bn.moving_mean, fused_bn.moving_mean),
                      (keras_bn.moving_variance, fused_bn.moving_variance),   # biased variance, as in Keras
                      *zip(keras_outputs, fused_outputs)]:
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def _op_types(layer, x, training, fused=True):
    with fused_batchnorm(fused):
        graph = tf.function(lambda t: layer(t, training=training)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


def test_runs_the_fused_kernel_only_where_it_applies():
    x4 = tf.zeros((2, 4, 4, 3))
    fused = keras.layers.BatchNormalization(axis=3)
    for training in (True, False):
        ops = _op_types(fused, x4, training)
        assert "FusedBatchNormV3" in ops and "Mean" not in ops, (training, sorted(ops))
    # Keras's own code where the kernel does not apply: 2-D inputs, channels-first, a mask.
    for layer, x in [(keras.layers.BatchNormalization(), tf.zeros((2, 3))), (keras.layers.BatchNormalization(axis=1), x4)]:
        assert "FusedBatchNormV3" not in _op_types(layer, x, True)
    masked = keras.layers.BatchNormalization()
    mask = tf.constant([[True, True, False, False]] * 2)
    x3 = tf.random.normal((2, 4, 3), seed=1)
    with fused_batchnorm(True):
        got = masked(x3, training=True, mask=mask)
    with fused_batchnorm(False):
        want = keras.layers.BatchNormalization()(x3, training=True, mask=mask)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_the_environment_check_switches_it_on():
    from resnets_utils import check_environment

    with fused_batchnorm(False):
        check_environment()
        assert "FusedBatchNormV3" in _op_types(keras.layers.BatchNormalization(axis=3), tf.zeros((2, 4, 4, 3)), True,
                                               fused=True)


PLAIN_KERAS = """
import json, sys
import numpy as np
import keras
model = keras.models.load_model(sys.argv[1])
x = np.load(sys.argv[2])
course = sorted(name for name in sys.modules if name.startswith(("resnets_course", "resnets_utils")))
print(json.dumps({"course_modules": course, "predictions": model.predict(x, verbose=0).tolist(),
                  "batchnorm": sorted({type(l).__module__ + "." + type(l).__name__ for l in model.layers
                                       if "Normalization" in type(l).__name__})}))
"""


def test_notebook_04s_saved_model_loads_in_plain_keras(tmp_path):
    """The .keras file a student saves loads with keras.models.load_model in a Python that imports nothing
    of the course, and predicts the same classes (to 1e-5: the fused kernel and Keras's differ in the last bits)."""
    from bench.course import course_resnet50, signs_for_training

    (x_train, y_train), _, (x_test, _) = signs_for_training()
    with fused_batchnorm(True):
        model = course_resnet50()(input_shape=(64, 64, 3), classes=6)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        model.fit(x_train[:64], y_train[:64], batch_size=32, epochs=1, verbose=0)   # statistics away from 0 and 1
        path = tmp_path / "resnet50_signs.keras"
        model.save(path)
        ours = model.predict(x_test, verbose=0)
    np.save(tmp_path / "x.npy", x_test)
    run = subprocess.run([sys.executable, "-c", PLAIN_KERAS, str(path), str(tmp_path / "x.npy")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    plain = json.loads(run.stdout.strip().splitlines()[-1])
    assert plain["course_modules"] == [], "loading the model must not need the course"
    assert plain["batchnorm"] == ["keras.src.layers.normalization.batch_normalization.BatchNormalization"]
    theirs = np.asarray(plain["predictions"])
    np.testing.assert_allclose(theirs, ours, atol=1e-5, rtol=0)
    assert (theirs.argmax(axis=1) == ours.argmax(axis=1)).all()


def test_a_changed_keras_gets_a_clear_error(monkeypatch):
    from resnets_course import keras_internals
    from resnets_course.errors import CourseError

    monkeypatch.setattr(keras_internals.keras, "__version__", "4.0.0")
    with pytest.raises(CourseError, match=r"Keras 4.0.0 is not Keras 3.*pip install -r requirements.txt"):
        keras_internals.require_keras_internals()
