"""Checks for notebook 05, the ResNet family: four blocks and the builder.

The blocks are checked like those of notebooks 02 and 03 (see block_checks): the student's function
is traced on a symbolic input, its layers are compared with the block's definition written out
below as data (never as code a student could copy), and only then are numbers compared, with
every weight = 1 on constant images so that the expected arrays depend on no random stream.
Each block is traced four times: with an identity shortcut (s = 1, channels match), with a
projection that downsamples (s = 2), with a projection that only widens (s = 1, channels
differ, as in the first block of ResNet-50) and with a projection that only downsamples (s = 2,
channels match), so that a block that projects only when the channels change fails too.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np

from block_checks import (_RETURNED_NONE, _arrow, _check_initializer, _check_training_flag, _fail, _fail_on_error,
                          ones_initializer, rounded, trace)
from resnets_utils import CheckFailed, import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402

__all__ = ["check_basic_block", "check_bottleneck_block", "check_preact_basic_block",
           "check_preact_bottleneck_block", "check_build_resnet", "rounded"]


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
class BlockSpec:
    name: str
    bottleneck: bool
    preact: bool

    def out_channels(self, F):
        return 4 * F if self.bottleneck else F

    def main(self, F, s):
        """The main path, from the block input to the addition."""
        if self.bottleneck:
            convs = [conv(F, 1, s), conv(F, 3), conv(4 * F, 1)]
        else:
            convs = [conv(F, 3, s), conv(F, 3)]
        layers = [BN, RELU] if self.preact else []
        for i, c in enumerate(convs):
            last = i == len(convs) - 1
            if self.preact:
                layers += [c] if last else [c, BN, RELU]
            else:
                layers += [c, BN] if last else [c, BN, RELU]
        return layers

    def projection(self, F, s):
        """The projection shortcut, from the block input to the addition."""
        c = conv(self.out_channels(F), 1, s)
        return [BN, RELU, c] if self.preact else [c, BN]


SPECS = {
    "basic_block": BlockSpec("basic_block", bottleneck=False, preact=False),
    "bottleneck_block": BlockSpec("bottleneck_block", bottleneck=True, preact=False),
    "preact_basic_block": BlockSpec("preact_basic_block", bottleneck=False, preact=True),
    "preact_bottleneck_block": BlockSpec("preact_bottleneck_block", bottleneck=True, preact=True),
}

FILTERS = 2


def cases(spec: BlockSpec):
    """(label, input channels, s) for the four shortcuts every block must handle."""
    out = spec.out_channels(FILTERS)
    return [("identity", out, 1), ("downsampling", 3, 2), ("widening", 3, 1), ("same-width downsampling", out, 2)]


# --------------------------------------------------------------------------------------------
# Comparing a trace with a spec
# --------------------------------------------------------------------------------------------

_RELU_BEFORE_ADD = ("you applied a ReLU before adding the shortcut. The main path ends with BatchNormalization; "
                    "add the shortcut first, then apply the ReLU.")


def _as_layer(call) -> Layer | None:
    if call.kind == "conv":
        c = call.config
        return Layer("conv", c["filters"], c["kernel_size"][0], c["strides"][0])
    if call.kind in ("bn", "relu"):
        return Layer(call.kind)
    return None


def _got(chain):
    return [_as_layer(c) or Layer(c.kind) for c in chain]


def _check_call(name, spec, tr, label, channels, s):
    F = FILTERS
    projection = label != "identity"
    if tr.error is None and tr.output is None:
        _fail(name, "the function " + _RETURNED_NONE)
    if tr.error is None and not hasattr(tr.output, "shape"):
        _fail(name, f"the function returned a {type(tr.output).__name__}, not a tensor.")
    for c in tr.of_kind("conv"):
        if c.config["kernel_size"][0] > 1 and c.config["padding"] != "same":
            _fail(name, f"a {c.config['kernel_size'][0]}x{c.config['kernel_size'][0]} convolution uses "
                        f"padding='{c.config['padding']}', which shrinks the image so the shortcut no longer fits: "
                        "use padding='same'.")
    for c in tr.of_kind("bn"):
        if c.config["axis"] not in (3, -1):
            _fail(name, f"BatchNormalization(axis={c.config['axis']}) normalises over the wrong axis: use axis=3, "
                        "the channel axis.")
    if tr.error is not None:
        msg = str(tr.error).split("\n")[0]
        if "incompatible shapes" in msg.lower() or "must have the same shape" in msg.lower():
            _explain_shapes(name, spec, tr, label, channels, s, msg)
        _fail_on_error(name, tr.error)

    adds = tr.of_kind("add")
    if not adds:
        _fail(name, "the shortcut is never added back: add the shortcut to the main path's output with "
                    "Add()([X, X_shortcut]).")
    if len(adds) > 1:
        _fail(name, f"the block adds {len(adds)} times; the shortcut is added exactly once.")
    add = adds[0]
    if len(add.inputs) == 2 and add.inputs[0] is add.inputs[1]:
        _fail(name, "the addition adds the same tensor twice: add the main path's output X and the shortcut "
                    "X_shortcut.")
    final = tr.producer(tr.output)
    ends_with_relu_after_add = final is not None and final.kind == "relu" and tr.producer(final.inputs[0]) is add
    if spec.preact:
        if ends_with_relu_after_add:
            _fail(name, "a pre-activation block ends with the addition: no ReLU after it. The next block starts "
                        "with BatchNorm -> ReLU, so the shortcut path stays a clean identity.")
        if final is not add:
            _fail(name, f"the block must return the output of the addition; it returns the output of "
                        f"{final.describe() if final else 'something else'}.")
    else:
        if final is add and any(getattr(tr.producer(t), "kind", None) == "relu" for t in add.inputs):
            _fail(name, _RELU_BEFORE_ADD)
        if final is add:
            _fail(name, "the block must end with a ReLU applied after the addition, a[l+2] = g(z[l+2] + a[l]): "
                        "add the shortcut first, then apply Activation('relu').")
        if not ends_with_relu_after_add:
            _fail(name, f"the block must end with a ReLU applied to the output of the addition; it ends with "
                        f"{final.describe() if final else 'something else'}.")

    sources = [tr.producer(t) for t in add.inputs]
    chains = [tr.chain(t) for t in add.inputs]
    ids = [{id(c) for c in chain} for chain in chains]
    nested = ids[0] and ids[1] and (ids[0] <= ids[1] or ids[1] <= ids[0])
    if nested and not projection:   # no projection here: the shortcut is a tensor of the main path
        taken_after = _arrow(chains[0] if ids[0] <= ids[1] else chains[1])
        if spec.preact:
            _fail(name, f"with s = {s} and matching channels the identity shortcut must carry the block's input X "
                        f"itself, saved before the first BatchNorm -> ReLU; yours is taken after {taken_after}. Only "
                        "a projection shortcut reads the pre-activated input.")
        _fail(name, f"with s = {s} and matching channels the shortcut is the block's input X itself (X_shortcut = X, "
                    f"saved before the main path changes X); yours is taken after {taken_after}.")
    if nested:
        where = ("the pre-activated input (the output of the first ReLU)" if spec.preact else
                 "the block's input X_shortcut, saved before the main path changes X")
        _fail(name, f"the shortcut is computed from the main path's output; its Conv2D must be applied to {where}.")
    if any(src is not None and src.kind == "input" for src in sources):
        if all(src is not None and src.kind == "input" for src in sources):
            _fail(name, "the addition adds the input to itself: add the main path's output to the shortcut.")
        if projection:   # shapes happened to match, yet the definition asks for a projection
            _fail(name, f"the shortcut is added unchanged; in this call (s = {s}, {channels} input channels, "
                        f"{spec.out_channels(F)} output channels) it needs a projection.")
        from_input = next(i for i, src in enumerate(sources) if src is not None and src.kind == "input")
        main, shortcut = chains[1 - from_input], None
    else:
        if not projection:
            _fail(name, f"with s = 1 and an input that already has {channels} channels the shortcut is the "
                        "input itself (X_shortcut = X): project only when the shape changes.")
        short_i = min((0, 1), key=lambda i: len([c for c in chains[i] if c.kind == "conv"]))
        main, shortcut = chains[1 - short_i], chains[short_i]

    _compare_main(name, spec, main, F, s)
    if shortcut is not None:
        _compare_shortcut(name, spec, tr, main, shortcut, F, s)


def _explain_shapes(name, spec, tr, label, channels, s, msg):
    """The addition failed because its two inputs differ in shape: say which layer is responsible."""
    F, out = FILTERS, spec.out_channels(FILTERS)
    convs = tr.of_kind("conv")
    n_main = len([layer for layer in spec.main(F, s) if layer.kind == "conv"])
    if label != "identity" and len(convs) <= n_main:
        how = ("a 1x1 Conv2D with stride s applied to the pre-activated input" if spec.preact else
               f"{_arrow(spec.projection(F, s))} applied to the block's input")
        if s != 1 and channels == out:
            _fail(name, f"with s = {s} the main path shrinks the image, so the shortcut needs the 1x1 projection even "
                        f"though the number of channels does not change ({channels} in, {out} out): {how}. Project "
                        "whenever s != 1 or the number of channels changes.")
        why = f"s = {s}" if s != 1 else f"the input has {channels} channels and the block outputs {out}"
        _fail(name, f"the shortcut and the main path have different shapes here ({why}), so the shortcut needs a "
                    f"projection: {how}. Project whenever s != 1 or the number of channels changes.")
    # The projection is there, reading the right tensor, but with a stride of its own.
    first_relu = next((c for c in tr.calls if c.kind == "relu"), None)
    projections = [c for c in convs if c.config["kernel_size"] == (1, 1) and c.config["filters"] == out and c.inputs
                   and tr.producer(c.inputs[0]) is not None
                   and (tr.producer(c.inputs[0]) is first_relu if spec.preact else
                        tr.producer(c.inputs[0]).kind == "input")]
    wrong = [c for c in projections if c.config["strides"] != (s, s)]
    if len(convs) > n_main and wrong:
        k = wrong[0].config["strides"]
        _fail(name, f"the shortcut's 1x1 Conv2D has strides={k}; it must use strides=(s, s) = ({s}, {s}), like the "
                    "first Conv2D of the main path, so that both paths give the same image size.")
    if s != 1 and len([c for c in convs if c.config["strides"][0] != 1]) > (2 if len(convs) > n_main else 1):
        _fail(name, f"the stride s = {s} belongs to the first Conv2D of the main path (and to the shortcut's) only; "
                    f"found {len([c for c in convs if c.config['strides'][0] != 1])} strided Conv2D layers.")
    if spec.bottleneck and len([c for c in convs if c.config["filters"] == out]) < (2 if len(convs) > n_main else 1):
        _fail(name, f"a bottleneck block widens back to 4 * filters = {out} channels in its last 1x1 Conv2D, so "
                    "that the main path matches the shortcut.")
    if len(convs) > n_main:
        candidates = [c for c in convs if c.config["kernel_size"] == (1, 1) and c.config["filters"] == out]
        sources = [tr.producer(c.inputs[0]) for c in candidates if c.inputs]
        ok = [src for src in sources if src is not None and
              (src is first_relu if spec.preact else src.kind == "input")]
        if not ok:
            where = "the pre-activated input (the output of the first ReLU)" if spec.preact else \
                "the block's input X_shortcut, saved before the main path changes X"
            _fail(name, f"the shortcut's Conv2D must be applied to {where}.")
    _fail(name, f"the main path and the shortcut have different shapes ({msg[:200]}). With s = 1 and matching "
                "channels the main path must keep the input's shape; otherwise project the shortcut.")


def _compare_main(name, spec, chain, F, s):
    want, got = spec.main(F, s), _got(chain)
    if got == want:
        return
    kinds = [g.kind for g in got]
    if spec.preact and kinds[:1] == ["conv"]:
        _fail(name, "a pre-activation block starts with BatchNormalization and ReLU, before its first Conv2D "
                    f"(BN -> ReLU -> conv, each time). Found {_arrow(chain)}.")
    if not spec.preact and kinds[:1] == ["bn"]:
        _fail(name, "this is the original (post-activation) block: it starts with the Conv2D, and BatchNorm "
                    f"follows each convolution. Found {_arrow(chain)}.")
    if not spec.preact and kinds[-1:] == ["relu"]:
        _fail(name, _RELU_BEFORE_ADD)
    if spec.preact and kinds[-1:] == ["bn"]:
        _fail(name, "in a pre-activation block the last Conv2D feeds the addition directly: no BatchNorm after "
                    "it (the next block's BatchNorm comes first).")
    want_convs = [w for w in want if w.kind == "conv"]
    got_convs = [g for g in got if g.kind == "conv"]
    if len(got_convs) != len(want_convs):
        _fail(name, f"the main path should have {len(want_convs)} Conv2D layers ({_arrow(want_convs)}); found "
                    f"{len(got_convs)}: {_arrow(chain)}.")
    kernels = [c.kernel for c in got_convs]
    if kernels != [c.kernel for c in want_convs]:
        _fail(name, f"the main path's kernel sizes should be {', '.join(f'{c.kernel}x{c.kernel}' for c in want_convs)}; "
                    f"found {', '.join(f'{k}x{k}' for k in kernels)}.")
    strides = [c.strides for c in got_convs]
    if strides != [c.strides for c in want_convs]:
        if s == 1:
            _fail(name, f"with s = 1 every stride is 1; found strides {strides}.")
        _fail(name, f"the stride s = {s} belongs to the first Conv2D of the main path (and to the shortcut's); "
                    f"the main path's strides should be {[c.strides for c in want_convs]}, found {strides}.")
    filters = [c.filters for c in got_convs]
    if filters != [c.filters for c in want_convs]:
        extra = " (a bottleneck block widens back to 4 * filters in its last 1x1 Conv2D)" if spec.bottleneck else ""
        _fail(name, f"the main path's filters should be {[c.filters for c in want_convs]} for filters={F}{extra}; "
                    f"found {filters}.")
    n_bn, n_relu = kinds.count("bn"), kinds.count("relu")
    w_bn, w_relu = [w.kind for w in want].count("bn"), [w.kind for w in want].count("relu")
    if (n_bn, n_relu) != (w_bn, w_relu):
        _fail(name, f"the main path should have {w_bn} BatchNormalization and {w_relu} ReLU layers; found {n_bn} and "
                    f"{n_relu}. Expected {_arrow(want)}; found {_arrow(chain)}.")
    _fail(name, f"the main path's layers are in the wrong order. Expected {_arrow(want)}; found {_arrow(chain)}.")


def _compare_shortcut(name, spec, tr, main, shortcut, F, s):
    want, got = spec.projection(F, s), _got(shortcut)
    convs = [c for c in shortcut if c.kind == "conv"]
    if len(convs) != 1:
        _fail(name, f"the shortcut should be {_arrow(want)}; found {_arrow(shortcut)}.")
    sc = _as_layer(convs[0])
    if (sc.kernel, sc.filters) != (1, spec.out_channels(F)):
        _fail(name, f"the shortcut's Conv2D should have {spec.out_channels(F)} filters and a 1x1 kernel; found "
                    f"{convs[0].describe()}.")
    if sc.strides != s:
        _fail(name, f"the shortcut's Conv2D has strides {sc.strides}; it needs strides=(s, s) = ({s}, {s}) so the "
                    "shortcut shrinks like the main path.")
    if spec.preact:
        if [g.kind for g in got] == ["conv"]:
            _fail(name, "in a pre-activation block the projection reads the pre-activated input (the output of the "
                        "first BatchNorm -> ReLU), as in He et al. 2016 and keras.applications ResNet50V2; yours "
                        "reads the raw block input.")
        if got[-1:] != [want[-1]] or len(got) != 3:
            _fail(name, f"in a pre-activation block the projection is a bare 1x1 Conv2D applied to the pre-activated "
                        f"input, straight into the addition; found {_arrow(shortcut)}.")
        if shortcut[0] is not main[0] or shortcut[1] is not main[1]:
            _fail(name, "the projection and the main path share the first BatchNorm -> ReLU: compute the "
                        "pre-activation once and feed it to both.")
        return
    producer = tr.producer(convs[0].inputs[0]) if convs[0].inputs else None
    if producer is None or producer.kind != "input":
        _fail(name, "the shortcut's Conv2D must be applied to the block's input X_shortcut, saved before the main "
                    "path changes X.")
    if got == [want[0]]:
        _fail(name, "the shortcut's Conv2D is not followed by BatchNormalization(axis=3); the original ResNet "
                    "normalises the projection too, so both branches are on the same scale before the addition.")
    if got != want:
        _fail(name, f"the shortcut should be {_arrow(want)}; found {_arrow(shortcut)}.")


# --------------------------------------------------------------------------------------------
# Numbers, with every weight = 1
# --------------------------------------------------------------------------------------------

def constant_images(channels: int) -> np.ndarray:
    """Three 4x4 images filled with -1, 1 and 3 (the 2021 assignment's idea), with `channels` channels."""
    return np.concatenate([np.full((1, 4, 4, channels), v, np.float32) for v in (-1, 1, 3)])


def block_numbers(fn, spec: BlockSpec) -> dict:
    """For every case and training flag, with every weight = 1: the output at pixels (0, 0) and (1, 1)
    of each image, averaged over the channels (all channels are equal then), to 4 decimals."""
    numbers = {}
    for label, channels, s in cases(spec):
        for flag in (False, True):
            out = fn(constant_images(channels), filters=FILTERS, s=s, training=flag, initializer=ones_initializer)
            corners = rounded(out)[:, (0, 1), (0, 1), :].mean(axis=-1)
            numbers[label, flag] = (np.round(corners, 4) + 0.0).tolist()
    return numbers


# Computed with the course's solution (notebooks/05_resnet_family.ipynb, with the fused BatchNormalization)
# on TF 2.21 / Keras 3.15; tests/test_family_mistakes.py re-derives them from the solution notebook.
EXPECTED_NUMBERS = {'basic_block': {('identity', False): [[0.0, 0.0], [100.9001, 256.7443], [302.7003, 770.2328]],
                 ('identity', True): [[0.0, 0.0], [0.3478, 0.5363], [3.4275, 5.387]],
                 ('downsampling', False): [[0.0, 0.0], [152.8486, 152.8486], [458.546, 458.546]],
                 ('downsampling', True): [[0.0, 0.0], [0.0, 0.0], [2.6372, 2.6372]],
                 ('widening', False): [[0.0, 0.0], [152.8486, 386.6149], [458.546, 1159.8445]],
                 ('widening', True): [[0.0, 0.0], [0.0, 0.0], [1.6522, 3.6118]],
                 ('same-width downsampling', False): [[0.0, 0.0], [101.8991, 101.8991], [305.6973, 305.6973]],
                 ('same-width downsampling', True): [[0.0, 0.0], [0.0, 0.0], [2.6372, 2.6372]]},
 'bottleneck_block': {('identity', False): [[0.0, 0.0], [128.8082, 288.5685], [386.4247, 865.7056]],
                      ('identity', True): [[0.0, 0.0], [0.374, 0.374], [3.2379, 5.4914]],
                      ('downsampling', False): [[0.0, 0.0], [50.9266, 50.9266], [152.7798, 152.7798]],
                      ('downsampling', True): [[0.0, 0.0], [0.0, 0.0], [2.6385, 2.6385]],
                      ('widening', False): [[0.0, 0.0], [50.9266, 110.8367], [152.7798, 332.5101]],
                      ('widening', True): [[0.0, 0.0], [0.0, 0.0], [1.4626, 3.7161]],
                      ('same-width downsampling', False): [[0.0, 0.0], [135.8042, 135.8042], [407.4128, 407.4128]],
                      ('same-width downsampling', True): [[0.0, 0.0], [0.0, 0.0], [2.6386, 2.6386]]},
 'preact_basic_block': {('identity', False): [[-1.0, -1.0], [100.9001, 256.7443], [302.7003, 770.2327]],
                        ('identity', True): [[-1.0, -1.0], [1.0, 1.0], [13.6789, 31.9933]],
                        ('downsampling', False): [[0.0, 0.0], [152.8486, 152.8486], [458.546, 458.546]],
                        ('downsampling', True): [[0.0, 0.0], [0.0, 0.0], [14.3525, 14.3525]],
                        ('widening', False): [[0.0, 0.0], [152.8486, 386.6149], [458.546, 1159.8446]],
                        ('widening', True): [[0.0, 0.0], [0.0, 0.0], [14.3525, 32.667]],
                        ('same-width downsampling', False): [[0.0, 0.0], [101.8991, 101.8991], [305.6973, 305.6973]],
                        ('same-width downsampling', True): [[0.0, 0.0], [0.0, 0.0], [13.128, 13.128]]},
 'preact_bottleneck_block': {('identity', False): [[-1.0, -1.0], [128.8082, 288.5685], [386.4248, 865.7056]],
                             ('identity', True): [[-1.0, -1.0], [1.0, 1.0], [4.2281, 7.4318]],
                             ('downsampling', False): [[0.0, 0.0], [50.9266, 50.9266], [152.7798, 152.7798]],
                             ('downsampling', True): [[0.0, 0.0], [0.0, 0.0], [6.5019, 6.5019]],
                             ('widening', False): [[0.0, 0.0], [50.9266, 110.8367], [152.7798, 332.5102]],
                             ('widening', True): [[0.0, 0.0], [0.0, 0.0], [4.9016, 8.1053]],
                             ('same-width downsampling', False): [[0.0, 0.0], [135.8042, 135.8042], [407.4128, 407.4128]],
                             ('same-width downsampling', True): [[0.0, 0.0], [0.0, 0.0], [12.6245, 12.6245]]}}


def _check_numbers(name, fn, spec):
    expected = EXPECTED_NUMBERS[name]
    got = block_numbers(fn, spec)
    for key, want in expected.items():
        g, w = np.asarray(got[key]), np.asarray(want)
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-4, atol=1e-4):
            label, flag = key
            _fail(name, f"with every weight = 1, training={flag} and the {label} shortcut, the layers look right but "
                        f"the values differ from the expected ones. Check which tensor each layer is applied to.")


