"""The graded blocks of notebooks 02, 03 and 05, described as data and checked by one engine.

Each block is written out as a ``BlockSpec`` (its main path and its shortcut as lists of layers,
never as code a student could copy) with the calls that test it (``Case``). The check traces the
student's function on a symbolic input (``tracing``), compares what it called with the spec, and
says what is wrong in plain words; only then does it compare numbers, with every weight = 1 on
constant images (the idea of the 2021 TF2 edition of the assignment), so that the expected arrays
depend on no random number stream.

The blocks of 05 are called four times: with an identity shortcut (s = 1, channels match), with a
projection that downsamples (s = 2), with one that only widens (s = 1, channels differ, as in the
first block of ResNet-50) and with one that only downsamples (s = 2, channels match), so that a
block that projects only when the channels change fails too.

Notebooks 02 and 03 keep the 2021 assignment's call, whose numbers are compared, and add one call
whose structure only is checked (``Case.numbers`` False): the identity block with three different
filters, so that F1 and F2 swapped show, and the convolutional block with s = 1, so that a stride
written as a fixed number instead of s shows.
"""
from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CheckFailed, CourseError
from ..keras_internals import keras
from .messages import (INITIALIZER_IGNORED, INITIALIZER_NOT_CALLED, INITIALIZER_SEED, POINTS_ON, RELU_BEFORE_ADD,
                       RETURNED_NONE, TRAINING_FLAG_IGNORED, explain_keras_misuse, fail, fail_on_error,
                       layer_settings_problem)
from .tracing import arrow, recording, trace

# --------------------------------------------------------------------------------------------
# The blocks, written out as data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    kind: str                 # "conv", "bn" or "relu"
    filters: int = 0
    kernel: int = 0
    strides: int = 1

    def describe(self) -> str:
        if self.kind == "conv":
            s = "" if self.strides == 1 else f", strides={self.strides}"
            pad = ", padding='same'" if self.kernel > 1 else ""
            return f"Conv2D({self.filters}, {self.kernel}x{self.kernel}{s}{pad})"
        return {"bn": "BatchNormalization(axis=3)", "relu": "ReLU"}[self.kind]


BN, RELU = Layer("bn"), Layer("relu")


def conv(filters, kernel, strides=1):
    return Layer("conv", filters, kernel, strides)


