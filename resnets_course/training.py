"""Training ResNet-50 (notebook 04): the tf.data pipelines, and ``compile_for_training`` (compile, with the
optimizer's variables made before ``fit``); the speed choices behind it are explained in bench/README.md."""
from __future__ import annotations

import numpy as np

from .environment import SEED, import_tensorflow_quietly


def _without_autotune(data):
    """Switch off tf.data's autotuning thread: nothing in the course's pipelines is tuned by it, and
    destroying an iterator that has one can wait for the thread's sleep to end, up to 10 s (seen at the
    end of notebook 04's training, twice per fit)."""
    tf = import_tensorflow_quietly()
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)


def augmented_batches(x, y, augment, batch_size: int = 32, seed: int = SEED):
    """A tf.data pipeline for ``fit``: shuffled each epoch, batched, then ``augment`` applied per batch.

    Augmenting inside the pipeline (not in the model) keeps the saved model free of random layers
    and lets the next batch be prepared while the current one trains.
    """
    tf = import_tensorflow_quietly()
    data = tf.data.Dataset.from_tensor_slices((np.asarray(x, np.float32), np.asarray(y, np.float32)))
    data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return _without_autotune(data.map(lambda images, labels: (augment(images, training=True), labels)).prefetch(2))


def test_batches(x, y, batch_size: int = 32):
    """A tf.data pipeline of ``(x, y)`` in order, batched: ``fit``'s ``validation_data``, or any data to be
    fed neither shuffled nor augmented (the training benchmark feeds the training images this way)."""
    tf = import_tensorflow_quietly()
    data = tf.data.Dataset.from_tensor_slices((np.asarray(x, np.float32), np.asarray(y, np.float32)))
    return _without_autotune(data.batch(batch_size))


def create_training_variables(model, x, y) -> None:
    """Create the optimizer's slots and the metrics' counters of a compiled model before ``fit``.

    With the TensorFlow backend Keras creates them while it traces the first training step, and a
    ``tf.function`` that creates variables is traced twice: for ResNet-50 on a 2-core CPU that is about
    8 s of the first epoch. Created here, from one example ``x[:1]``, ``y[:1]``, they start at zero
    exactly as they would inside ``fit``, so training gives the same numbers, only sooner.
    """
    if getattr(model, "optimizer", None) is None:
        raise ValueError("create_training_variables needs a compiled model: call model.compile(...) first.")
    model.optimizer.build(model.trainable_variables)
    model.compute_metrics(x[:1], y[:1], model(x[:1], training=False))
    model.reset_metrics()


def compile_for_training(model, optimizer, x, y, loss: str = "categorical_crossentropy",
                         metrics=("accuracy",)) -> None:
    """Compile ``model`` for ``fit`` as notebook 04 trains it, and create its training variables.

    Two choices here are about speed, never about the numbers (bench/README.md has the measurements):
    ``jit_compile=False`` keeps XLA off, which on a CPU compiles for minutes and then trains slower than
    TensorFlow's own kernels; ``create_training_variables`` makes the optimizer's slots and the
    metrics' counters before ``fit``, so its first epoch traces the training step once, not twice.
    """
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics), jit_compile=False)
    create_training_variables(model, x, y)


def start_blocks_as_identity(model) -> int:
    """Set to zero the scale (gamma) of the last BatchNormalization on each residual block's main path, so
    that every block starts as its shortcut alone: an identity block then passes its input through
    unchanged, a convolutional block passes its projection. The main paths still learn (their gradients are
    not zero), but training starts from a shallow network and deepens it, which on notebook 04's small data
    converges in fewer epochs (Goyal et al. 2017, "zero gamma"; He et al. 2019, "Bag of Tricks", section 3.1).

    A block is found by its ``Add`` layer; its main path is the input that comes from a BatchNormalization
    whose convolution reads a tensor nothing else reads (a projection shortcut's 1x1 convolution reads the
    block's input, which the main path's first convolution reads too). Returns how many blocks were changed,
    and raises ``ValueError`` if some ``Add`` has no such input.
    """
    import keras

    producer = {id(layer.output): layer for layer in model.layers}
    readers = {}
    for layer in model.layers:
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        for tensor in inputs:
            readers[id(tensor)] = readers.get(id(tensor), 0) + 1

    def main_path_batchnorm(tensor):
        norm = producer.get(id(tensor))
        if not isinstance(norm, keras.layers.BatchNormalization) or not norm.scale:
            return None
        conv = producer.get(id(norm.input))
        return norm if isinstance(conv, keras.layers.Conv2D) and readers.get(id(conv.input)) == 1 else None

    blocks = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    for add in blocks:
        candidates = [n for n in map(main_path_batchnorm, add.input) if n is not None]
        if len(candidates) != 1:
            raise ValueError(f"{add.name}: expected one input to be a main path ending in Conv2D -> "
                             f"BatchNormalization, found {len(candidates)}; this block cannot be started as "
                             "its shortcut.")
        [norm] = candidates
        norm.gamma.assign(np.zeros(norm.gamma.shape, norm.gamma.dtype))
    return len(blocks)
