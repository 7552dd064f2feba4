"""fused_batchnorm.BatchNormalization: Keras's layer on TensorFlow's fused kernel, with Keras's results."""
import numpy as np
import pytest

from fused_batchnorm import BatchNormalization, tf

import keras  # noqa: E402  (after TensorFlow, imported quietly by fused_batchnorm)


def _pair(shape, rng, **kwargs):
    """A Keras layer and a fused one with the same random gamma and beta, built for `shape`."""
    layers = keras.layers.BatchNormalization(**kwargs), BatchNormalization(**kwargs)
    gamma, beta = rng.normal(1, 0.5, shape[-1]), rng.normal(0, 0.5, shape[-1])
    for layer in layers:
        layer.build(shape)
        layer.gamma.assign(gamma.astype(np.float32))
        layer.beta.assign(beta.astype(np.float32))
    return layers


def _step(layer, x, upstream):
    """Outputs, input gradient and gamma/beta gradients of one training-mode call."""
    with tf.GradientTape() as tape:
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
                                   _step(keras_bn, x, upstream), _step(fused_bn, x, upstream)):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()), err_msg=name)
    for want, got in [(keras_bn.moving_mean, fused_bn.moving_mean),
                      (keras_bn.moving_variance, fused_bn.moving_variance),   # biased variance, as in Keras
                      (keras_bn(x, training=False), fused_bn(x, training=False)),
                      (keras_bn(x), fused_bn(x))]:
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def _op_types(layer, x, training):
    graph = tf.function(lambda t: layer(t, training=training)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


def test_runs_the_fused_kernel_only_where_it_applies():
    x4 = tf.zeros((2, 4, 4, 3))
    fused = BatchNormalization(axis=3)
    for training in (True, False):
        ops = _op_types(fused, x4, training)
        assert "FusedBatchNormV3" in ops and "Mean" not in ops, (training, sorted(ops))
    # Keras's own code where the kernel does not apply: 2-D inputs, channels-first, a mask.
    for layer, x in [(BatchNormalization(), tf.zeros((2, 3))), (BatchNormalization(axis=1), x4)]:
        assert "FusedBatchNormV3" not in _op_types(layer, x, True)
    masked = BatchNormalization()
    mask = tf.constant([[True, True, False, False]] * 2)
    x3 = tf.random.normal((2, 4, 3), seed=1)
    np.testing.assert_allclose(masked(x3, training=True, mask=mask),
                               keras.layers.BatchNormalization()(x3, training=True, mask=mask), atol=1e-6)


def test_is_keras_layer_with_same_config_and_weights():
    fused, plain = BatchNormalization(axis=3, momentum=0.9), keras.layers.BatchNormalization(axis=3, momentum=0.9)
    fused.build((None, 8, 8, 4))
    plain.build((None, 8, 8, 4))
    assert isinstance(fused, keras.layers.BatchNormalization)
    assert type(fused).__name__ == "BatchNormalization"   # plot_model and the course's checks show this name
    drop_name = lambda config: {k: v for k, v in config.items() if k != "name"}  # noqa: E731
    assert drop_name(fused.get_config()) == drop_name(plain.get_config())
    assert [w.path.split("/")[-1] for w in fused.weights] == [w.path.split("/")[-1] for w in plain.weights]


def test_saved_model_reloads_with_the_fused_layer(tmp_path):
    inputs = keras.Input((6, 6, 2))
    model = keras.Model(inputs, BatchNormalization(axis=3)(keras.layers.Conv2D(3, 3)(inputs)))
    x = np.random.default_rng(1).random((4, 6, 6, 2)).astype(np.float32)
    model(x, training=True)   # move the statistics away from their initial values
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded.layers[-1]) is BatchNormalization
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