def _check_block(name, fn):
    spec = SPECS[name]
    for label, channels, s in cases(spec):
        tr = trace(fn, (4, 4, channels), filters=FILTERS, s=s, training=False, initializer=ones_initializer)
        _check_call(name, spec, tr, label, channels, s)
    _check_training_flag(name, fn, (4, 4, 3), {"filters": FILTERS, "s": 2, "initializer": ones_initializer})
    _check_initializer(name, fn, (4, 4, 3), {"filters": FILTERS, "s": 2})
    _check_numbers(name, fn, spec)
    print("All tests passed.")


def check_basic_block(basic_block):
    """Check the student's basic_block; print a pass message or raise CheckFailed with a hint."""
    _check_block("basic_block", basic_block)


def check_bottleneck_block(bottleneck_block):
    """Check the student's bottleneck_block; print a pass message or raise CheckFailed with a hint."""
    _check_block("bottleneck_block", bottleneck_block)


def check_preact_basic_block(preact_basic_block):
    """Check the student's preact_basic_block; print a pass message or raise CheckFailed with a hint."""
    _check_block("preact_basic_block", preact_basic_block)


def check_preact_bottleneck_block(preact_bottleneck_block):
    """Check the student's preact_bottleneck_block; print a pass message or raise CheckFailed with a hint."""
    _check_block("preact_bottleneck_block", preact_bottleneck_block)


