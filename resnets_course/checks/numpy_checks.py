"""Checks of notebook 01's two NumPy exercises: the residual block forward and backward."""
from __future__ import annotations

import numpy as np

from ..errors import CheckFailed
from ..numpy_blocks import example, exercise_cache, relu, stack_backward, stack_forward


def _call(fn, name, *args):
    try:
        out = fn(*args)
    except ValueError as e:
        if "broadcast" in str(e) or "matmul" in str(e):
            raise CheckFailed(f"{name}: shapes that do not fit ({e}). In the test, a_prev is (4, 2) and the "
                              "hidden layer has 3 units: W1 is (3, 4), W2 is (4, 3). The shortcut adds a_prev, the "
                              "block's input from two layers back, to z2; both are (4, 2).") from None
        raise CheckFailed(f"{name} raised ValueError: {e}") from None
    except Exception as e:
        raise CheckFailed(f"{name} raised {type(e).__name__}: {e}") from None
    if out is None or (isinstance(out, tuple) and any(o is None for o in out)):
        raise CheckFailed(f"{name} returned None: write your code between START CODE HERE and END CODE HERE.")
    return out


def check_residual_block_forward(fn) -> None:
    for seed in (3, 4):
        a_prev, p = example(seed)
        a_next, cache = _call(fn, "residual_block_forward", a_prev, p)
        a_next = np.asarray(a_next)
        if a_next.shape != a_prev.shape:
            raise CheckFailed(f"a_next should have the shape of a_prev, {a_prev.shape}; yours is {a_next.shape}. "
                              "The skip needs the same shape on both sides of the +.")
        expected, _ = stack_forward(a_prev, [p])
        if np.allclose(a_next, expected):
            continue
        z1 = p["W1"] @ a_prev + p["b1"]
        z2 = p["W2"] @ relu(z1) + p["b2"]
        if np.allclose(a_next, relu(z2) + a_prev):
            raise CheckFailed("the shortcut must be added before the final ReLU: a_next = relu(z2 + a_prev), "
                              "not relu(z2) + a_prev.")
        if np.allclose(a_next, relu(z2)):
            raise CheckFailed("the shortcut is missing: add a_prev to z2 before the final ReLU.")
        if np.allclose(a_next, z2 + a_prev):
            raise CheckFailed("the block ends with a ReLU: a_next = relu(z2 + a_prev).")
        if np.allclose(a_next, relu(p["W2"] @ relu(p["W1"] @ a_prev) + a_prev)):
            raise CheckFailed("the biases are missing: z1 = W1 a_prev + b1 and z2 = W2 a1 + b2.")
        raise CheckFailed("a_next differs from relu(W2 relu(W1 a_prev + b1) + b2 + a_prev). Check each "
                          "equation in order: z1, a1, z2, then a_next.")
    print("All tests passed.")


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function f at x (x is changed in place and restored)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        up = f()
        x[idx] = old - eps
        down = f()
        x[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


def gradient_check(backward, seed: int = 3) -> dict:
    """Relative errors between ``backward``'s gradients and numerical ones, per quantity."""
    a_prev, p = example(seed)
    da_next = np.random.default_rng(seed + 10).standard_normal(a_prev.shape)

    def loss():
        return float(np.sum(da_next * stack_forward(a_prev, [p])[0]))

    da_prev, grads = _call(backward, "residual_block_backward", da_next, exercise_cache(a_prev, p))
    errors = {}
    for name, analytic, x in [("da_prev", da_prev, a_prev)] + [(f"d{k}", grads.get(f"d{k}"), p[k]) for k in p]:
        if analytic is None:
            raise CheckFailed(f"grads has no '{name}': return a dict with dW1, db1, dW2 and db2.")
        numeric = numerical_gradient(loss, x)
        analytic = np.asarray(analytic, float)
        if analytic.shape != x.shape:
            raise CheckFailed(f"{name} should have the shape of {name[1:]}, {x.shape}; yours is {analytic.shape}.")
        errors[name] = float(np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric) + 1e-12))
    return errors


def check_residual_block_backward(fn) -> None:
    for seed in (3, 4):
        errors = gradient_check(fn, seed)
        bad = [k for k, e in errors.items() if e > 1e-6]
        if not bad:
            continue
        a_prev, p = example(seed)
        da_next = np.random.default_rng(seed + 10).standard_normal(a_prev.shape)
        cache = exercise_cache(a_prev, p)
        da_prev = np.asarray(fn(da_next, cache)[0])
        reference, _ = stack_backward(da_next, stack_forward(a_prev, [p])[1])
        z2 = cache[3]
        dz2 = da_next * (z2 + a_prev > 0)
        if bad == ["da_prev"] and np.allclose(da_prev, reference - dz2):
            raise CheckFailed("da_prev is missing the shortcut's term: a_prev reaches the output along two paths, "
                              "so da_prev = W1.T @ dz1 + dz2 (the identity passes dz2 straight through).")
        if "dW2" in bad or "db2" in bad:
            raise CheckFailed(f"{', '.join(bad)} differ from the numerical gradient. Start at the end: "
                              "dz2 = da_next * (z2 + a_prev > 0), the ReLU's derivative at its input z2 + a_prev.")
        raise CheckFailed(f"{', '.join(bad)} differ from the numerical gradient (relative errors "
                          + ", ".join(f"{k} {errors[k]:.1e}" for k in bad) + "). Go backwards one equation at a time.")
    print("All tests passed.")
