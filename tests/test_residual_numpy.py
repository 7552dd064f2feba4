"""Notebook 01's checks: the reference passes, each classic slip gets its own hint."""
import numpy as np
import pytest

from resnets_course import numpy_blocks as rn
from resnets_course.checks import numpy_checks
from resnets_utils import CheckFailed


def block_forward(a_prev, p):
    """The exercise's block written out, as a student writes it (kept here: the course ships no solution)."""
    z1 = p["W1"] @ a_prev + p["b1"]
    a1 = rn.relu(z1)
    z2 = p["W2"] @ a1 + p["b2"]
    return rn.relu(z2 + a_prev), (a_prev, z1, a1, z2, p)


def block_backward(da_next, cache):
    a_prev, z1, a1, z2, p = cache
    dz2 = da_next * ((z2 + a_prev) > 0)
    dz1 = (p["W2"].T @ dz2) * (z1 > 0)
    grads = {"dW1": dz1 @ a_prev.T, "db1": dz1.sum(axis=1, keepdims=True),
             "dW2": dz2 @ a1.T, "db2": dz2.sum(axis=1, keepdims=True)}
    return p["W1"].T @ dz1 + dz2, grads


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
    with pytest.raises(CheckFailed, match=hint):
        numpy_checks.check_residual_block_forward(forward_with(mistake))


def test_reference_passes_both_checks(capsys):
    numpy_checks.check_residual_block_forward(lambda a, p: block_forward(a, p))
    numpy_checks.check_residual_block_backward(lambda d, c: block_backward(d, c))
    assert capsys.readouterr().out.count("All tests passed.") == 2


def test_backward_without_the_identity_term_is_named():
    def backward(da_next, cache):
        da_prev, grads = block_backward(da_next, cache)
        a_prev, z1, a1, z2, p = cache
        dz2 = da_next * (z2 + a_prev > 0)
        return da_prev - dz2, grads
    with pytest.raises(CheckFailed, match="shortcut's term"):
        numpy_checks.check_residual_block_backward(backward)


def test_backward_with_a_wrong_relu_derivative_is_caught():
    def backward(da_next, cache):
        a_prev, z1, a1, z2, p = cache
        return block_backward(da_next, (a_prev, z1, a1, z2 - a_prev, p))   # g'(z2) instead of g'(z2 + a_prev)
    with pytest.raises(CheckFailed, match="differ from the numerical gradient"):
        numpy_checks.check_residual_block_backward(backward)


def test_identity_term_in_the_jacobian():
    """With the branch's weights at zero, d a[l+2] / d a[l] is exactly the identity (for positive inputs)."""
    a_prev, p = rn.example()
    p = {k: np.zeros_like(v) for k, v in p.items()}
    _, cache = block_forward(a_prev, p)
    da = np.random.default_rng(0).standard_normal(a_prev.shape)
    da_prev, _ = block_backward(da, cache)
    assert np.allclose(da_prev, da * (a_prev > 0))


def test_the_general_stack_is_the_exercises_block():
    """The stack the checks and experiments use agrees with the block written out, forward and backward."""
    for seed in (3, 4):
        a_prev, p = rn.example(seed)
        out, caches = rn.stack_forward(a_prev, [p])
        expected, cache = block_forward(a_prev, p)
        assert np.allclose(out, expected)
        assert all(np.allclose(x, y) for x, y in zip(rn.exercise_cache(a_prev, p)[:4], cache[:4]))
        da = np.random.default_rng(seed).standard_normal(out.shape)
        da_prev, [grads] = rn.stack_backward(da, caches)
        da_ref, grads_ref = block_backward(da, cache)
        assert np.allclose(da_prev, da_ref) and all(np.allclose(grads[k], grads_ref[k]) for k in grads_ref)


def test_plain_gradients_vanish_and_residual_ones_do_not():
    assert rn.gradient_norms(skip=False)[0] < 1e-6
    assert rn.gradient_norms(skip=True, last=0.25)[0] > 0.1


def test_path_counts():
    assert rn.path_lengths(3).tolist() == [1, 3, 3, 1]
    assert rn.path_lengths(16).sum() == 2 ** 16


SEEDS = range(1, 6)


def test_gradient_claims_hold_for_every_seed():
    """What notebook 01 says about its gradient plot, for each of its seeds 1..20 and both initialisations."""
    runs = rn.gradient_runs(range(1, 21))
    ratio = {key: norms[:, 0] / norms[:, -1] for key, norms in runs.items()}
    assert (ratio["LeCun", "plain"] < 1e-6).all()                    # vanishes: "less than 1e-6 on every one"
    assert (ratio["He", "plain"] > 1e-4).all() and (ratio["He", "plain"] < 10).all()   # "a few orders of magnitude"
    assert (ratio["LeCun", "residual"] > 10).all() and (ratio["LeCun", "residual"] < 1000).all()   # "tens to hundreds"
    assert (ratio["He", "residual"] > 1e3).all()                     # "thousands of times and more"
    assert (ratio["He", "residual, each branch's last layer at zero"] == 1).all()   # blocks start as the identity


