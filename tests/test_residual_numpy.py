"""Notebook 01's checks: the reference passes, each classic slip gets its own hint."""
import numpy as np
import pytest

import residual_numpy as rn


def forward_with(mistake):
    def forward(a_prev, p):
        z1 = p["W1"] @ a_prev + p["b1"]
        a1 = rn.relu(z1)
        z2 = p["W2"] @ a1 + p["b2"]
        a_next = {
            "add-after-relu": lambda: rn.relu(z2) + a_prev,
            "no-shortcut": lambda: rn.relu(z2),
            "shortcut-from-a1": lambda: rn.relu(z2 + a1),
            "no-final-relu": lambda: z2 + a_prev,
            "no-biases": lambda: rn.relu(p["W2"] @ rn.relu(p["W1"] @ a_prev) + a_prev),
            "none": lambda: None,
            "wrong-shape": lambda: (z2 + a_prev)[:, :1],
        }[mistake]()
        return a_next, (a_prev, z1, a1, z2, p)
    return forward


@pytest.mark.parametrize("mistake, hint", [
    ("add-after-relu", "before the final ReLU"),
    ("no-shortcut", "shortcut is missing"),
    ("shortcut-from-a1", "two layers back"),   # a1 has 3 rows, a_prev 4: the shapes clash
    ("no-final-relu", "ends with a ReLU"),
    ("no-biases", "biases are missing"),
    ("none", "returned None"),
    ("wrong-shape", "same shape"),
])
def test_forward_mistakes_get_their_hint(mistake, hint):
    with pytest.raises(rn.CheckFailed, match=hint):
        rn.check_residual_block_forward(forward_with(mistake))


def test_reference_passes_both_checks(capsys):
    rn.check_residual_block_forward(lambda a, p: rn.block_forward(a, p))
    rn.check_residual_block_backward(lambda d, c: rn.block_backward(d, c))
    assert capsys.readouterr().out.count("All tests passed.") == 2


def test_backward_without_the_identity_term_is_named():
    def backward(da_next, cache):
        da_prev, grads = rn.block_backward(da_next, cache)
        a_prev, z1, a1, z2, p = cache
        dz2 = da_next * (z2 + a_prev > 0)
        return da_prev - dz2, grads
    with pytest.raises(rn.CheckFailed, match="shortcut's term"):
        rn.check_residual_block_backward(backward)


def test_backward_with_a_wrong_relu_derivative_is_caught():
    def backward(da_next, cache):
        a_prev, z1, a1, z2, p = cache
        return rn.block_backward(da_next, (a_prev, z1, a1, z2 - a_prev, p))   # g'(z2) instead of g'(z2 + a_prev)
    with pytest.raises(rn.CheckFailed, match="differ from the numerical gradient"):
        rn.check_residual_block_backward(backward)


def test_identity_term_in_the_jacobian():
    """With the branch's weights at zero, d a[l+2] / d a[l] is exactly the identity (for positive inputs)."""
    a_prev, p = rn.example()
    p = {k: np.zeros_like(v) for k, v in p.items()}
    _, cache = rn.block_forward(a_prev, p)
    da = np.random.default_rng(0).standard_normal(a_prev.shape)
    da_prev, _ = rn.block_backward(da, cache)
    assert np.allclose(da_prev, da * (a_prev > 0))


def test_plain_gradients_vanish_and_residual_ones_do_not():
    assert rn.gradient_norms(skip=False)[0] < 1e-6
    assert rn.gradient_norms(skip=True, last=0.25)[0] > 0.1


def test_path_counts():
    assert rn.path_lengths(3).tolist() == [1, 3, 3, 1]
    assert rn.path_lengths(16).sum() == 2 ** 16
