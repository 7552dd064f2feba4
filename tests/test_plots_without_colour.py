"""The course's plots can be read without telling colours apart: every legend's entries differ in line style,
marker or hatching as well (a reader who does not see red and green apart, or prints in grey)."""
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from matplotlib.container import ErrorbarContainer  # noqa: E402

from resnets_course import cifar_nets, counting, numpy_blocks, plots, transfer  # noqa: E402


def _figure4():
    result = {"seeds": [1, 2], "steps": 400,
              "nets": {f"{kind}-{depth}": [{"epoch_errors": [0.5] * 4}] * 2 for kind, depth in cifar_nets.NETS}}
    own = {(kind, 56): np.full(3, 0.5) for kind in ("plain", "residual")}
    return cifar_nets.plot_figure4_conv(own, result)


def _family():
    rows = [SimpleNamespace(depth=d, block="basic" if d < 50 else "bottleneck", params=d * 1e6, multiply_adds=d * 1e8)
            for d in (18, 34, 50, 101, 152)]
    return counting.plot_family(rows)


def _degradation():
    names = (numpy_blocks.PLAIN_SHALLOW, numpy_blocks.PLAIN_DEEP, numpy_blocks.RESIDUAL_HE, numpy_blocks.RESIDUAL_ZERO)
    return plots.plot_degradation({name: np.full((2, 120), 0.1 * (k + 1)) for k, name in enumerate(names)})


def _history():
    values = [0.5, 0.4, 0.3]
    return plots.plot_history(SimpleNamespace(history={"loss": values, "val_loss": values, "accuracy": values,
                                                       "val_accuracy": values}))


def _fine_tuning():
    runs = {"5": [0.96, 0.97, 0.98], "all": [0.97, 0.98, 0.99]}
    benchmark = {"k": ["5", "10", "20", "all"], "before": 0.95,
                 "runs": {"fine-tuned": runs, "from scratch, same steps": runs, "from scratch": runs}}
    return transfer.plot_fine_tuning({5: 0.97, None: 0.98}, 0.95, benchmark, {None: 0.9})


def _cue(handle) -> tuple:
    """What tells a legend entry apart other than its colour (a hollow marker is a shape, not a colour)."""
    if isinstance(handle, ErrorbarContainer):
        handle = handle.lines[0]
    if isinstance(handle, Line2D):
        hollow = str(handle.get_markerfacecolor()) in ("white", "none")
        return ("line", handle.get_linestyle(), handle.get_marker(), hollow)
    if isinstance(handle, Patch):
        return ("patch", handle.get_hatch() or "")
    return (type(handle).__name__,)


@pytest.mark.parametrize("draw", [_figure4, _family, _degradation, _history, _fine_tuning], ids=lambda f: f.__name__[1:])
def test_legend_entries_differ_in_more_than_colour(draw):
    fig = draw()
    try:
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
        assert legends, "the figure has no legend"
        for legend in legends:
            handles = legend.legend_handles
            cues = [_cue(h) for h in handles]
            assert len(set(cues)) == len(cues), [t.get_text() for t in legend.get_texts()]
    finally:
        plt.close(fig)


def test_the_check_tells_colour_alone_apart():
    fig, ax = plt.subplots()
    ax.plot([0, 1], color="C0", label="a")
    ax.plot([0, 1], color="C3", label="b")
    legend = ax.legend()
    cues = [_cue(h) for h in legend.legend_handles]
    plt.close(fig)
    assert len(set(cues)) < len(cues)


@pytest.mark.parametrize("probabilities", [[0.05, 0.1, 0.7, 0.05, 0.05, 0.05], [0.9, 0.02, 0.02, 0.02, 0.02, 0.02]])
def test_the_predicted_sign_is_marked_by_more_than_colour(probabilities):
    fig = plots.plot_prediction(np.zeros((64, 64, 3)), probabilities)
    try:
        bars = fig.axes[1].patches
        best = int(np.argmax(probabilities))
        assert [bool(bar.get_hatch()) for bar in bars] == [k == best for k in range(len(bars))]
        words = [text.get_text() for text in fig.axes[1].texts]
        assert words == [f"predicted: {best}\n({probabilities[best]:.2f})"], words
    finally:
        plt.close(fig)
