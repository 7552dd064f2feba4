"""He et al. (2015), section 4.2: the paper's CIFAR-10 nets, plain and residual, trained on the hand images at 32x32.

A net of depth 6n + 2 is a 3x3 convolution with 16 filters, three stages of n basic blocks (two 3x3 convolutions
each) with 16, 32 and 64 filters, the first convolution of stages 2 and 3 with stride 2, then global average pooling
and a 6-way softmax layer. BatchNorm follows every convolution; kernels are He-initialised. The residual nets add
each block's input before its last ReLU, through the paper's option A where the shape changes (every other pixel,
zero channels appended), so plain and residual nets have exactly the same weights. The plain nets are the residual
nets without their shortcuts. Training is the paper's schedule, SGD with momentum 0.9 and weight decay 1e-4, the
learning rate divided by 10 at half and three quarters of the steps, but from 0.02 rather than the paper's 0.1 (at
0.1 neither 56-layer net learnt here: bench/README), without augmentation (the question is training error).

Notebook 05 runs a short version; ``python -m bench.figure4`` runs the long one over seeds.
"""
from __future__ import annotations

import numpy as np

STAGES = (16, 32, 64)
BLOCKS = {20: 3, 56: 9}   # depth 6n + 2 -> n
NETS = [("plain", 20), ("plain", 56), ("residual", 20), ("residual", 56)]
STEPS = 400   # bench.figure4's training length, 25 epochs of 16 batches of 64 images
CHANCE = 5 / 6   # the training error of a guess among the 6 signs
STALL = CHANCE / 2   # a net that ends above half of chance has barely learnt


def hand_images_32():
    """SIGNS's 1080 training images averaged down to 32x32, each colour channel standardised: x (m, 32, 32, 3)
    float32, labels (m,) int32."""
    from .data import load_dataset

    images, labels = load_dataset()[:2]
    x = images.reshape(len(images), 32, 2, 32, 2, 3).mean(axis=(2, 4))
    x = (x - x.mean(axis=(0, 1, 2))) / x.std(axis=(0, 1, 2))
    return x.astype("float32"), labels.reshape(-1).astype("int32")


def _option_a(x, filters: int):
    """The paper's parameter-free shortcut where a stage begins: every other pixel, then zero channels up to
    ``filters``."""
    from keras import layers, ops

    class OptionA(layers.Layer):
        def call(self, inputs):
            sub = inputs[:, ::2, ::2, :]
            return ops.pad(sub, [[0, 0], [0, 0], [0, 0], [0, filters - inputs.shape[-1]]])

    return OptionA(name=f"option_a_{filters}")(x)


def cifar_net(kind: str, depth: int, seed: int, classes: int = 6, input_shape=(32, 32, 3)):
    """The paper's ``kind`` ("plain" or "residual") net of ``depth`` = 6n + 2 layers, its weights drawn from
    ``seed``."""
    import keras
    from keras import layers

    count = iter(range(10_000))

    def conv(x, filters, stride=1):
        init = keras.initializers.HeNormal(seed=seed * 10_000 + next(count))
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, kernel_initializer=init)(x)
        return layers.BatchNormalization(momentum=0.9)(x)

    inputs = keras.Input(input_shape)
    x = layers.ReLU()(conv(inputs, STAGES[0]))
    for stage, filters in enumerate(STAGES):
        for block in range(BLOCKS[depth]):
            stride = 2 if stage > 0 and block == 0 else 1
            shortcut = x if stride == 1 else _option_a(x, filters)
            y = conv(layers.ReLU()(conv(x, filters, stride)), filters)
            x = layers.ReLU()(layers.Add()([y, shortcut]) if kind == "residual" else y)
    x = layers.GlobalAveragePooling2D()(x)
    init = keras.initializers.GlorotUniform(seed=seed * 10_000 + next(count))
    outputs = layers.Dense(classes, kernel_initializer=init)(x)
    return keras.Model(inputs, outputs, name=f"{kind}_{depth}")


