"""Counting parameters and multiply-adds, with the published numbers to compare them with (notebook 05).

Multiply-adds are counted as in He et al. (2015), Table 1: one per weight of a convolution or a
dense layer per output position; BatchNorm, ReLU, additions and pooling are not counted.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass

from .architecture import DEPTHS
from .errors import CourseError
from .keras_internals import keras

# He et al. 2015, "Deep Residual Learning for Image Recognition", Table 1: FLOPs (multiply-adds)
# at 224x224, in units of 10^9.
TABLE1_GFLOPS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}

# torchvision's resnet18 ... resnet152: convolutions without biases, BatchNorm's running
# statistics kept as buffers, not parameters.
TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}

# keras.applications.ResNet50 ... ResNet152V2(weights=None, input_shape=(224, 224, 3), classes=1000)
# .count_params() with the pinned Keras. Stored, not built, because building these six networks takes
# notebook 05 about 8 s; tests/test_resnet_family.py builds them and checks these numbers.
KERAS_APPLICATIONS = {50: ("ResNet50", 25_636_712), 101: ("ResNet101", 44_707_176), 152: ("ResNet152", 60_419_944)}
KERAS_APPLICATIONS_V2 = {50: ("ResNet50V2", 25_613_800), 101: ("ResNet101V2", 44_675_560),
                         152: ("ResNet152V2", 60_380_648)}


def multiply_adds(model) -> int:
    """Forward multiply-adds of the Conv2D and Dense layers of a built functional model."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * c_out * kh * kw * layer.input.shape[-1] // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            total += layer.units * layer.input.shape[-1]
    return int(total)


def reference_bottleneck(height: int, width: int, filters: int):
    """A bottleneck identity block (stride 1, 4F channels in and out) built from Keras layers, not from a
    student's code: what notebook 05's counting exercise is checked against."""
    L = keras.layers
    x = keras.Input((height, width, 4 * filters))
    y = x
    for k, (size, out) in enumerate([(1, filters), (3, filters), (1, 4 * filters)]):
        y = L.BatchNormalization(axis=3)(L.Conv2D(out, size, padding="same")(y))
        if k < 2:
            y = L.Activation("relu")(y)
    return keras.Model(x, L.Activation("relu")(L.Add()([y, x])))


def reference_bottleneck_cost(height: int, width: int, filters: int) -> tuple[int, int]:
    """(parameters, multiply-adds) of ``reference_bottleneck``, counted by Keras and by ``multiply_adds``."""
    model = reference_bottleneck(height, width, filters)
    return model.count_params(), multiply_adds(model)


def _producer(tensor):
    return tensor._keras_history.operation


@dataclass
class ParameterCount:
    total: int
    conv_biases: int            # every bias of every Conv2D
    conv_biases_before_bn: int  # biases of the Conv2D layers whose output goes straight into BatchNorm
    bn_moving_statistics: int   # BatchNorm's moving mean and variance: weights, but not trained

    @property
    def torchvision_style(self) -> int:
        """The count without conv biases and without BatchNorm's moving statistics, as torchvision counts."""
        return self.total - self.conv_biases - self.bn_moving_statistics


def count_parameters(model) -> ParameterCount:
    conv_biases = sum(layer.filters for layer in model.layers
                      if isinstance(layer, keras.layers.Conv2D) and layer.use_bias)
    before_bn, moving = 0, 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            moving += 2 * layer.input.shape[-1]
            source = _producer(layer.input)
            if isinstance(source, keras.layers.Conv2D) and source.use_bias:
                before_bn += source.filters
    return ParameterCount(model.count_params(), conv_biases, before_bn, moving)


def block_cost(block, input_shape, filters) -> tuple[int, int]:
    """(parameters, multiply-adds) of one block applied to an input of `input_shape`, stride 1."""
    x = keras.Input(input_shape)
    model = keras.Model(x, block(x, filters, s=1))
    return model.count_params(), multiply_adds(model)


@dataclass
class FamilyRow:
    depth: int
    block: str
    params: int
    torchvision_style: int
    multiply_adds: int
    preact_params: int
    preact_biases_before_bn: int
    keras_params: int | None = None
    keras_v2_params: int | None = None


def keras_applications_count(name: str) -> int:
    """Build keras.applications.<name> at 224x224x3 with 1000 classes and count its parameters."""
    model = getattr(keras.applications, name)(weights=None, input_shape=(224, 224, 3), classes=1000)
    n = model.count_params()
    del model
    gc.collect()
    return n


