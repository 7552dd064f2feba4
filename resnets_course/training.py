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


def reestimate_batchnorm_statistics(model, x, batch_size: int = 64) -> int:
    """Replace the moving mean and variance of every BatchNormalization layer of ``model`` with the mean and
    variance its input has over the images ``x``, computed with the model's final weights ("precise
    BatchNorm", Wu and Johnson 2021, "Rethinking 'Batch' in BatchNorm").

    During ``fit`` the moving averages follow the last twenty or so batches (momentum 0.9), which were
    augmented and seen by weights that were still changing; the model that is scored is the one after the
    last step. One pass over ``x`` in training mode, ``batch_size`` images at a time, gives each layer the
    statistics that model produces (each layer normalises with the batch's statistics, as in training).
    No weight is learned. Returns how many layers were updated; if anything fails on the way, every layer
    keeps the statistics it had.
    """
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return 0
    x = np.asarray(x, np.float32)
    if len(x) == 0:
        raise ValueError("reestimate_batchnorm_statistics needs images to measure the statistics on; x is empty.")
    saved = [(norm.moving_mean.numpy(), norm.moving_variance.numpy()) for norm in norms]
    inputs = model.inputs   # a Sequential model has no .input until called; .inputs it has
    probe = keras.Model(inputs[0] if len(inputs) == 1 else inputs, [norm.input for norm in norms])
    counts, means, variances = [], [], []
    try:
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            seen = probe(batch, training=True)   # also moves the averages; replaced below
            seen = seen if isinstance(seen, (list, tuple)) else [seen]   # one BatchNorm: one tensor, not a list
            axes = [tuple(a for a in range(len(t.shape)) if a != norm.axis % len(t.shape))
                    for t, norm in zip(seen, norms)]
            moments = [keras.ops.moments(t, a) for t, a in zip(seen, axes)]
            counts.append(len(batch))
            means.append([np.asarray(mean, np.float64) for mean, _ in moments])
            variances.append([np.asarray(variance, np.float64) for _, variance in moments])
    except BaseException:
        for norm, (mean, variance) in zip(norms, saved):
            norm.moving_mean.assign(mean)
            norm.moving_variance.assign(variance)
        raise
    weights = np.asarray(counts, np.float64) / sum(counts)
    for k, norm in enumerate(norms):
        batch_means = np.stack([m[k] for m in means])
        mean = weights @ batch_means
        # the variance over all images: the batches' own variances plus how far their means lie from the mean
        variance = weights @ (np.stack([v[k] for v in variances]) + (batch_means - mean) ** 2)
        norm.moving_mean.assign(mean.astype(norm.moving_mean.dtype))
        norm.moving_variance.assign(variance.astype(norm.moving_variance.dtype))
    return len(norms)


def predict_with_mirror_image(model, x, batch_size: int = 32) -> np.ndarray:
    """The class probabilities of ``model`` for the images ``x`` (N, height, width, channels), each the
    average of its prediction for the image and for the image mirrored left-right.

    A sign mirrored is the same sign (notebook 04's augmentation flips training images for that reason),
    so the two readings are two views of one answer, and their average makes fewer mistakes than either:
    test-time augmentation, as the ResNet paper scores ImageNet on ten crops: five, and their mirror images.
    """
    x = np.asarray(x, np.float32)
    if x.ndim != 4:
        raise ValueError(f"predict_with_mirror_image expects a batch of images (N, height, width, channels), "
                         f"got an array of shape {x.shape}; for one image, pass image[None] or load_image(...).")
    as_is = model.predict(x, batch_size=batch_size, verbose=0)
    mirrored = model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)
    return (as_is + mirrored) / 2