def gradient_norms(model, x, y) -> list[float]:
    """At the model's current weights, in training mode, the norm of the loss's gradient for each convolution's
    kernel, first layer first, on the images ``x`` with labels ``y``."""
    import tensorflow as tf
    import keras

    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        loss = tf.reduce_mean(loss)
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


def kernel_sizes(depth: int, channels: int = 3) -> list[int]:
    """How many weights each convolution of the net of ``depth`` layers has, first layer first."""
    sizes, previous = [9 * channels * STAGES[0]], STAGES[0]
    for filters in STAGES:
        for _ in range(BLOCKS[depth]):
            sizes += [9 * previous * filters, 9 * filters * filters]
            previous = filters
    return sizes


def gradient_growth(norms: list[float], depth: int) -> float:
    """``gradient_norms``' per-weight size (root mean square) at the first block's first convolution over that at
    the last block's last one: far above 1, the gradient grows on its way to the input; far below 1, it vanishes."""
    rms = np.array(norms) / np.sqrt(kernel_sizes(depth))
    return float(rms[1] / rms[-1])


def train(kind: str, depth: int, seed: int, steps: int, batch_size: int = 64, lr: float = 0.02, data=None,
          measure: bool = True, stop: int | None = None) -> dict:
    """Train one net on the paper's schedule compressed to ``steps`` steps (or its first ``stop`` steps).

    Returns the training error of each epoch as the net trained (the share of that epoch's examples that its
    batches got wrong: the paper's thin curves) and, when ``measure``, the final training error in inference mode
    on all images and the gradient norms at initialisation (``gradient_norms`` on the first 256 images)."""
    import tensorflow as tf
    import keras

    x, y = hand_images_32() if data is None else data
    model = cifar_net(kind, depth, seed, classes=int(y.max()) + 1, input_shape=x.shape[1:])
    norms = gradient_norms(model, x[:256], y[:256]) if measure else None
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([steps // 2, 3 * steps // 4], [lr, lr / 10, lr / 100])
    optimizer = keras.optimizers.SGD(schedule, momentum=0.9, weight_decay=1e-4)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = loss_fn(yb, logits)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1, output_type=tf.int32) != yb, tf.float32))

    order = np.random.default_rng(1000 + seed)
    per_epoch = len(x) // batch_size
    errors, done, last = [], 0, min(steps, stop or steps)
    while done < last:
        batches = order.permutation(len(x))[:per_epoch * batch_size].reshape(per_epoch, batch_size)
        wrong = seen = 0
        for batch in batches[:last - done]:
            wrong += float(step(x[batch], y[batch]))
            seen += batch_size
        done += len(batches[:last - done])
        errors.append(wrong / seen)
    if not measure:
        return {"epoch_errors": errors}
    logits = model.predict(x, batch_size=256, verbose=0)
    final = float((logits.argmax(axis=1) != y).mean())
    return {"epoch_errors": errors, "final_error": final, "gradient_norms_at_init": norms}


def figure4_conv_run(seed: int = 1, stop: int = 240, nets=(("plain", 56), ("residual", 56))) -> dict:
    """Notebook 05's own run: the first ``stop`` steps of the benchmark's 400-step schedule for each of ``nets``
    from ``seed`` -> (kind, depth) -> training error per epoch (close to the committed result's first epochs for
    that seed: TensorFlow's CPU kernels are not bitwise repeatable). In the test suite's quick mode, the 20-layer
    nets for 2 steps on 128 images: the plumbing only, in seconds."""
    from .environment import quick_run

    x, y = hand_images_32()
    if quick_run():
        x, y, stop, nets = x[:128], y[:128], 2, [(kind, 20) for kind, _ in nets]
    return {(kind, depth): np.array(train(kind, depth, seed, STEPS, data=(x, y), measure=False,
                                         stop=stop)["epoch_errors"]) for kind, depth in nets}