def test_degradation_claims_hold_for_every_seed():
    """Releases before 2026-12 print these statements in notebook 01 (seeds 1..5, three nets): they still hold."""
    runs = rn.degradation_runs(SEEDS)
    assert all(runs[name].shape == (5, 500) for name in rn.DEGRADATION_NETS)
    findings = rn.degradation_findings(runs)
    assert findings and all(findings.values()), findings


def test_findings_can_fail():
    """The statements are real tests: a residual net that stalls, or a deep plain net that always fits, breaks them."""
    steps = np.arange(1, 501)
    good, stalled = np.tile(1 / steps, (5, 1)), np.full((5, 500), 0.5)
    runs = {"plain, 2 blocks": good * 2, "plain, 20 blocks": good * 3, "residual, 20 blocks": good}
    assert rn.degradation_findings(runs) == {**rn.degradation_findings(runs), "plain, 20 blocks stalls (loss > 0.1) on "
                                             "some seeds": False}
    assert not all(rn.degradation_findings({**runs, "residual, 20 blocks": stalled}).values())


def test_degradation_counts_of_the_stable_nets_match_the_committed_result():
    """The benchmark's per-seed results (bench/results/numpy_experiments-*.json) are the course's code's: seeds 1..10
    of the nets whose training does not depend on the CPU's rounding give the same counts here, and the same final
    loss wherever a run fitted. (The deep plain net's and the He-initialised residual net's do, so they are not
    compared. Nor is the final loss of a run that never fitted: on its plateau the rounding shows; seed 7 of the
    zero-start residual net ends at 0.0248 on the AMD EPYC that committed the file, 0.0218 on an Intel Xeon.)"""
    import json
    from pathlib import Path

    [path] = sorted((Path(__file__).resolve().parent.parent / "bench" / "results").glob("numpy_experiments-*.json"))
    committed = json.loads(path.read_text())
    stable = {name: rn.DEGRADATION_EXPERIMENT[name] for name in (rn.PLAIN_SHALLOW, rn.RESIDUAL_ZERO)}
    runs = rn.degradation_runs(range(1, 11), nets=stable)
    for name, losses in runs.items():
        rows = [row for row in committed["runs"][name] if row["seed"] <= 10]
        assert [row["first_below_0.01"] for row in rows] == rn.first_step_below(losses, 0.01), name
        fitted = np.array([row["first_below_0.01"] is not None for row in rows])
        committed_final, final = np.array([row["final_loss"] for row in rows]), losses[:, -100:].mean(axis=1)
        assert fitted.sum() >= 5, name   # most runs are compared to the digit, not just their side of 0.01
        assert np.allclose(committed_final[fitted], final[fitted], rtol=0.01), name
        assert all(committed_final[~fitted] >= 0.01) and all(final[~fitted] >= 0.01), name


def test_degradation_counts_can_fail():
    """A residual net that stalls, or a deep plain net that always fits, changes the counts."""
    steps = np.arange(1, 501)
    fast, slow, stalled = np.tile(1 / steps, (4, 1)), np.tile(3 / steps, (4, 1)), np.full((4, 500), 0.5)
    runs = {rn.PLAIN_SHALLOW: slow, rn.PLAIN_DEEP: stalled, rn.RESIDUAL_HE: slow, rn.RESIDUAL_ZERO: fast}
    counts = rn.degradation_counts(runs)
    assert counts[rn.PLAIN_DEEP] == {"seeds": 4, "fits": 0, "stalls": 4}
    assert counts[rn.RESIDUAL_ZERO] == {"seeds": 4, "fits": 4, "stalls": 0, "first": 4}
    assert counts[rn.RESIDUAL_HE]["first"] == 0, "a tie with the shallow plain net is not 'first'"
    counts = rn.degradation_counts({**runs, rn.RESIDUAL_ZERO: stalled})
    assert counts[rn.RESIDUAL_ZERO] == {"seeds": 4, "fits": 0, "stalls": 4, "first": 0}
    assert "18/20" not in rn.counts_table(counts) and "0/4" in rn.counts_table(counts)


def test_first_step_below():
    assert rn.first_step_below(np.array([[1.0, 0.5, 0.005, 0.001], [1.0, 1.0, 1.0, 1.0]]), 0.01) == [3, None]

