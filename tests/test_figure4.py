"""Notebook 05's Figure 4 with convolutions: the nets are the paper's CIFAR-10 nets, the notebook's short run is the
start of the benchmark's, and the committed result holds what its counts say."""
import numpy as np
import pytest

from bench.figure4 import counts
from resnets_course import cifar_nets as c
from resnets_course.environment import FIGURE4_RESULT


@pytest.mark.parametrize("depth", [20, 56])
def test_depths_and_weights_are_the_papers(depth):
    """6n + 2 weight layers (6n + 1 convolutions and the softmax layer), each of the size ``kernel_sizes`` says; plain
    and residual nets have the same weights, since option A's shortcuts have none; the stages end at 32x32, 16x16 and
    8x8 with 16, 32, 64 filters."""
    import keras

    nets = {kind: c.cifar_net(kind, depth, seed=1) for kind in ("plain", "residual")}
    for kind, model in nets.items():
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        assert len(convs) + len(dense) == depth, kind
        assert [int(layer.kernel.shape.num_elements()) for layer in convs] == c.kernel_sizes(depth), kind
        n = c.BLOCKS[depth]
        assert [tuple(convs[2 * n * s].output.shape[1:]) for s in (1, 2, 3)] == [(32, 32, 16), (16, 16, 32), (8, 8, 64)]
    assert nets["plain"].count_params() == nets["residual"].count_params()
    adds = [layer for layer in nets["residual"].layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 3 * c.BLOCKS[depth]
    assert not any(isinstance(layer, keras.layers.Add) for layer in nets["plain"].layers)


def test_option_a_keeps_the_input_and_appends_zero_channels():
    import keras

    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    inputs = keras.Input((4, 4, 3))
    out = keras.Model(inputs, c._option_a(inputs, 8))(x).numpy()
    assert out.shape == (2, 2, 2, 8)
    assert np.array_equal(out[..., :3], x[:, ::2, ::2, :]) and not out[..., 3:].any()


def test_the_same_seed_gives_the_same_net():
    one, two = (c.cifar_net("residual", 20, seed=3).get_weights() for _ in range(2))
    other = c.cifar_net("residual", 20, seed=4).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
    assert not np.array_equal(one[0], other[0])


def test_the_notebooks_run_in_quick_mode(monkeypatch):
    monkeypatch.setenv("RESNETS_QUICK", "1")
    runs = c.figure4_conv_run()   # the notebook's call: the 56-layer nets, 240 steps; in quick mode 20 layers, 2 steps
    assert set(runs) == {("plain", 20), ("residual", 20)}
    assert all(r.shape == (1,) and 0 <= r[0] <= 1 for r in runs.values())


def test_the_committed_result_has_ten_seeds_and_its_counts_are_its_curves():
    result = c.figure4_conv_committed()
    assert len(result["seeds"]) >= 10 and result["steps"] == c.STEPS
    for name, runs in result["nets"].items():
        assert [run["seed"] for run in runs] == result["seeds"], name
        assert all(len(run["epoch_errors"]) == c.STEPS // 16 for run in runs), name
    assert counts(result["nets"]) == result["counts"]
    assert FIGURE4_RESULT.name.startswith("figure4-")