def figure4_conv_committed() -> dict:
    """``python -m bench.figure4``'s committed result on the course's reference machine."""
    import json

    from .environment import FIGURE4_RESULT

    return json.loads(FIGURE4_RESULT.read_text())


def committed_curves(result: dict) -> dict:
    """A ``bench.figure4`` result's training curves: (kind, depth) -> array (seeds, epochs)."""
    return {(kind, depth): np.array([run["epoch_errors"] for run in result["nets"][f"{kind}-{depth}"]])
            for kind, depth in NETS}


# Depth by colour and line style, shortcuts by marker: no two curves told apart by colour alone.
STYLES = {("plain", 20): ("C0", "-", None), ("plain", 56): ("C3", "--", None),
          ("residual", 20): ("C0", "-", "o"), ("residual", 56): ("C3", "--", "s")}


def _curves(ax, runs: dict, title: str) -> None:
    for key, errors in runs.items():
        color, line, marker = STYLES[key]
        errors = 100 * np.atleast_2d(errors)
        epochs = np.arange(1, errors.shape[1] + 1)
        if len(errors) > 1:
            ax.plot(epochs, errors.T, color=color, ls=line, lw=0.7, alpha=0.35)
        ax.plot(epochs, np.median(errors, axis=0), color=color, ls=line, marker=marker, markevery=3, ms=5, lw=2.2,
                label="{}-{}".format(*key))
    ax.axhline(100 * CHANCE, color="gray", lw=0.8, ls=":", label="chance (6 classes)")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch (16 steps of 64 images)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_figure4_conv(own: dict, committed: dict):
    """Training error per epoch: the notebook's own run (left), then the committed benchmark's plain nets and
    residual nets, as in the paper's Figure 4 (thin: one seed; bold: the median of the seeds)."""
    import matplotlib.pyplot as plt

    curves = committed_curves(committed)
    seeds = len(committed["seeds"])
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9), sharey=True)
    _curves(axes[0], own, f"your run: one seed, {max(len(e) for e in own.values())} epochs")
    for ax, kind in zip(axes[1:], ["plain", "residual"]):
        _curves(ax, {key: runs for key, runs in curves.items() if key[0] == kind},
                f"{kind} nets: {seeds} seeds, {committed['steps']} steps")
    axes[0].set_ylabel("training error (%)")
    axes[0].set_xlim(axes[1].get_xlim())
    fig.tight_layout()
    return fig


def _size(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"


def figure4_conv_table(result: dict) -> str:
    """A ``bench.figure4`` result in a few lines: for each net, its final training error (median and range over
    the seeds), on how many seeds it fits and stalls, and its gradient growth at initialisation
    (``gradient_growth``); then on how many seeds each comparison holds."""
    n = len(result["seeds"])
    per_net = [k for k in result["counts"] if " fits " in k or " stalls " in k]
    lines = [f"{n} seeds, {result['steps']} steps each; fits: final training error below 1%, stalls: above "
             f"{STALL:.0%} (chance: {100 * result['chance_error']:.0f}%)",
             f"{'':12s} {'final training error':^24s} {'fits':>5s} {'stalls':>7s}   {'gradient growth at init':^27s}"]
    for name, runs in result["nets"].items():
        depth = int(name.split("-")[1])
        final = 100 * np.array([run["final_error"] for run in runs])
        growth = np.array([gradient_growth(run["gradient_norms_at_init"], depth) for run in runs])
        fits, stalls = (result["counts"][k] for k in per_net if k.startswith(name + " "))
        lines.append(f"{name:12s} {np.median(final):5.1f}% ({final.min():4.1f}-{final.max():4.1f}%)   {fits:5d} "
                     f"{stalls:7d}   {_size(np.median(growth)):>8s} ({_size(growth.min())}-{_size(growth.max())})")
    lines.append("")
    lines += [f"{claim}: {count} of {n} seeds" for claim, count in result["counts"].items() if claim not in per_net]
    return "\n".join(lines)
