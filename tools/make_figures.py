"""Draw the course's block diagrams into images/ (run: python -m tools.make_figures).

The diagrams are plain matplotlib, so they need nothing beyond the course's requirements and
come out byte-identical on every run.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from resnets_utils import save_fig  # noqa: E402

COLOURS = {"conv": "#f6c28b", "bn": "#b8d8ec", "relu": "#c7e6b8", "add": "#ffffff", "io": "#eeeeee"}
LABELS = {"bn": "BatchNorm", "relu": "ReLU"}


def _box(ax, x, y, text, kind, w=0.9, h=1.3):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.1",
                                fc=COLOURS[kind], ec="#333333", lw=1.2, zorder=2))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5, rotation=90, zorder=3)


def _arrow(ax, a, b, **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, lw=1.3, color="#333333", **kw))


def draw_block(projection: bool):
    """The bottleneck block: main path of three components, shortcut on top, shapes annotated."""
    s = ", s" if projection else ""
    main = [("conv", f"CONV2D\n1x1{s}"), ("bn", "BatchNorm"), ("relu", "ReLU"),
            ("conv", "CONV2D\nf x f same"), ("bn", "BatchNorm"), ("relu", "ReLU"),
            ("conv", "CONV2D\n1x1"), ("bn", "BatchNorm")]
    fig, ax = plt.subplots(figsize=(12, 3.6))
    xs = [1.6 + 1.15 * i for i in range(len(main))]
    add_x, relu_x, out_x = xs[-1] + 1.3, xs[-1] + 2.3, xs[-1] + 3.4
    ax.text(0.35, 0, "X\n(input)", ha="center", va="center", fontsize=10)
    _arrow(ax, (0.75, 0), (xs[0] - 0.45, 0))
    for i, (x, (kind, text)) in enumerate(zip(xs, main)):
        _box(ax, x, 0, text, kind)
        nxt = xs[i + 1] - 0.45 if i + 1 < len(xs) else add_x - 0.3
        _arrow(ax, (x + 0.45, 0), (nxt, 0))
    ax.add_patch(plt.Circle((add_x, 0), 0.3, fc="white", ec="#333333", lw=1.2))
    ax.text(add_x, 0, "+", ha="center", va="center", fontsize=16)
    _arrow(ax, (add_x + 0.3, 0), (relu_x - 0.45, 0))
    _box(ax, relu_x, 0, "ReLU", "relu")
    _arrow(ax, (relu_x + 0.45, 0), (out_x - 0.2, 0))
    ax.text(out_x + 0.1, 0, "output", ha="left", va="center", fontsize=10)

    # Shortcut over the top, joining the addition from above.
    top = 1.5
    ax.plot([0.95, 0.95, add_x, add_x], [0, top, top, 0.32], color="#333333", lw=1.3)
    _arrow(ax, (add_x, 0.6), (add_x, 0.3))
    if projection:
        mid = (0.95 + add_x) / 2
        for dx, (kind, text) in ((-0.65, ("conv", "CONV2D\n1x1, s")), (0.65, ("bn", "BatchNorm"))):
            ax.add_patch(FancyBboxPatch((mid + dx - 0.55, top - 0.3), 1.1, 0.6, zorder=2,
                                        boxstyle="round,pad=0.02,rounding_size=0.1",
                                        fc=COLOURS[kind], ec="#333333", lw=1.2))
            ax.text(mid + dx, top, text, ha="center", va="center", fontsize=8, zorder=3)
        ax.text(mid, top + 0.55, "shortcut: 1x1 convolution with stride s, so the shapes match",
                ha="center", fontsize=9, style="italic")
    else:
        ax.text((0.95 + add_x) / 2, top + 0.25, "shortcut: X_shortcut = X, unchanged",
                ha="center", fontsize=9, style="italic")

    # Shapes under the main path.
    if projection:
        shapes = [(1.0, "(n_H, n_W, n_C)"), (xs[2] + 0.55, "(n_H/s, n_W/s, F1)"),
                  (xs[5] + 0.55, "(n_H/s, n_W/s, F2)"), (add_x, "(n_H/s, n_W/s, F3)")]
    else:
        shapes = [(1.0, "(n_H, n_W, n_C)"), (xs[2] + 0.55, "(n_H, n_W, F1)"),
                  (xs[5] + 0.55, "(n_H, n_W, F2)"), (add_x, "(n_H, n_W, F3 = n_C)")]
    for x, text in shapes:
        ax.text(x, -1.0, text, ha="center", fontsize=8.5, color="#555555")
    for i, title in enumerate(["first component", "second component", "third component"]):
        ax.text((xs[3 * i] + xs[min(3 * i + 2, len(xs) - 1)]) / 2 if i < 2 else (xs[6] + xs[7]) / 2, -1.5,
                title, ha="center", fontsize=9)
    ax.set_xlim(0, out_x + 1.0)
    ax.set_ylim(-1.75, top + 0.9)
    ax.set_aspect("equal")
    ax.axis("off")
    title = "Convolutional block (projection shortcut)" if projection else "Identity block"
    ax.set_title(title, fontsize=12)
    return fig


def _family_row(ax, y, title, main, shortcut, relu_after_add, shared_preact):
    """One block of notebook 05 on one row: main path left to right, projection shortcut above."""
    w, h, step = 0.95, 0.75, 1.12
    ax.text(0.0, y + 1.55, title, fontsize=10.5, weight="bold", va="center")
    ax.text(0.3, y, "X", ha="center", va="center", fontsize=10)
    xs = [1.3 + step * i for i in range(len(main))]
    _arrow(ax, (0.45, y), (xs[0] - w / 2, y))
    add_x = xs[-1] + 1.05
    for i, (x, (kind, text)) in enumerate(zip(xs, main)):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc=COLOURS[kind], ec="#333333", lw=1.0, zorder=2))
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5, zorder=3)
        _arrow(ax, (x + w / 2, y), ((xs[i + 1] - w / 2) if i + 1 < len(xs) else add_x - 0.25, y))
    ax.add_patch(plt.Circle((add_x, y), 0.25, fc="white", ec="#333333", lw=1.0))
    ax.text(add_x, y, "+", ha="center", va="center", fontsize=13)
    end = add_x + 0.25
    if relu_after_add:
        rx = add_x + 1.0
        _arrow(ax, (end, y), (rx - w / 2, y))
        ax.add_patch(FancyBboxPatch((rx - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc=COLOURS["relu"], ec="#333333", lw=1.0, zorder=2))
        ax.text(rx, y, "ReLU", ha="center", va="center", fontsize=7.5, zorder=3)
        end = rx + w / 2
    _arrow(ax, (end, y), (end + 0.5, y))
    # The identity shortcut always leaves from the block input X.
    top = y + 0.8
    ax.plot([0.75, 0.75, add_x, add_x], [y, top, top, y + 0.25], color="#333333", lw=1.1)
    if not shared_preact:
        ax.text((0.75 + add_x) / 2, top + 0.1, f"shortcut: identity, or {shortcut} when the shape changes",
                ha="center", va="bottom", fontsize=8.5, style="italic")
        return
    # In a pre-activation block a projection reads the pre-activated input instead (dashed, below).
    ax.text((0.75 + add_x) / 2, top + 0.1, "shortcut: identity", ha="center", va="bottom", fontsize=8.5,
            style="italic")
    start, bottom = xs[1] + w / 2 + 0.08, y - 0.8
    ax.plot([start, start, add_x, add_x], [y, bottom, bottom, y - 0.25], color="#333333", lw=1.1, ls="--")
    ax.text((start + add_x) / 2, bottom - 0.1, f"when the shape changes: {shortcut}, instead of the identity",
            ha="center", va="top", fontsize=8.5, style="italic")


def draw_family():
    """The four blocks of notebook 05, one per row."""
    conv = lambda text: ("conv", text)  # noqa: E731
    bn, relu = ("bn", "BN"), ("relu", "ReLU")
    rows = [
        ("Basic block (ResNet-18, 34)", [conv("3x3, F\nstride s"), bn, relu, conv("3x3, F"), bn],
         "a 1x1 conv (stride s) + BN", True, False),
        ("Bottleneck block (ResNet-50, 101, 152)", [conv("1x1, F\nstride s"), bn, relu, conv("3x3, F"), bn, relu,
                                                    conv("1x1, 4F"), bn], "a 1x1 conv (stride s) + BN", True, False),
        ("Pre-activation basic block", [bn, relu, conv("3x3, F\nstride s"), bn, relu, conv("3x3, F")],
         "a 1x1 conv (stride s) of the pre-activated input", False, True),
        ("Pre-activation bottleneck block", [bn, relu, conv("1x1, F\nstride s"), bn, relu, conv("3x3, F"), bn, relu,
                                             conv("1x1, 4F")], "a 1x1 conv (stride s) of the pre-activated input",
         False, True),
    ]
    fig, ax = plt.subplots(figsize=(12, 8.2))
    for i, row in enumerate(rows):
        _family_row(ax, -3.2 * i, *row)
    ax.set_xlim(-0.1, 13.0)
    ax.set_ylim(-3.2 * (len(rows) - 1) - 1.3, 1.8)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


def main():
    for projection, name in ((False, "identity_block"), (True, "convolutional_block")):
        path = save_fig(draw_block(projection), name, dpi=110)
        print("wrote", path)
    print("wrote", save_fig(draw_family(), "resnet_blocks", dpi=110))


if __name__ == "__main__":
    main()
