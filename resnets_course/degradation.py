"""He et al. (2015) Figure 4 in miniature, as notebook 05 had it until 2026-12: plain and residual nets of 18 and 34
layers, fully connected, trained briefly. Kept for earlier releases' notebooks, which import these names; today's
notebook 05 runs the paper's convolutional nets instead (``cifar_nets``).

The paper's Figure 4 trains plain and residual nets of 18 and 34 layers on ImageNet. Here the same comparison runs
in seconds: fully connected nets of the paper's depths (a first layer, 8 or 16 blocks of two layers, a softmax
layer) on SIGNS's training images shrunk to 8x8, with BatchNorm after every hidden layer and He initialisation as
in the paper, so no net has vanishing gradients. The plain nets are the residual nets without their shortcuts.
NumPy only, like notebook 01's experiments; the course's own builder, not the students' graded ``build_resnet``.
"""
from __future__ import annotations

import numpy as np

from .numpy_blocks import Adam, relu

BLOCKS = {18: 8, 34: 16}   # weight layers = 1 + 2 * blocks + 1
NETS = [("plain", 18), ("plain", 34), ("residual", 18), ("residual", 34)]


def signs_features(size: int = 8):
    """SIGNS's 1080 training images averaged down to ``size`` x ``size``, standardised: x (features, m), labels (m,)."""
    from .data import load_dataset

    images, labels = load_dataset()[:2]
    f = images.shape[1] // size
    x = images.reshape(len(images), size, f, size, f, 3).mean(axis=(2, 4)).reshape(len(images), -1)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.T, labels.reshape(-1)


def init_net(depth: int, n_in: int, width: int, classes: int, rng: np.random.Generator) -> list:
    """The weights of every layer: He-initialised kernels, BatchNorm's gamma = 1 and beta = 0, the softmax layer's
    bias = 0. Layer i is [W, gamma, beta]; the last one is [W, bias]."""
    def hidden(n):
        return [rng.standard_normal((width, n)) * np.sqrt(2 / n), np.ones((width, 1)), np.zeros((width, 1))]
    layers = [hidden(n_in)] + [hidden(width) for _ in range(2 * BLOCKS[depth])]
    return layers + [[rng.standard_normal((classes, width)) * np.sqrt(1 / width), np.zeros((classes, 1))]]


def _bn_forward(a, W, gamma, beta):
    z = W @ a
    inv_std = 1 / np.sqrt(z.var(axis=1, keepdims=True) + 1e-5)
    z_hat = (z - z.mean(axis=1, keepdims=True)) * inv_std
    return gamma * z_hat + beta, (a, z_hat, inv_std)


def _bn_backward(dy, W, gamma, cache):
    a, z_hat, inv_std = cache
    m = dy.shape[1]
    dgamma, dbeta = (dy * z_hat).sum(axis=1, keepdims=True), dy.sum(axis=1, keepdims=True)
    dz_hat = dy * gamma
    dz = inv_std / m * (m * dz_hat - dz_hat.sum(axis=1, keepdims=True) - z_hat * (dz_hat * z_hat).sum(axis=1, keepdims=True))
    return W.T @ dz, [dz @ a.T, dgamma, dbeta]


def loss_and_grads(layers: list, x, y, residual: bool):
    """Cross-entropy and error rate of a batch, and the gradient of every weight (in the order of ``layers``).

    Each block computes relu(BN(W2 relu(BN(W1 a)))), with the block's input added before the last ReLU when
    ``residual``: the basic block of the paper, with fully connected layers instead of convolutions.
    """
    caches, pre = [], []
    y0, cache = _bn_forward(x, *layers[0])
    caches.append(cache), pre.append(y0)
    a = relu(y0)
    for k in range(1, len(layers) - 1, 2):
        y1, c1 = _bn_forward(a, *layers[k])
        y2, c2 = _bn_forward(relu(y1), *layers[k + 1])
        if residual:
            y2 = y2 + a
        caches += [c1, c2]
        pre += [y1, y2]
        a = relu(y2)
    W, bias = layers[-1]
    logits = W @ a + bias
    logits -= logits.max(axis=0)
    prob = np.exp(logits) / np.exp(logits).sum(axis=0)
    m = x.shape[1]
    loss = -np.log(prob[y, np.arange(m)] + 1e-12).mean()
    error = float((prob.argmax(axis=0) != y).mean())
    dlogits = prob
    dlogits[y, np.arange(m)] -= 1
    dlogits /= m
    grads = [[dlogits @ a.T, dlogits.sum(axis=1, keepdims=True)]]
    da = W.T @ dlogits
    for k in range(len(layers) - 3, 0, -2):   # the blocks, last first: layers k (first) and k + 1 (second)
        dy2 = da * (pre[k + 1] > 0)
        du, g2 = _bn_backward(dy2, layers[k + 1][0], layers[k + 1][1], caches[k + 1])
        da, g1 = _bn_backward(du * (pre[k] > 0), layers[k][0], layers[k][1], caches[k])
        if residual:
            da = da + dy2
        grads += [g2, g1]
    _, g0 = _bn_backward(da * (pre[0] > 0), layers[0][0], layers[0][1], caches[0])
    grads.append(g0)
    return float(loss), error, [g for layer in grads[::-1] for g in layer]


