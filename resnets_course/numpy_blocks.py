"""NumPy residual blocks for notebook 01: a general stack of blocks, the exercises' example, and the
experiments behind its plots.

Everything here is NumPy only (no TensorFlow), seeded, and runs in seconds on a CPU.
Shapes follow the course's convention: activations are (n, m), one column per example.
"""
from __future__ import annotations

import numpy as np


def relu(z):
    return np.maximum(z, 0)


def init_block(n: int, hidden: int, rng: np.random.Generator, scale: float = 1.0, last: float = 1.0) -> dict:
    """Weights of one block, W ~ N(0, scale / fan_in), b = 0; the second layer's weights times ``last``."""
    return {"W1": rng.standard_normal((hidden, n)) * np.sqrt(scale / n), "b1": np.zeros((hidden, 1)),
            "W2": rng.standard_normal((n, hidden)) * np.sqrt(scale / hidden) * last, "b2": np.zeros((n, 1))}


def stack_forward(a, blocks: list[dict], skip: bool = True):
    """Run ``a`` through a stack of two-layer ReLU blocks, layer by layer; return the output and one cache per layer.

    Each layer computes z = W a + b and a = g(z). With ``skip``, a block's input is added to the z of its
    last layer, before that layer's ReLU. The checks and the experiments use this general stack; the
    exercises write one block by hand.
    """
    caches = []
    for p in blocks:
        block_input = a
        for k in (1, 2):
            z = p[f"W{k}"] @ a + p[f"b{k}"]
            if skip and k == 2:
                z = z + block_input
            caches.append((a, p[f"W{k}"], z))
            a = relu(z)
    return a, caches


def stack_backward(da, caches: list, skip: bool = True):
    """Gradients of a scalar loss through ``stack_forward``'s layers, given da = dL/d(output).

    Returns dL/d(input) and, per block, a dict of dW1, db1, dW2, db2.
    """
    grads = []
    for first, second in reversed(list(zip(caches[0::2], caches[1::2]))):
        block = {}
        for k, (a_in, W, z) in ((2, second), (1, first)):
            dz = da * (z > 0)
            block[f"dW{k}"], block[f"db{k}"] = dz @ a_in.T, dz.sum(axis=1, keepdims=True)
            if k == 2:
                through_skip = dz if skip else 0
            da = W.T @ dz
        da = da + through_skip
        grads.append(block)
    return da, grads[::-1]


def exercise_cache(a_prev, p):
    """The cache of the exercises' block, (a_prev, z1, a1, z2, parameters), from the general stack."""
    _, [(_, _, z1), (a1, _, z_sum)] = stack_forward(a_prev, [p])
    return a_prev, z1, a1, z_sum - a_prev, p


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def example(seed: int = 3, n: int = 4, hidden: int = 3, m: int = 2):
    """The fixed inputs the exercises print and the checks use."""
    rng = np.random.default_rng(seed)
    a_prev = np.abs(rng.standard_normal((n, m)))   # a[l] is the output of a ReLU, so not negative
    p = init_block(n, hidden, rng, scale=2.0)
    p["b1"] = rng.standard_normal((hidden, 1)) * 0.1
    p["b2"] = rng.standard_normal((n, 1)) * 0.1
    return a_prev, p


# --------------------------------------------------------------------------------------------
# Experiments behind the plots
# --------------------------------------------------------------------------------------------

def gradient_norms(blocks: int = 25, n: int = 16, m: int = 64, skip: bool = True, seed: int = 0,
                   scale: float = 1.0, last: float = 1.0) -> np.ndarray:
    """||dL/da|| at the input of each block of a freshly initialised stack, for L = sum(output)."""
    rng = np.random.default_rng(seed)
    params = [init_block(n, n, rng, scale, last) for _ in range(blocks)]
    a = np.abs(rng.standard_normal((n, m)))
    a, caches = stack_forward(a, params, skip)
    da = np.ones_like(a) / m
    norms = []
    for k in range(blocks - 1, -1, -1):   # backwards, one block (two layers) at a time
        da, _ = stack_backward(da, caches[2 * k:2 * k + 2], skip)
        norms.append(np.linalg.norm(da))
    return np.array(norms[::-1])


