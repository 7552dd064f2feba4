"""Notebook 05's Figure 4 in miniature: the NumPy nets are right, and what the notebook says holds on every seed."""
import numpy as np
import pytest

from resnets_course import degradation as d


@pytest.mark.parametrize("residual", [False, True])
def test_gradients_match_finite_differences(residual, monkeypatch):
    monkeypatch.setitem(d.BLOCKS, 2, 1)   # a first layer, one block, the softmax layer
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((5, 7)), rng.integers(0, 3, 7)
    layers = d.init_net(2, 5, 4, 3, rng)
    _, _, grads = d.loss_and_grads(layers, x, y, residual)
    for w, g in zip([w for layer in layers for w in layer], grads):
        numeric = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + 1e-6
            plus = d.loss_and_grads(layers, x, y, residual)[0]
            w[idx] = old - 1e-6
            minus = d.loss_and_grads(layers, x, y, residual)[0]
            w[idx] = old
            numeric[idx] = (plus - minus) / 2e-6
        assert np.allclose(g, numeric, rtol=1e-4, atol=1e-7)


def test_depths_are_the_papers():
    layers = d.init_net(34, 192, 32, 6, np.random.default_rng(0))
    assert len(layers) == 34 and len(d.init_net(18, 192, 32, 6, np.random.default_rng(0))) == 18


def test_figure4_claims_hold_on_every_seed():
    """The notebook's run (seeds 1, 2, 3, 20 epochs): every printed statement holds; and what its text says
    the curves do not show (ResNet-34 below ResNet-18) is indeed not shown, on average."""
    errors = d.figure4_runs((1, 2, 3))
    findings = d.figure4_findings(errors)
    assert findings and all(findings.values()), findings
    assert errors["residual", 34][:, -1].mean() > errors["residual", 18][:, -1].mean()


def test_plain_nets_gradients_grow_towards_the_input():
    """What notebook 05 says of the miniature's gradients at initialisation (seed 1): the deep plain net's first block
    gets hundreds of times the last hidden layer's gradient, the residual nets' within a few times."""
    ratios = d.figure4_gradient_ratios((1,))
    assert ratios["plain", 34][0] > 100 and 5 < ratios["plain", 18][0] < 20
    assert all(1 < ratios["residual", depth][0] < 6 for depth in (18, 34))