def _stored_count(reference, depth):
    return reference[depth][1] if depth in reference else None


def family_table(build_resnet, depths=DEPTHS) -> list[FamilyRow]:
    """Build every depth at 224x224x3 with 1000 classes, post- and pre-activation, and count."""
    rows = []
    for depth in depths:
        model = build_resnet(depth, input_shape=(224, 224, 3), classes=1000)
        if model is None or not any(isinstance(layer, keras.layers.Add) for layer in model.layers):
            raise CourseError(f"build_resnet({depth}) made no residual blocks: finish build_resnet above (its check "
                              "must pass), then run this cell again.")
        v1 = count_parameters(model)
        flops = multiply_adds(model)
        del model
        model = build_resnet(depth, input_shape=(224, 224, 3), classes=1000, preact=True)
        v2 = count_parameters(model)
        del model
        gc.collect()
        rows.append(FamilyRow(depth, "basic" if depth < 50 else "bottleneck", v1.total, v1.torchvision_style, flops,
                              v2.total, v2.conv_biases_before_bn, _stored_count(KERAS_APPLICATIONS, depth),
                              _stored_count(KERAS_APPLICATIONS_V2, depth)))
    return rows


def _pair(ours, reference) -> str:
    """The reference count, with '=' or '≠' before it, or a dash where there is no reference."""
    if reference is None:
        return "—"
    return f"{'=' if ours == reference else '≠'} {reference:,}"


def print_family_table(rows) -> None:
    print("Post-activation (v1) at 224x224x3, 1000 classes")
    print(f"{'depth':>5}  {'block':<10}  {'params':>10}  {'keras.applications':>20}  {'torchvision-style':>17}  "
          f"{'torchvision':>14}  {'GMACs':>6}  {'Table 1':>7}  {'diff':>5}")
    for r in rows:
        g = r.multiply_adds / 1e9
        print(f"{r.depth:>5}  {r.block:<10}  {r.params:>10,}  {_pair(r.params, r.keras_params):>20}  "
              f"{r.torchvision_style:>17,}  {_pair(r.torchvision_style, TORCHVISION_PARAMS[r.depth]):>14}  "
              f"{g:>6.3f}  {TABLE1_GFLOPS[r.depth]:>7.1f}  {100 * (g / TABLE1_GFLOPS[r.depth] - 1):>+4.1f}%")
    print()
    print("Pre-activation (v2) at 224x224x3, 1000 classes")
    print(f"{'depth':>5}  {'params':>10}  {'without conv biases before BN':>29}  {'keras.applications V2':>21}")
    for r in rows:
        lean = r.preact_params - r.preact_biases_before_bn
        print(f"{r.depth:>5}  {r.preact_params:>10,}  {lean:>29,}  {_pair(lean, r.keras_v2_params):>21}")


def plot_family(rows):
    """Parameters and multiply-adds against depth, basic and bottleneck blocks in two colours, the bottleneck
    bars hatched too (so that colour is not the only cue)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    blue, orange = "#4c72b0", "#dd8452"
    x = range(len(rows))
    colours = [blue if r.block == "basic" else orange for r in rows]
    hatches = ["" if r.block == "basic" else "//" for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.bar(x, [r.params / 1e6 for r in rows], color=colours, hatch=hatches, edgecolor="white")
    left.set_ylabel("parameters (millions)")
    right.bar(x, [r.multiply_adds / 1e9 for r in rows], color=colours, hatch=hatches, edgecolor="white")
    right.scatter(x, [TABLE1_GFLOPS[r.depth] for r in rows], color="black", marker="_", s=700, zorder=3)
    right.set_ylabel("multiply-adds (10$^9$) at 224x224")
    for ax in (left, right):
        ax.set_xticks(x, [str(r.depth) for r in rows])
        ax.set_xlabel("ResNet depth")
        ax.spines[["top", "right"]].set_visible(False)
    left.legend(handles=[Patch(facecolor=blue, edgecolor="white", label="basic blocks"),
                         Patch(facecolor=orange, edgecolor="white", hatch="//", label="bottleneck blocks")],
                loc="upper left", frameon=False)
    right.legend(handles=[Line2D([], [], color="black", lw=2, label="He et al. 2015, Table 1")],
                 loc="upper left", frameon=False)
    fig.tight_layout()
    return fig