def spiral_data(m: int = 300, seed: int = 0):
    """Two interleaved spirals in 2-D, labels 0/1: a small task a linear model cannot solve."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, m)) * 3 * np.pi
    label = rng.integers(0, 2, m)
    r = t / (3 * np.pi)
    angle = t + np.pi * label
    x = np.stack([r * np.cos(angle), r * np.sin(angle)]) + rng.normal(0, 0.02, (2, m))
    return x, label


class Adam:
    """Adam (Kingma and Ba's defaults) over a list of arrays, which become views into one flat vector
    (``self.params``, in the same order), so one step updates them all in a few array operations."""

    def __init__(self, arrays, lr: float):
        self.flat = np.concatenate([np.ravel(v) for v in arrays])
        self.grad, self.m1, self.m2 = np.zeros_like(self.flat), np.zeros_like(self.flat), np.zeros_like(self.flat)
        ends = np.cumsum([np.size(v) for v in arrays])
        self.params = [self.flat[end - np.size(v):end].reshape(np.shape(v)) for v, end in zip(arrays, ends)]
        self._grads = [self.grad[end - np.size(v):end].reshape(np.shape(v)) for v, end in zip(arrays, ends)]
        self.lr, self.steps = lr, 0

    def step(self, grads) -> None:
        """Update every parameter in place from its gradient (``grads`` in the order of ``self.params``)."""
        for view, g in zip(self._grads, grads):
            view[...] = g
        self.steps += 1
        self.m1 *= 0.9
        self.m1 += 0.1 * self.grad
        self.m2 *= 0.999
        self.m2 += 0.001 * self.grad * self.grad
        self.flat -= self.lr * (self.m1 / (1 - 0.9 ** self.steps)) / (np.sqrt(self.m2 / (1 - 0.999 ** self.steps)) + 1e-8)


def train_mlp(blocks: int, skip: bool, steps: int = 500, width: int = 16, lr: float = 0.002, seed: int = 0,
              scale: float = 2.0, last: float = 1.0):
    """Train a stack of blocks (with or without skips) on the spirals with Adam; return the loss per step.

    Input layer 2 -> width, then ``blocks`` blocks of two layers each, then a logistic output. The blocks are
    initialised W ~ N(0, scale / fan_in) (2: He, the default; 1: LeCun), their second layers times ``last``.
    """
    rng = np.random.default_rng(seed)
    x, y = spiral_data()
    m = x.shape[1]
    W_in, b_in = rng.standard_normal((width, 2)) * np.sqrt(2 / 2), np.zeros((width, 1))
    params = [init_block(width, width, rng, scale, last) for _ in range(blocks)]
    w_out, b_out = rng.standard_normal((1, width)) * np.sqrt(1 / width), np.zeros((1, 1))
    adam = Adam([W_in, b_in] + [p[k] for p in params for k in ("W1", "b1", "W2", "b2")] + [w_out, b_out], lr)
    views = adam.params
    W_in, b_in, w_out, b_out = views[0], views[1], views[-2], views[-1]
    params = [dict(zip(("W1", "b1", "W2", "b2"), views[2 + 4 * i:6 + 4 * i])) for i in range(blocks)]
    losses = []
    for step in range(1, steps + 1):
        h0 = relu(W_in @ x + b_in)
        a, caches = stack_forward(h0, params, skip)
        logits = w_out @ a + b_out
        prob = 1 / (1 + np.exp(-np.clip(logits, -30, 30)))
        losses.append(float(-np.mean(y * np.log(prob + 1e-12) + (1 - y) * np.log(1 - prob + 1e-12))))
        dlogits = (prob - y) / m
        da, block_grads = stack_backward(w_out.T @ dlogits, caches, skip)
        dz0 = da * (h0 > 0)
        grads = [dz0 @ x.T, dz0.sum(axis=1, keepdims=True)]
        for g in block_grads:
            grads += [g["dW1"], g["db1"], g["dW2"], g["db2"]]
        grads += [dlogits @ a.T, dlogits.sum(axis=1, keepdims=True)]
        adam.step(grads)
    return np.array(losses)


# W ~ N(0, scale / fan_in): LeCun keeps a linear layer's variance, so a ReLU layer halves it; He doubles it back.
INITIALISATIONS = {"LeCun": 1.0, "He": 2.0}

# Notebook 01's gradient experiment: (initialisation, stack) -> gradient_norms' arguments. ``last=0`` starts the
# last layer of every branch at zero, so every block starts as the identity (zero-gamma, Goyal et al. 2017).
GRADIENT_STACKS = {("LeCun", "plain"): {"skip": False}, ("LeCun", "residual"): {"skip": True},
                   ("He", "plain"): {"skip": False}, ("He", "residual"): {"skip": True},
                   ("He", "residual, each branch's last layer at zero"): {"skip": True, "last": 0.0}}


def gradient_runs(seeds=range(1, 6), blocks: int = 25) -> dict:
    """``gradient_norms`` of each stack of ``GRADIENT_STACKS`` per seed: key -> norms, shape (len(seeds), blocks)."""
    return {(init, name): np.array([gradient_norms(blocks, seed=seed, scale=INITIALISATIONS[init], **kwargs)
                                    for seed in seeds])
            for (init, name), kwargs in GRADIENT_STACKS.items()}

# The nets of notebook 01's degradation experiment, all He-initialised; each residual branch's last layer starts at
# zero, so every block starts as the identity (the NumPy form of a zero-initialised last BatchNorm gamma).
DEGRADATION_NETS = {"plain, 2 blocks": {"blocks": 2, "skip": False},
                    "plain, 20 blocks": {"blocks": 20, "skip": False},
                    "residual, 20 blocks": {"blocks": 20, "skip": True, "last": 0.0}}


# Notebook 01's degradation experiment since release 2026-12: the same nets, plus the residual net with ordinary He
# branches, so that what the shortcut buys can be told apart from what the zero initialisation buys.
PLAIN_SHALLOW, PLAIN_DEEP = "plain, 2 blocks", "plain, 20 blocks"
RESIDUAL_HE, RESIDUAL_ZERO = "residual, 20 blocks, He", "residual, 20 blocks, zero"
DEGRADATION_EXPERIMENT = {PLAIN_SHALLOW: {"blocks": 2, "skip": False},
                          PLAIN_DEEP: {"blocks": 20, "skip": False},
                          RESIDUAL_HE: {"blocks": 20, "skip": True},
                          RESIDUAL_ZERO: {"blocks": 20, "skip": True, "last": 0.0}}


def degradation_runs(seeds=range(1, 6), steps: int = 500, nets: dict | None = None) -> dict:
    """Train each net of ``nets`` (default ``DEGRADATION_NETS``) once per seed: name -> losses, shape
    (len(seeds), steps)."""
    return {name: np.array([train_mlp(steps=steps, seed=seed, **net) for seed in seeds])
            for name, net in (DEGRADATION_NETS if nets is None else nets).items()}


def first_step_below(losses, level: float):
    """Per row of ``losses``, the first step (counted from 1) whose loss is below ``level``; None if it never is."""
    return [int(np.argmax(row < level)) + 1 if (row < level).any() else None for row in np.atleast_2d(losses)]


def _endings(runs: dict, level: float) -> tuple[dict, dict]:
    """Per net of ``runs``: each seed's mean loss over the last 100 steps, and its first step below ``level``
    (infinity where it never gets there)."""
    final = {name: losses[:, -100:].mean(axis=1) for name, losses in runs.items()}
    first = {name: np.array([np.inf if s is None else s for s in first_step_below(losses, level)])
             for name, losses in runs.items()}
    return final, first


def degradation_findings(runs: dict, fits: float = 0.01, stalls: float = 0.1) -> dict:
    """What notebook 01 says about ``degradation_runs``, each claim -> whether it holds for these runs.

    A net *fits* when its mean loss over the last 100 steps is below ``fits``, *stalls* when it is above ``stalls``.
    Only claims that hold on every seed 1..5 and do not depend on the last bits of the arithmetic are made: the
    deep plain net's training is chaotic (which seeds stall changes with the CPU's BLAS kernels), the others' is not.
    """
    final, first = _endings(runs, fits)
    plain2, plain20, residual = "plain, 2 blocks", "plain, 20 blocks", "residual, 20 blocks"
    return {
        f"{plain2} fits on every seed": bool((final[plain2] < fits).all()),
        f"{residual} fits on every seed": bool((final[residual] < fits).all()),
        f"{residual} is the first below {fits} on every seed":
            all(r < min(a, b) for r, a, b in zip(first[residual], first[plain2], first[plain20])),
        f"{plain20} stalls (loss > {stalls}) on some seeds": bool((final[plain20] > stalls).any()),
    }


def degradation_counts(runs: dict, fits: float = 0.01, stalls: float = 0.1) -> dict:
    """How many seeds of ``degradation_runs(nets=DEGRADATION_EXPERIMENT)`` each net fits on, stalls on, and (the
    residual nets) gets below ``fits`` on before both plain nets: name -> {"seeds", "fits", "stalls", "first"}.

    A net *fits* when its mean loss over the last 100 steps is below ``fits``, *stalls* when it is above ``stalls``.
    """
    final, first = _endings(runs, fits)
    plain_first = np.minimum(first[PLAIN_SHALLOW], first[PLAIN_DEEP])
    counts = {}
    for name in runs:
        counts[name] = {"seeds": len(final[name]), "fits": int((final[name] < fits).sum()),
                        "stalls": int((final[name] > stalls).sum())}
        if name not in (PLAIN_SHALLOW, PLAIN_DEEP):
            counts[name]["first"] = int(((first[name] < plain_first) & np.isfinite(first[name])).sum())
    return counts


def counts_table(counts: dict) -> str:
    """``degradation_counts`` as a small table, one net a row."""
    n = max(count["seeds"] for count in counts.values())
    lines = [f"{'':27s} {'fits':>6s} {'stalls':>7s} {'first':>6s}   (of {n} seeds; first: below 0.01 before both plain nets)"]
    for name, count in counts.items():
        first = f"{count['first']}/{count['seeds']}" if "first" in count else "-"
        lines.append(f"{name:27s} {count['fits']:>3d}/{count['seeds']:<2d} {count['stalls']:>4d}/{count['seeds']:<2d} "
                     f"{first:>6s}")
    return "\n".join(lines)


def path_lengths(blocks: int) -> np.ndarray:
    """How many of the 2**blocks paths through a residual stack pass through k blocks, k = 0..blocks."""
    from math import comb

    return np.array([comb(blocks, k) for k in range(blocks + 1)], dtype=float)