# --------------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------------

REPETITIONS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}
BUILD_CASES = [(18, False), (34, False), (50, False), (101, False), (152, False), (18, True), (50, True)]
BUILD_INPUT, BUILD_CLASSES = (64, 64, 3), 10

# Parameter counts of the course's builder at 64x64x3 and 10 classes (they do not depend on the
# image size, thanks to the global average pooling); with 1000 classes the v1 counts are those of
# keras.applications (checked in tests/test_resnet_family.py).
EXPECTED_PARAMS = {
    (18, False): 11_196_042,
    (34, False): 21_315_338,
    (50, False): 23_608_202,
    (101, False): 42_678_666,
    (152, False): 58_391_434,
    (18, True): 11_192_458,
    (50, True): 23_592_842,
}


def _layer_after(model, layer):
    layers = model.layers
    i = layers.index(layer)
    return layers[i + 1] if i + 1 < len(layers) else None


def describe_stages(model) -> list[tuple[tuple, int]]:
    """[(output shape of the stage's blocks, number of blocks)] read off the model's Add layers."""
    stages = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Add):
            shape = tuple(layer.output.shape[1:])
            if stages and stages[-1][0] == shape:
                stages[-1] = (shape, stages[-1][1] + 1)
            else:
                stages.append((shape, 1))
    return stages


