"""Everything the course does to Keras beyond its public API, in one place, behind one version guard.

1. **The fast BatchNorm.** Keras 3 normalises a batch with about ten separate TensorFlow ops and
   differentiates each one; TensorFlow's fused kernel, ``FusedBatchNormV3``, does the same in one op,
   forward and backward (tf.keras 2 used it). On a CPU that makes the course's ResNet-50 train about
   20% faster (bench/README.md). ``use_fused_batchnorm()`` points ``keras.layers.BatchNormalization.call``
   at that kernel, so students write Keras's own ``BatchNormalization(axis=3)``, models hold Keras's
   own layer, and a saved ``.keras`` file loads in any Keras, with or without the course. Where the
   kernel does not apply (another backend, not a 4-D float32 channels-last input, a mask,
   renormalisation or synchronized statistics) Keras's own code runs. Both compute the same maths
   (the moving variance uses the biased batch variance, as Keras does); they differ in the last bits.
2. **Recording layer calls.** The checks watch which layers and ops a student's block calls by wrapping
   ``keras.src.ops.operation.Operation.__call__`` and ``symbolic_call`` (how ``X + Y`` and ``keras.ops``
   functions reach an op) and ``keras.layers.Layer.__call__`` (``wrapped_operation_calls``).

Both rely on Keras internals that the pinned Keras has; ``require_keras_internals()`` says clearly
when an installed Keras differs, instead of failing somewhere inside a check.
"""
from __future__ import annotations

import contextlib

from .environment import PINS, import_tensorflow_quietly
from .errors import CourseError

tf = import_tensorflow_quietly()
import keras  # noqa: E402  (after TensorFlow, so its start-up messages stay quiet)

TESTED_KERAS = PINS["keras"]
_BATCHNORM_ATTRIBUTES = ("gamma", "beta", "moving_mean", "moving_variance", "epsilon", "momentum", "axis",
                         "center", "scale", "synchronized")


def require_keras_internals():
    """The Operation class whose ``__call__`` and ``symbolic_call`` the checks wrap; a CourseError naming the fix
    if Keras changed them."""
    problem = None
    if not keras.__version__.startswith("3."):
        problem = f"Keras {keras.__version__} is not Keras 3"
    else:
        try:
            from keras.src.ops.operation import Operation
        except ImportError:
            problem = "keras.src.ops.operation.Operation is gone"
        else:
            gone = [name for name in ("__call__", "symbolic_call") if not callable(Operation.__dict__.get(name))]
            if gone:
                problem = f"Operation.{gone[0]} is gone"
    if problem:
        raise CourseError(f"The course's checks rely on an internal part of Keras {TESTED_KERAS}, and {problem} in "
                          f"the installed Keras {keras.__version__}. Install the course's versions: "
                          "pip install -r requirements.txt")
    return Operation


@contextlib.contextmanager
def wrapped_operation_calls(wrap):
    """Within the block, every layer and op call goes through ``wrap(original)``.

    Wrapped: ``Operation.__call__`` (every layer, and an op called as an object),
    ``Operation.symbolic_call`` (how ``keras.ops`` functions and operators such as ``X + Y`` reach an
    op when their inputs are symbolic; ``Layer`` overrides it, so a layer is not seen there), and
    ``Layer.__call__``, which builds the layer before it calls ``Operation.__call__``, so that a layer
    whose build fails (an ``Add`` of two shapes that differ) is seen too. A layer call thus passes
    through the wrapper more than once, nested; the wrapper keeps the outermost call."""
    operation = require_keras_internals()
    targets = [(operation, "__call__"), (operation, "symbolic_call"), (keras.layers.Layer, "__call__")]
    originals = [(cls, name, cls.__dict__[name]) for cls, name in targets if name in cls.__dict__]
    for cls, name, original in originals:
        setattr(cls, name, wrap(original))
    try:
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


# ------------------------------------------------------------------------------------------------
# The fast BatchNorm
# ------------------------------------------------------------------------------------------------

# Keras's own call, even if this module is imported again after the class was patched.
_KERAS_CALL = getattr(keras.layers.BatchNormalization.call, "keras_call", keras.layers.BatchNormalization.call)
# Mutated in place, never rebound: the judge watches the course's module attributes for changes.
_STATE = {"enabled": False}


def _fused_kernel_applies(layer, inputs, mask) -> bool:
    if not _STATE["enabled"] or keras.backend.backend() != "tensorflow":
        return False
    if not all(hasattr(layer, name) for name in _BATCHNORM_ATTRIBUTES):   # a Keras whose layer changed
        return False
    return (mask is None and len(inputs.shape) == 4 and layer.axis in (3, -1) and inputs.dtype == tf.float32
            and layer.center and layer.scale and not getattr(layer, "renorm", False) and not layer.synchronized)


def _fused_call(self, inputs, training=None, mask=None):
    if not _fused_kernel_applies(self, inputs, mask):
        return _KERAS_CALL(self, inputs, training=training, mask=mask)
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


_fused_call.keras_call = _KERAS_CALL


def use_fused_batchnorm(enabled: bool = True) -> None:
    """Compute every ``keras.layers.BatchNormalization`` on TensorFlow's fused kernel where it applies
    (``enabled=False``: Keras's own code). Applies to layers traced from now on."""
    keras.layers.BatchNormalization.call = _fused_call
    _STATE["enabled"] = bool(enabled)


def fused_batchnorm_enabled() -> bool:
    return keras.layers.BatchNormalization.call is _fused_call and _STATE["enabled"]


@contextlib.contextmanager
def fused_batchnorm(enabled: bool):
    """Within the block, BatchNormalization layers traced are fused or not; the setting before is restored."""
    before = fused_batchnorm_enabled()
    use_fused_batchnorm(enabled)
    try:
        yield
    finally:
        use_fused_batchnorm(before)