def train_net(kind: str, depth: int, seed: int, epochs: int = 20, batch_size: int = 108, width: int = 32,
              lr: float = 0.02, data=None) -> np.ndarray:
    """Train one net with Adam on shuffled mini-batches; return the training error of every epoch (the share of
    the epoch's batches' examples misclassified as the net trained: the paper's thin curves)."""
    x, y = signs_features() if data is None else data
    rng = np.random.default_rng(seed)
    layers = init_net(depth, x.shape[0], width, int(y.max()) + 1, rng)
    adam = Adam([w for layer in layers for w in layer], lr)
    sizes = [len(layer) for layer in layers]
    layers = [adam.params[sum(sizes[:i]):sum(sizes[:i + 1])] for i in range(len(sizes))]
    order = np.random.default_rng(1000 + seed)
    errors = []
    for _ in range(epochs):
        wrong = 0.0
        for batch in np.array_split(order.permutation(x.shape[1]), x.shape[1] // batch_size):
            _, error, grads = loss_and_grads(layers, x[:, batch], y[batch], kind == "residual")
            wrong += error * len(batch)
            adam.step(grads)
        errors.append(wrong / x.shape[1])
    return np.array(errors)


def figure4_runs(seeds=(1, 2, 3), epochs: int = 20, nets=NETS, **kwargs) -> dict:
    """``train_net`` for every net and seed: (kind, depth) -> training error, shape (len(seeds), epochs)."""
    data = signs_features()
    return {(kind, depth): np.array([train_net(kind, depth, seed, epochs, data=data, **kwargs) for seed in seeds])
            for kind, depth in nets}


def gradient_ratio(kind: str, depth: int, seed: int, data=None, width: int = 32) -> float:
    """At initialisation (the weights ``train_net`` starts from), the norm of the gradient of the first block's
    first weight matrix over that of the last hidden layer's, on all the training images. Far above 1: the
    gradient grows on its way to the input (explodes); far below 1: it vanishes."""
    x, y = signs_features() if data is None else data
    layers = init_net(depth, x.shape[0], width, int(y.max()) + 1, np.random.default_rng(seed))
    _, _, grads = loss_and_grads(layers, x, y, kind == "residual")
    sizes = [len(layer) for layer in layers]
    first_block, last_hidden = grads[sizes[0]], grads[sum(sizes[:-2])]   # layer 1's W, layer -2's W
    return float(np.linalg.norm(first_block) / np.linalg.norm(last_hidden))


def figure4_gradient_ratios(seeds=(1, 2, 3), nets=NETS) -> dict:
    """``gradient_ratio`` for every net and seed: (kind, depth) -> one ratio per seed."""
    data = signs_features()
    return {(kind, depth): [gradient_ratio(kind, depth, seed, data) for seed in seeds] for kind, depth in nets}


def plot_figure4(errors: dict, seeds=(1, 2, 3)):
    """Training error per epoch, plain nets on the left and residual nets on the right, as in the paper's
    Figure 4: one thin line per seed, the mean of the seeds in bold."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, kind in zip(axes, ["plain", "residual"]):
        for depth, color, line in ((18, "C0", "-"), (34, "C3", "--")):   # a line style too: not colour alone
            curves = 100 * errors[kind, depth]
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, curves.T, color=color, ls=line, lw=0.8, alpha=0.5)
            ax.plot(epochs, curves.mean(axis=0), color=color, ls=line, lw=2.2, label=f"{kind}-{depth}")
        ax.axhline(100 * 5 / 6, color="gray", lw=0.8, ls=":", label="chance (6 classes)")
        ax.set_title(f"{kind} nets")
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("training error (%)")
    fig.suptitle(f"Figure 4 in miniature: SIGNS at 8x8, seeds {', '.join(map(str, seeds))} "
                 "(thin: one seed; bold: their mean)", y=1.02)
    return fig


def figure4_findings(errors: dict, after: int = 10) -> dict:
    """What notebook 05 says about ``figure4_runs``, each claim -> whether it holds on every seed of these runs."""
    final = {key: runs[:, -1] for key, runs in errors.items()}
    early = {key: runs[:, after - 1] for key, runs in errors.items()}
    return {
        "plain-34 ends with a higher training error than plain-18": bool((final["plain", 34] > final["plain", 18]).all()),
        "residual-34 ends lower than plain-34": bool((final["residual", 34] < final["plain", 34]).all()),
        f"residual-18 is lower than plain-18 after {after} epochs": bool((early["residual", 18] < early["plain", 18]).all()),
        "residual-18 ends lower than plain-18": bool((final["residual", 18] < final["plain", 18]).all()),
    }