@dataclass(frozen=True)
class Case:
    """One call of the block: the shortcut it needs, its input, and its main path's convolutions."""
    label: str                # "identity", or which projection: "downsampling", "widening", ...
    channels: int             # input channels (the input is 4x4)
    s: int
    convs: tuple              # ((filters, kernel), ...) of the main path; the first one has stride s
    arguments: dict = field(default_factory=dict, compare=False)   # besides X, training and initializer
    numbers: bool = True      # False: traced and checked layer by layer, but no stored numbers to compare

    @property
    def projection(self) -> bool:
        return self.label != "identity"

    @property
    def out_channels(self) -> int:
        return self.convs[-1][0]

    @property
    def out_shape(self) -> tuple:
        return (3, 4 // self.s, 4 // self.s, self.out_channels)


@dataclass(frozen=True)
class BlockSpec:
    name: str
    preact: bool
    cases: tuple
    # Notebooks 02 and 03 give filters as F1, F2, F3 and a template that writes the main path first,
    # then the shortcut: their hints use those names, and the first convolutions called are the main path's.
    template: bool = False

    @property
    def bottleneck(self) -> bool:
        return len(self.cases[0].convs) == 3

    def main(self, case: Case) -> list:
        """The main path, from the block input to the addition."""
        convs = [conv(f, k, case.s if i == 0 else 1) for i, (f, k) in enumerate(case.convs)]
        layers = [BN, RELU] if self.preact else []
        for i, c in enumerate(convs):
            last = i == len(convs) - 1
            if self.preact:
                layers += [c] if last else [c, BN, RELU]
            else:
                layers += [c, BN] if last else [c, BN, RELU]
        return layers

    def projection(self, case: Case) -> list:
        """The projection shortcut, from the block input to the addition."""
        c = conv(case.out_channels, 1, case.s)
        return [BN, RELU, c] if self.preact else [c, BN]

    def out_filters(self, case: Case) -> str:
        """How the hints name the block's output filters."""
        return f"{case.out_channels} filters (F3)" if self.template else f"{case.out_channels} filters"

    def numbers_case(self) -> Case:
        """The call whose training flag and initializer are checked: the first projection, if any."""
        return next((c for c in self.cases if c.projection), self.cases[0])


FILTERS = 2   # notebook 05's blocks are called with filters=2


def _family_cases(bottleneck: bool) -> tuple:
    out = 4 * FILTERS if bottleneck else FILTERS
    convs = ((FILTERS, 1), (FILTERS, 3), (out, 1)) if bottleneck else ((FILTERS, 3), (FILTERS, 3))
    return tuple(Case(label, channels, s, convs, {"filters": FILTERS, "s": s}) for label, channels, s in
                 [("identity", out, 1), ("downsampling", 3, 2), ("widening", 3, 1), ("same-width downsampling", out, 2)])


SPECS = {
    # The first case of each is the 2021 assignment's, with its numbers; the second is checked layer by layer.
    "identity_block": BlockSpec("identity_block", False, (
        Case("identity", 3, 1, ((4, 1), (4, 2), (3, 1)), {"f": 2, "filters": [4, 4, 3]}),
        Case("identity", 3, 1, ((2, 1), (4, 2), (3, 1)), {"f": 2, "filters": [2, 4, 3]}, numbers=False),
    ), template=True),
    "convolutional_block": BlockSpec("convolutional_block", False, (
        Case("downsampling", 3, 2, ((2, 1), (4, 2), (6, 1)), {"f": 2, "filters": [2, 4, 6], "s": 2}),
        Case("widening", 3, 1, ((2, 1), (4, 2), (6, 1)), {"f": 2, "filters": [2, 4, 6], "s": 1}, numbers=False),
    ), template=True),
    "basic_block": BlockSpec("basic_block", False, _family_cases(False)),
    "bottleneck_block": BlockSpec("bottleneck_block", False, _family_cases(True)),
    "preact_basic_block": BlockSpec("preact_basic_block", True, _family_cases(False)),
    "preact_bottleneck_block": BlockSpec("preact_bottleneck_block", True, _family_cases(True)),
}


# --------------------------------------------------------------------------------------------
# Comparing a trace with a spec
# --------------------------------------------------------------------------------------------

def _as_layer(call) -> Layer:
    if call.kind == "conv":
        c = call.config
        return Layer("conv", c["filters"], c["kernel_size"][0], c["strides"][0])
    return Layer(call.kind)


def _kernels(sizes) -> str:
    return ", ".join(f"{k}x{k}" for k in sizes)


def _unchanged_shortcut(spec: BlockSpec, case: Case) -> str:
    if spec.template:
        return (f"the shortcut is added unchanged. In the convolutional block the shortcut needs a 1x1 Conv2D with "
                f"stride s={case.s} and {case.out_channels} filters, then BatchNormalization, so that its shape "
                "matches the main path.")
    return (f"the shortcut is added unchanged; in this call (s = {case.s}, {case.channels} input channels, "
            f"{case.out_channels} output channels) it needs a projection.")


def _check_layer_settings(name, tr):
    """Each Conv2D's padding, activation and bias, each BatchNormalization's axis, γ, β and epsilon."""
    for c in tr.of_kind("conv"):
        k = c.config["kernel_size"][0]
        if k > 1 and c.config["padding"] != "same":
            fail(name, f"a {k}x{k} convolution uses padding='{c.config['padding']}', which shrinks the image so the "
                       "shortcut no longer fits: use padding='same'.")
    for kind in ("bn", "conv"):   # the axis first, as before the other settings were checked
        for c in tr.of_kind(kind):
            problem = layer_settings_problem(c.kind, c.config)
            if problem:
                fail(name, problem)


_STILL_DOWNSAMPLES = ("called with s=1 your block{where} still downsamples: use strides=(s, s){how}, not a fixed "
                      "number, so s decides (ResNet-50's stage conv2 calls it with s=1).")


def _check_square_kernels(name, tr):
    """kernel_size=(f, 1) looks like f to a check that reads one side: every window here is square."""
    for c in tr.of_kind("conv"):
        size = tuple(c.config["kernel_size"])
        if len(set(size)) > 1:
            fail(name, f"a Conv2D has kernel_size={size}, a {size[0]}x{size[1]} window; the convolutions of a ResNet "
                       f"block are square: kernel_size=f (or (f, f)) for the fxf one, 1 for the 1x1 ones.")


def _check_template_convs(spec: BlockSpec, tr, case: Case):
    """Notebooks 02 and 03: the first convolutions called are the main path's, then the shortcut's.
    Their settings are named first, because wrong settings are why a trace fails half-way."""
    name, s, n = spec.name, case.s, len(case.convs)
    _check_square_kernels(name, tr)
    convs = tr.of_kind("conv")
    main_convs = convs[:n]
    want = [layer for layer in spec.main(case) if layer.kind == "conv"]
    f = case.convs[1][1]
    if len(main_convs) == n:
        kernels = [c.config["kernel_size"][0] for c in main_convs]
        if kernels != [w.kernel for w in want]:
            if kernels[0] == f and kernels[1] == 1:
                fail(name, f"the kernel sizes are swapped: the main path is 1x1, then {f}x{f}, then 1x1 "
                           f"(you have {_kernels(kernels)}).")
            fail(name, f"the main path's kernel sizes should be {_kernels(w.kernel for w in want)}; found "
                       f"{_kernels(kernels)}.")
    _check_layer_settings(name, tr)
    if len(main_convs) == n:
        strides = [c.config["strides"][0] for c in main_convs]
        if case.projection and s == 1 and strides[0] != 1 and strides[1:] == [1] * (n - 1):
            fail(name, _STILL_DOWNSAMPLES.format(where="", how=" in the first 1x1 Conv2D"))
        if case.projection and strides[0] == 1 and strides[1] == s != 1:
            fail(name, f"the stride s={s} is on the {f}x{f} convolution; in this block it belongs to the first 1x1 "
                       "Conv2D of the main path (and to the shortcut's Conv2D).")
        if strides != [w.strides for w in want]:
            if case.projection:
                fail(name, f"the main path's strides should be {s}, 1, 1 (the first 1x1 Conv2D downsamples); found "
                           f"{', '.join(map(str, strides))}.")
            fail(name, f"the identity block keeps the image size, so every stride is 1; found strides "
                       f"{', '.join(map(str, strides))}.")
        filters = [c.config["filters"] for c in main_convs]
        if filters != [w.filters for w in want]:
            fail(name, f"the main path's filters are {filters}; use F1, F2, F3 = filters in that order "
                       f"(here {[w.filters for w in want]}).")
    if case.projection:
        if len(convs) == n and tr.error is not None:
            fail(name, _unchanged_shortcut(spec, case))
        if len(convs) > n:
            _check_projection_conv(spec, tr, convs[n], case)


def _check_projection_conv(spec: BlockSpec, tr, call, case: Case):
    name, s = spec.name, case.s
    if not spec.preact:
        producer = tr.producer(call.inputs[0]) if call.inputs else None
        before = tr.producer(producer.inputs[0]) if producer is not None and producer.inputs else None
        if producer is not None and producer.kind == "bn" and before is not None and before.kind == "input":
            fail(name, "the shortcut's BatchNormalization comes after its Conv2D: X_shortcut -> Conv2D (1x1, "
                       "strides=(s, s)) -> BatchNormalization(axis=3). Yours normalises the input first.")
        if producer is None or producer.kind != "input":
            fail(name, "the shortcut's Conv2D must be applied to the block's input X_shortcut, saved before the "
                       "main path changes X.")
    sc = _as_layer(call)
    if sc.strides != s and s == 1 and spec.template:
        fail(name, _STILL_DOWNSAMPLES.format(where="'s shortcut", how=" in the shortcut's Conv2D"))
    if sc.strides != s:
        fail(name, f"the shortcut's Conv2D has strides {sc.strides}; it needs strides=(s, s) = ({s}, {s}) so the "
                   "shortcut shrinks like the main path.")
    if (sc.kernel, sc.filters) != (1, case.out_channels):
        fail(name, f"the shortcut's Conv2D should have {spec.out_filters(case)} and a 1x1 kernel; found "
                   f"{call.describe()}.")


def _op_message(spec: BlockSpec, call) -> str:
    """A keras.ops function (or an operator such as +) applied to a tensor where the course asks for a layer."""
    if spec.template:
        reads = "notebook 04 reads your blocks' {layers} to check your ResNet-50"
    else:
        reads = "the check of build_resnet reads your blocks' {layers} to find the stages and the kind of block"
    if call.kind == "op:add":
        return ("X + X_shortcut (keras.ops.add) computes the right sum, but write the addition as the layer "
                "Add()([X, X_shortcut]): " + reads.format(layers="Add layers") + ", and the layer shows in "
                "model.summary().")
    if call.kind == "op:relu":
        return ("keras.ops.relu computes the right ReLU, but write it as the layer Activation('relu'): "
                + reads.format(layers="Activation layers") + ", and the layer shows in model.summary().")
    return (f"your block applies keras.ops.{call.kind[3:]} (or an operator such as * or -) to a tensor; write "
            "every step as a Keras layer: Conv2D, BatchNormalization, Activation('relu') and Add.")


def _check_call(spec: BlockSpec, tr, case: Case):
    name, s, channels = spec.name, case.s, case.channels
    if isinstance(tr.error, InitializerMisused):
        fail(name, str(tr.error).split("\n")[0])
    if tr.error is None and tr.output is None:
        fail(name, "the function " + RETURNED_NONE)
    if tr.error is None and not hasattr(tr.output, "shape"):
        fail(name, f"the function returned a {type(tr.output).__name__}, not a tensor. Return X, the output of the "
                   f"{'addition' if spec.preact else 'final ReLU'}.")
    if spec.template:
        _check_template_convs(spec, tr, case)   # checks the padding and the axis too, after the kernel sizes
    else:
        _check_square_kernels(name, tr)
        _check_layer_settings(name, tr)
    ops = [c for c in tr.calls if c.kind.startswith("op:")]
    if ops:
        fail(name, _op_message(spec, next((c for c in ops if c.kind in ("op:add", "op:relu")), ops[0])))
    if tr.error is not None:
        msg = str(tr.error).split("\n")[0]
        if "incompatible shapes" in msg.lower() or "must have the same shape" in msg.lower():
            _explain_shapes(spec, tr, case, msg)
        last = tr.calls[-1] if tr.calls else None
        fail_on_error(name, tr.error, add=last is not None and last.kind == "add" and last.failed)

    adds = tr.of_kind("add")
    if not adds:
        then = "" if spec.preact else ", then apply the final ReLU"
        fail(name, f"the shortcut is never added back: after the main path, add the shortcut to its output with "
                   f"Add()([X, X_shortcut]){then}.")
    if len(adds) > 1:
        fail(name, f"the block adds {len(adds)} times; the shortcut is added exactly once.")
    add = adds[0]
    if len(add.inputs) != 2:
        fail(name, f"the addition adds {len(add.inputs)} tensor{'s' if len(add.inputs) != 1 else ''}; it adds exactly "
                   "two, the main path's output X and the shortcut X_shortcut: Add()([X, X_shortcut]).")
    if add.inputs[0] is add.inputs[1]:
        which = ("" if case.projection else "the shortcut must be the block's input X itself (X_shortcut = X, "
                 "saved before the main path changes X); ")
        fail(name, f"the addition adds the same tensor twice: {which}add the main path's output X and the shortcut "
                   "X_shortcut.")
    _check_ending(spec, tr, add)

    sources = [tr.producer(t) for t in add.inputs]
    chains = [tr.chain(t) for t in add.inputs]
    received = f"the addition received {arrow(chains[0])} and {arrow(chains[1]) if len(chains) > 1 else 'nothing'}"
    nested, ids = _nested(chains)
    from_input = [i for i, src in enumerate(sources) if src is not None and src.kind == "input"]
    if not case.projection and spec.template and not from_input:
        fail(name, f"the shortcut must be the block's input (X_shortcut = X, saved before the main path changes X), "
                   f"but {received}.")
    if nested and not case.projection:   # no projection here: the shortcut is a tensor of the main path
        _fail_shortcut_inside(spec, case, chains, ids)
    if nested:
        where = ("the pre-activated input (the output of the first ReLU)" if spec.preact else
                 "the block's input X_shortcut, saved before the main path changes X")
        fail(name, f"the shortcut is computed from the main path's output; its Conv2D must be applied to {where}.")
    if from_input:
        if len(from_input) == len(sources):
            fail(name, "the addition adds the input to itself: add the main path's output X to the shortcut "
                       "X_shortcut.")
        if case.projection:   # shapes happened to match, yet the definition asks for a projection
            fail(name, _unchanged_shortcut(spec, case))
        main, shortcut = chains[1 - from_input[0]], None
    else:
        if not case.projection:
            fail(name, f"with s = 1 and an input that already has {channels} channels the shortcut is the "
                       "input itself (X_shortcut = X): project only when the shape changes.")
        short_i = min((0, 1), key=lambda i: len([c for c in chains[i] if c.kind == "conv"]))
        main, shortcut = chains[1 - short_i], chains[short_i]
        if spec.template and len(shortcut) > 2:
            fail(name, f"the shortcut should be {arrow(spec.projection(case))}, computed from the block's input; "
                       f"{received}.")

    _compare_main(spec, case, main)
    if shortcut is not None:
        _compare_shortcut(spec, tr, case, main, shortcut)


def _nested(chains) -> tuple[bool, list]:
    """Whether one of the addition's two inputs lies on the other's path (the shortcut taken from the main path)."""
    ids = [{id(c) for c in chain} for chain in chains]
    return bool(len(ids) == 2 and ids[0] and ids[1] and (ids[0] <= ids[1] or ids[1] <= ids[0])), ids


def _fail_shortcut_inside(spec: BlockSpec, case: Case, chains, ids):
    """The identity shortcut is a tensor of the main path, not the block's input."""
    taken_after = arrow(chains[0] if ids[0] <= ids[1] else chains[1])
    if spec.preact:
        fail(spec.name, f"with s = {case.s} and matching channels the identity shortcut must carry the block's input "
                        f"X itself, saved before the first BatchNorm -> ReLU; yours is taken after {taken_after}. "
                        "Only a projection shortcut reads the pre-activated input.")
    fail(spec.name, f"with s = {case.s} and matching channels the shortcut is the block's input X itself (X_shortcut = "
                    f"X, saved before the main path changes X); yours is taken after {taken_after}.")


def _check_ending(spec: BlockSpec, tr, add):
    """A post-activation block ends with a ReLU of the addition; a pre-activation block with the addition."""
    name = spec.name
    final = tr.producer(tr.output)
    ends = final.describe() if final else "something else"
    relu_after_add = final is not None and final.kind == "relu" and bool(final.inputs) and \
        tr.producer(final.inputs[0]) is add
    if spec.preact:
        if relu_after_add:
            fail(name, "a pre-activation block ends with the addition: no ReLU after it. The next block starts "
                       "with BatchNorm -> ReLU, so the shortcut path stays a clean identity.")
        if final is not add:
            fail(name, f"the block must return the output of the addition; it returns the output of {ends}.")
        return
    if final is add:
        if any(getattr(tr.producer(t), "kind", None) == "relu" for t in add.inputs):
            fail(name, RELU_BEFORE_ADD)
        fail(name, "the block must end with a ReLU applied after the addition, a[l+2] = g(z[l+2] + a[l]): "
                   "add the shortcut first, then apply Activation('relu').")
    # Add -> BatchNormalization (-> ReLU): the main path's last BatchNorm was moved after the addition.
    bn = final if final is not None and final.kind == "bn" else None
    if final is not None and final.kind == "relu" and final.inputs:
        before = tr.producer(final.inputs[0])
        bn = before if before is not None and before.kind == "bn" else None
    if bn is not None and bn.inputs and tr.producer(bn.inputs[0]) is add:
        n = len(spec.cases[0].convs)
        ordinal = ["first", "second", "third", "fourth"][n - 1]
        fail(name, f"the {ordinal} BatchNormalization belongs on the main path, before the addition: "
                   "Conv2D -> BatchNormalization, then Add()([X, X_shortcut]), then Activation('relu').")
    if final is None or final.kind != "relu":
        fail(name, f"the block must end with a ReLU after the addition; it ends with {ends}.")
    if not relu_after_add:
        fail(name, "the final ReLU must be applied to the output of the addition.")


def _explain_shapes(spec: BlockSpec, tr, case: Case, msg: str):
    """The addition failed because its two inputs differ in shape: say which layer is responsible."""
    name, s, channels, out = spec.name, case.s, case.channels, case.out_channels
    convs = tr.of_kind("conv")
    n_main = len(case.convs)
    failed = next((c for c in reversed(tr.calls) if c.kind == "add" and c.failed), None)
    if failed is not None and len(failed.inputs) == 2 and not case.projection:
        chains = [tr.chain(t) for t in failed.inputs]
        nested, ids = _nested(chains)
        if nested:
            _fail_shortcut_inside(spec, case, chains, ids)
    if case.projection and len(convs) <= n_main:
        how = ("a 1x1 Conv2D with stride s applied to the pre-activated input" if spec.preact else
               f"{arrow(spec.projection(case))} applied to the block's input")
        if s != 1 and channels == out:
            fail(name, f"with s = {s} the main path shrinks the image, so the shortcut needs the 1x1 projection even "
                       f"though the number of channels does not change ({channels} in, {out} out): {how}. Project "
                       "whenever s != 1 or the number of channels changes.")
        why = f"s = {s}" if s != 1 else f"the input has {channels} channels and the block outputs {out}"
        fail(name, f"the shortcut and the main path have different shapes here ({why}), so the shortcut needs a "
                   f"projection: {how}. Project whenever s != 1 or the number of channels changes.")
    if failed is not None and len(failed.inputs) == 2:   # the projection is there: has it the main path's width?
        chains = [tr.chain(t) for t in failed.inputs]
        n_convs = [[c for c in chain if c.kind == "conv"] for chain in chains]
        short_i = min((0, 1), key=lambda i: len(n_convs[i]))
        projection, main_convs = n_convs[short_i], n_convs[1 - short_i]
        if (len(projection) == 1 and projection[0].config["kernel_size"] == (1, 1) and main_convs
                and main_convs[-1].config["filters"] == out != projection[0].config["filters"]):
            need = "F3" if spec.template else ("4 * filters" if spec.bottleneck else "filters")
            fail(name, f"the projection's 1x1 Conv2D has {projection[0].config['filters']} filters; it needs {out} "
                       f"({need}), the main path's output channels.")
    # The projection is there, reading the right tensor, but with a stride of its own.
    first_relu = next((c for c in tr.calls if c.kind == "relu"), None)

    def reads_right_tensor(call):
        source = tr.producer(call.inputs[0]) if call.inputs else None
        return source is not None and (source is first_relu if spec.preact else source.kind == "input")

    candidates = [c for c in convs if c.config["kernel_size"] == (1, 1) and c.config["filters"] == out]
    wrong = [c for c in candidates if reads_right_tensor(c) and c.config["strides"] != (s, s)]
    if len(convs) > n_main and wrong:
        k = wrong[0].config["strides"]
        fail(name, f"the shortcut's 1x1 Conv2D has strides={k}; it must use strides=(s, s) = ({s}, {s}), like the "
                   "first Conv2D of the main path, so that both paths give the same image size.")
    strided = len([c for c in convs if c.config["strides"][0] != 1])
    if s != 1 and strided > (2 if len(convs) > n_main else 1):
        fail(name, f"the stride s = {s} belongs to the first Conv2D of the main path (and to the shortcut's) only; "
                   f"found {strided} strided Conv2D layers.")
    if spec.bottleneck and len([c for c in convs if c.config["filters"] == out]) < (2 if len(convs) > n_main else 1):
        fail(name, f"a bottleneck block widens back to 4 * filters = {out} channels in its last 1x1 Conv2D, so "
                   "that the main path matches the shortcut.")
    if len(convs) > n_main and not any(reads_right_tensor(c) for c in candidates):
        where = "the pre-activated input (the output of the first ReLU)" if spec.preact else \
            "the block's input X_shortcut, saved before the main path changes X"
        fail(name, f"the shortcut's Conv2D must be applied to {where}.")
    fail(name, f"the main path and the shortcut have different shapes ({msg[:200]}). With s = 1 and matching "
               "channels the main path must keep the input's shape; otherwise project the shortcut.")


def _relus_needed(spec: BlockSpec, case: Case) -> str:
    if spec.preact:
        return "a ReLU after every BatchNormalization"
    ordinals = ["first", "second", "third", "fourth"][:len(case.convs) - 1]
    return "a ReLU after the " + " and after the ".join(ordinals) + " BatchNormalization"


def _compare_main(spec: BlockSpec, case: Case, chain):
    name, s = spec.name, case.s
    want, got = spec.main(case), [_as_layer(c) for c in chain]
    if got == want:
        return
    kinds = [g.kind for g in got]
    if spec.preact and kinds[:1] == ["conv"]:
        fail(name, "a pre-activation block starts with BatchNormalization and ReLU, before its first Conv2D "
                   f"(BN -> ReLU -> conv, each time). Found {arrow(chain)}.")
    if not spec.preact and kinds[:1] == ["bn"]:
        fail(name, "this is the original (post-activation) block: it starts with the Conv2D, and BatchNorm "
                   f"follows each convolution. Found {arrow(chain)}.")
    if not spec.preact and kinds[-1:] == ["relu"]:
        fail(name, RELU_BEFORE_ADD)
    if spec.preact and kinds[-1:] == ["bn"]:
        fail(name, "in a pre-activation block the last Conv2D feeds the addition directly: no BatchNorm after "
                   "it (the next block's BatchNorm comes first).")
    want_convs = [w for w in want if w.kind == "conv"]
    got_convs = [g for g in got if g.kind == "conv"]
    if len(got_convs) != len(want_convs):
        fail(name, f"the main path should have {len(want_convs)} Conv2D layers ({arrow(want_convs)}); found "
                   f"{len(got_convs)}: {arrow(chain)}.")
    kernels = [c.kernel for c in got_convs]
    if kernels != [c.kernel for c in want_convs]:
        fail(name, f"the main path's kernel sizes should be {_kernels(c.kernel for c in want_convs)}; found "
                   f"{_kernels(kernels)}.")
    strides = [c.strides for c in got_convs]
    if strides != [c.strides for c in want_convs]:
        if s == 1:
            fail(name, f"with s = 1 every stride is 1; found strides {strides}.")
        fail(name, f"the stride s = {s} belongs to the first Conv2D of the main path (and to the shortcut's); "
                   f"the main path's strides should be {[c.strides for c in want_convs]}, found {strides}.")
    filters = [c.filters for c in got_convs]
    if filters != [c.filters for c in want_convs]:
        if spec.template:
            extra = " (F1, F2, F3 = filters, in that order)"
        else:
            extra = " (a bottleneck block widens back to 4 * filters in its last 1x1 Conv2D)" if spec.bottleneck else ""
        fail(name, f"the main path's filters should be {[c.filters for c in want_convs]}{extra}; found {filters}.")
    n_bn, n_relu = kinds.count("bn"), kinds.count("relu")
    w_bn, w_relu = [w.kind for w in want].count("bn"), [w.kind for w in want].count("relu")
    if (n_bn, n_relu) != (w_bn, w_relu):
        if n_bn != w_bn and not spec.preact:
            detail = f"every Conv2D on the main path is followed by BatchNormalization(axis=3); found {n_bn} of {w_bn}"
        else:
            detail = f"it needs {_relus_needed(spec, case)}; found {n_relu}"
        fail(name, f"the main path should have {w_bn} BatchNormalization and {w_relu} ReLU layers; found {n_bn} and "
                   f"{n_relu} ({detail}). Expected {arrow(want)}; found {arrow(chain)}.")
    fail(name, f"the main path's layers are in the wrong order. Expected {arrow(want)}; found {arrow(chain)}.")


def _compare_shortcut(spec: BlockSpec, tr, case: Case, main, shortcut):
    name = spec.name
    want, got = spec.projection(case), [_as_layer(c) for c in shortcut]
    convs = [c for c in shortcut if c.kind == "conv"]
    if len(convs) != 1:
        fail(name, f"the shortcut should be {arrow(want)}; found {arrow(shortcut)}.")
    _check_projection_conv(spec, tr, convs[0], case)
    if spec.preact:
        if [g.kind for g in got] == ["conv"]:
            fail(name, "in a pre-activation block the projection reads the pre-activated input (the output of the "
                       "first BatchNorm -> ReLU), as in He et al. 2016 and keras.applications ResNet50V2; yours "
                       "reads the raw block input.")
        if got[-1:] != [want[-1]] or len(got) != 3:
            fail(name, f"in a pre-activation block the projection is a bare 1x1 Conv2D applied to the pre-activated "
                       f"input, straight into the addition; found {arrow(shortcut)}.")
        if shortcut[0] is not main[0] or shortcut[1] is not main[1]:
            fail(name, "the projection and the main path share the first BatchNorm -> ReLU: compute the "
                       "pre-activation once and feed it to both.")
        return
    if got == [want[0]]:
        fail(name, "the shortcut's Conv2D is not followed by BatchNormalization(axis=3); the original ResNet "
                   "normalises the projection too, so both branches are on the same scale before the addition.")
    if got != want:
        fail(name, f"the shortcut should be {arrow(want)}; found {arrow(shortcut)}.")


# --------------------------------------------------------------------------------------------
# The training flag, the initializer, and the numbers with every weight = 1
# --------------------------------------------------------------------------------------------

class InitializerMisused(Exception):
    """The check's initializer was not used as the docstring says: initializer(seed=0)."""


def ones_initializer(*args, **kwargs):
    """Stands for glorot_uniform in the checks: every weight = 1, if called as initializer(seed=0).

    Called as Keras calls an initializer (a shape, a dtype), it was passed uncalled:
    kernel_initializer=initializer. Without seed=0 the student's own printed values would change from
    run to run. Both raise InitializerMisused, which the check turns into its hint."""
    if "dtype" in kwargs or "shape" in kwargs or (args and not isinstance(args[0], int)):
        raise InitializerMisused(INITIALIZER_NOT_CALLED)
    seed = args[0] if args else kwargs.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed != 0:
        raise InitializerMisused(INITIALIZER_SEED)
    return keras.initializers.Constant(1.0)


def constant_images(channels: int) -> np.ndarray:
    """Three 4x4 images filled with -1, 1 and 3 (the 2021 assignment's test input), with `channels` channels."""
    return np.concatenate([np.full((1, 4, 4, channels), v, np.float32) for v in (-1, 1, 3)])


def rounded(out, name="the block", decimals=4):
    """The block output as a NumPy array rounded for printing, with a clear message if it is not a tensor."""
    if out is None:
        raise CheckFailed(f"{name} {RETURNED_NONE}")
    if not hasattr(out, "shape"):
        raise CheckFailed(f"{name} returned a {type(out).__name__}, not a tensor.")
    # Adding 0.0 turns -0.0 (printed "-0.") into 0.0, so the text is the same on every CPU.
    return np.round(keras.ops.convert_to_numpy(out).astype(np.float64), decimals) + 0.0


def block_output(block, *args, decimals=4, **kwargs):
    """``block(*args, **kwargs)`` rounded for printing; if the block raises, its error in one line, with the
    line of the student's code that raised it, instead of Keras's traceback (the check then says more)."""
    name = getattr(block, "__name__", "the block")
    try:
        out = block(*args, **kwargs)
    except CourseError:
        raise
    except Exception as error:   # the student's code may fail anywhere: say where, in one line
        message, line = str(error).split("\n")[0], _students_line(error)
        explained = explain_keras_misuse(message, add="Add(" in line)
        where = f" at `{line}`" if line else ""
        raise CheckFailed(f"{name} raised {type(error).__name__}{where}: {explained or message[:300]} "
                          f"{POINTS_ON}") from None
    return rounded(out, name, decimals)


def _students_line(error: Exception) -> str:
    """The last line of the student's own code in the error's traceback ('' if none is known)."""
    package = str(Path(__file__).resolve().parent.parent)
    own = [f for f in traceback.extract_tb(error.__traceback__)
           if not f.filename.startswith((package, sys.prefix, sys.base_prefix)) and "site-packages" not in f.filename]
    return own[-1].line.split("  # ")[0].strip() if own and own[-1].line else ""   # without a trailing comment


def _check_training_flag(spec: BlockSpec, fn):
    case = spec.numbers_case()
    for flag in (True, False):
        tr = trace(fn, (4, 4, case.channels), **case.arguments, training=flag, initializer=ones_initializer)
        for bn in tr.of_kind("bn"):
            if bn.kwargs.get("training", None) is not flag:
                fail(spec.name, TRAINING_FLAG_IGNORED)


def _check_initializer(spec: BlockSpec, fn):
    case = spec.numbers_case()
    with recording() as calls:
        fn(keras.Input(shape=(4, 4, case.channels), batch_size=3), **case.arguments, training=False,
           initializer=ones_initializer)
    for c in calls:
        if c.kind == "conv" and not np.all(keras.ops.convert_to_numpy(c.op.kernel) == 1.0):
            fail(spec.name, INITIALIZER_IGNORED)


# What is compared: notebook 02 prints the mean over the channels of rows 0 and -1 (the 2021 assignment's
# output), notebook 03 the first pixel, and notebook 05 pixels (0, 0) and (1, 1) averaged over the channels.
SAMPLES = {
    "identity_block": lambda out: out[:, (0, -1), :, :].mean(axis=3),
    "convolutional_block": lambda out: out[:, 0, 0, :],
}


def _family_sample(out):
    return out[:, (0, 1), (0, 1), :].mean(axis=-1)


def block_numbers(fn, spec: BlockSpec) -> dict:
    """{(case label, training): the compared sample of the output, to 4 decimals}, with every weight = 1
    (the cases with stored numbers only)."""
    numbers = {}
    sample = SAMPLES.get(spec.name, _family_sample)
    for case in (c for c in spec.cases if c.numbers):
        for flag in (False, True):
            out = rounded(fn(constant_images(case.channels), **case.arguments, training=flag,
                             initializer=ones_initializer), spec.name)
            if out.shape != case.out_shape:
                fail(spec.name, f"the output has shape {out.shape}; expected {case.out_shape}.")
            numbers[case.label, flag] = (np.round(sample(out), 4) + 0.0).tolist()
    return numbers


def _expected_numbers() -> dict:
    """{block: {(case label, training): expected sample}}, from expected_numbers.json (its note says whence)."""
    stored = json.loads((Path(__file__).parent / "expected_numbers.json").read_text())
    return {name: {(label, mode == "training"): values for label, modes in cases.items() for mode, values in modes.items()}
            for name, cases in stored.items() if not name.startswith("_")}


EXPECTED_NUMBERS = _expected_numbers()


def _check_numbers(spec: BlockSpec, fn):
    got = block_numbers(fn, spec)
    several = sum(c.numbers for c in spec.cases) > 1
    for (label, flag), want in EXPECTED_NUMBERS[spec.name].items():
        g, w = np.asarray(got[label, flag]), np.asarray(want)
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-4, atol=1e-4):
            which = f" and the {label} shortcut" if several else ""
            largest = f" (largest difference {np.abs(g - w).max():.4g})" if g.shape == w.shape else ""
            fail(spec.name, f"with every weight = 1, training={flag}{which}, the layers look right but the values "
                            f"differ from the expected ones{largest}. Check which tensor each layer is applied to.")


def check_block(spec: BlockSpec, fn) -> None:
    """Trace every case, then the training flag and the initializer, then the numbers; print the verdict."""
    for case in spec.cases:
        tr = trace(fn, (4, 4, case.channels), **case.arguments, training=False, initializer=ones_initializer)
        _check_call(spec, tr, case)
    _check_training_flag(spec, fn)
    _check_initializer(spec, fn)
    _check_numbers(spec, fn)
    print("All tests passed.")


def _check_function(name: str):
    def check(fn):
        check_block(SPECS[name], fn)

    check.__name__ = check.__qualname__ = f"check_{name}"
    check.__doc__ = f"Check the student's {name}; print a pass message or raise CheckFailed with a hint."
    return check


check_identity_block = _check_function("identity_block")
check_convolutional_block = _check_function("convolutional_block")
check_basic_block = _check_function("basic_block")
check_bottleneck_block = _check_function("bottleneck_block")
check_preact_basic_block = _check_function("preact_basic_block")
check_preact_bottleneck_block = _check_function("preact_bottleneck_block")
