"""Keras's BatchNormalization layer, computed by TensorFlow's fused batch-norm kernel.

Keras 3 normalises a batch with about ten separate TensorFlow ops (mean, squared difference, mean,
rsqrt, multiply, add, ...) and differentiates each one. tf.keras 2 called TensorFlow's fused kernel,
`FusedBatchNormV3`, which does the same in one op, forward and backward. On a CPU that makes the
course's ResNet-50 train about 20% faster (see README, "Benchmarks").

This layer is `keras.layers.BatchNormalization` in every other respect: same arguments, variables,
maths (the moving variance uses the biased batch variance, as Keras does) and saved format. Where the
kernel does not apply (another backend, not a 4-D float32 channels-last input, a mask, renorm or
synchronized statistics) it runs Keras's own code.
"""
from __future__ import annotations

from resnets_utils import import_tensorflow_quietly

tf = import_tensorflow_quietly()
import keras  # noqa: E402  (after TensorFlow, so its start-up messages stay quiet)


@keras.saving.register_keras_serializable(package="resnets_course")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` on TensorFlow's fused kernel; see the module docstring."""

    def _fused_kernel_applies(self, inputs, mask) -> bool:
        return (keras.backend.backend() == "tensorflow" and mask is None and len(inputs.shape) == 4
                and self.axis in (3, -1) and inputs.dtype == tf.float32 and self.center and self.scale
                and not self.renorm and not self.synchronized)

    def call(self, inputs, training=None, mask=None):
        if not self._fused_kernel_applies(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        training = bool(training and self.trainable)
        no_statistics = tf.constant([], tf.float32)   # the kernel computes the batch's own when training
        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=self.gamma, offset=self.beta,
            mean=no_statistics if training else self.moving_mean,
            variance=no_statistics if training else self.moving_variance,
            epsilon=self.epsilon, data_format="NHWC", is_training=training)
        if training:
            # The kernel returns the batch variance with Bessel's correction; Keras averages the biased one.
            count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], tf.float32)
            variance = variance * (count - 1.0) / count
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return outputs