def _check_one_build(build_resnet, depth, preact):
    name = "build_resnet"
    call = f"build_resnet({depth}, preact={preact})"
    try:
        model = build_resnet(depth, input_shape=BUILD_INPUT, classes=BUILD_CLASSES, preact=preact)
    except CheckFailed:
        raise
    except Exception as e:  # the student's code may fail anywhere; say where in words
        msg = str(e).split("\n")[0].rstrip(".")
        if "None" in msg:
            _fail(name, f"{call} raised {type(e).__name__}: {msg[:160]}. A `None` placeholder is still in your "
                        "code: replace each `None` in the START CODE HERE region.")
        _fail(name, f"{call} raised {type(e).__name__}: {msg[:300]}")
    if model is None:
        _fail(name, f"{call} " + _RETURNED_NONE.replace("return X", "return Model(...)"))
    if not isinstance(model, keras.Model):
        _fail(name, f"{call} returned a {type(model).__name__}, not a keras.Model.")

    bottleneck = depth >= 50
    expansion = 4 if bottleneck else 1
    want_reps = REPETITIONS[depth]
    want_shapes = [(16 // 2 ** i, 16 // 2 ** i, 64 * 2 ** i * expansion) for i in range(4)]
    stages = describe_stages(model)
    shapes, reps = [st[0] for st in stages], [st[1] for st in stages]
    adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    if not adds:
        _fail(name, f"{call} has no residual blocks: call `block` for every block of every stage.")
    if len(adds) != sum(want_reps):
        _fail(name, f"ResNet-{depth} has {sum(want_reps)} blocks, {want_reps} per stage; {call} has {len(adds)}. "
                    "Take the number of blocks of each stage from `repetitions`.")
    if shapes and shapes[0][:2] != want_shapes[0][:2]:
        _fail(name, f"stage 2 must keep the 16x16 image that the max-pool leaves (s = 1 in its first block); "
                    f"{call} gives {shapes[0][0]}x{shapes[0][1]}. Use s = 2 only in the first block of stages 3, 4 "
                    "and 5.")
    if len(shapes) > 4:
        _fail(name, f"the image size or the channels change inside a stage ({len(shapes)} different block shapes "
                    "instead of 4): only the first block of a stage has s = 2, and all blocks of a stage use the "
                    "same filters.")
    if [sh[:2] for sh in shapes] != [sh[:2] for sh in want_shapes]:
        _fail(name, f"the stages should output {[f'{h}x{w}' for h, w, _ in want_shapes]} images at this input size; "
                    f"{call} gives {[f'{h}x{w}' for h, w, _ in shapes]}. The first block of stages 3, 4 and 5 "
                    "halves the image (s = 2).")
    if [sh[2] for sh in shapes] != [sh[2] for sh in want_shapes]:
        basic_like = [sh[2] for sh in shapes] == [64 * 2 ** i for i in range(4)]
        if bottleneck and basic_like:
            _fail(name, f"ResNet-{depth} uses bottleneck blocks (ResNet-50 and deeper); {call} uses basic blocks.")
        if not bottleneck and [sh[2] for sh in shapes] == [256 * 2 ** i for i in range(4)]:
            _fail(name, f"ResNet-{depth} uses basic blocks (ResNet-18 and 34); {call} uses bottleneck blocks.")
        _fail(name, f"the filters double from stage to stage: 64, 128, 256, 512 (a bottleneck block outputs 4 times "
                    f"its filters); {call} gives blocks with {[sh[2] for sh in shapes]} channels.")
    if reps != want_reps:
        _fail(name, f"ResNet-{depth} has {want_reps} blocks per stage; {call} has {reps}.")
    after = _layer_after(model, adds[0])
    is_preact = not isinstance(after, keras.layers.Activation)
    if is_preact != preact:
        if preact:
            _fail(name, f"{call} uses post-activation blocks (a ReLU after each addition); with preact=True use "
                        "the pre-activation blocks.")
        _fail(name, f"{call} uses pre-activation blocks; with preact=False use the original (post-activation) ones.")
    n3 = sum(1 for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (3, 3))
    if n3 != (1 if bottleneck else 2) * len(adds):
        kind = "bottleneck" if bottleneck else "basic"
        _fail(name, f"ResNet-{depth} uses {kind} blocks; {call} has {n3} 3x3 convolutions in {len(adds)} blocks.")
    params = model.count_params()
    want = EXPECTED_PARAMS[depth, preact]
    if params != want:
        _fail(name, f"{call} has {params:,} parameters at 64x64x3 with 10 classes; expected {want:,}. The stages "
                    "look right: check the stem and the head, which are given.")
    return params


def check_build_resnet(build_resnet):
    """Build ResNet-18 to 152 (and two pre-activation ones) at 64x64 and compare their stages and sizes."""
    for depth, preact in BUILD_CASES:
        _check_one_build(build_resnet, depth, preact)
        gc.collect()
    print("All tests passed.")
