"""Checks for the graded ResNet blocks (notebooks 02 and 03).

Each check runs the student's function the way a teacher would look at it: it records every
layer the function calls (kind, settings, which tensor feeds which), compares that with the
block's definition, and says what is wrong in plain words; only then does it compare numbers.
The numerical check uses a constant initializer (every weight = 1) on a fixed input (three
4x4x3 images filled with -1, 1 and 3), the idea of the 2021 TF2 edition of the assignment, so
the expected arrays do not depend on any random number stream.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from resnets_utils import CheckFailed, import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras.src.ops.operation import Operation  # noqa: E402


# --------------------------------------------------------------------------------------------
# Recording what a block function does
# --------------------------------------------------------------------------------------------

@dataclass
class Call:
    """One top-level layer or op call made by the student's function."""
    op: object
    inputs: list
    outputs: list
    kwargs: dict
    kind: str = ""
    config: dict = field(default_factory=dict)

    def describe(self) -> str:
        c = self.config
        if self.kind == "conv":
            k = "x".join(map(str, c["kernel_size"]))
            s = "" if c["strides"] == (1, 1) else f", strides={c['strides'][0]}"
            return f"Conv2D({c['filters']}, {k}{s}, padding='{c['padding']}')"
        if self.kind == "bn":
            return f"BatchNormalization(axis={c['axis']})"
        return {"relu": "ReLU", "add": "Add", "input": "the block input"}.get(self.kind, type(self.op).__name__)


def _kind(op) -> tuple[str, dict]:
    L = keras.layers
    if isinstance(op, L.Conv2D):
        return "conv", {"filters": op.filters, "kernel_size": tuple(op.kernel_size),
                        "strides": tuple(op.strides), "padding": op.padding}
    if isinstance(op, L.BatchNormalization):
        return "bn", {"axis": op.axis}
    if isinstance(op, L.ReLU) or (isinstance(op, L.Activation) and op.activation is keras.activations.relu):
        return "relu", {}
    if isinstance(op, L.Activation):
        return "activation", {"name": getattr(op.activation, "__name__", "?")}
    if isinstance(op, L.Add):
        return "add", {}
    # Ops called directly: keras.ops.add or X + Y give "add", keras.ops.relu gives "relu".
    return type(op).__name__.lower(), {}


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [t for item in x for t in _flat(item)]
    if isinstance(x, dict):
        return [t for item in x.values() for t in _flat(item)]
    return [x] if hasattr(x, "shape") else []


@contextlib.contextmanager
def recording():
    """Record the top-level Operation calls made inside the block (nested ones are internals)."""
    calls, depth = [], [0]
    original = Operation.__call__

    def spy(self, *args, **kwargs):
        depth[0] += 1
        try:
            out = original(self, *args, **kwargs)
        finally:
            depth[0] -= 1
        if depth[0] == 0:
            kind, config = _kind(self)
            calls.append(Call(self, _flat(args), _flat(out), dict(kwargs), kind, config))
        return out

    Operation.__call__ = spy
    try:
        yield calls
    finally:
        Operation.__call__ = original


@dataclass
class Trace:
    calls: list
    output: object
    error: Exception | None
    block_input: object

    def producer(self, tensor):
        """The call whose output is `tensor`, or a pseudo-call for the block input."""
        if tensor is self.block_input:
            return Call(None, [], [tensor], {}, "input")
        for c in self.calls:
            if any(t is tensor for t in c.outputs):
                return c
        return None

    def chain(self, tensor):
        """The single-input path that ends at `tensor`, back to the block input, in forward order."""
        path = []
        call = self.producer(tensor)
        while call is not None and call.kind != "input":
            path.append(call)
            if not call.inputs or call.kind == "add":
                break
            call = self.producer(call.inputs[0])
        return path[::-1]

    def of_kind(self, kind):
        return [c for c in self.calls if c.kind == kind]


def trace(fn, shape, **kwargs) -> Trace:
    """Call fn on a symbolic input and record its layers, even if it fails half-way."""
    x = keras.Input(shape=shape, batch_size=3)
    error, out = None, None
    with recording() as calls:
        try:
            out = fn(x, **kwargs)
        except Exception as e:  # the student's code may fail anywhere; we explain below
            error = e
    return Trace(calls, out, error, x)


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------

def constant_input():
    """Three 4x4x3 images filled with -1, 1 and 3 (the 2021 assignment's test input)."""
    return np.concatenate([np.full((1, 4, 4, 3), v, np.float32) for v in (-1, 1, 3)])


def ones_initializer(seed=0):
    return keras.initializers.Constant(1.0)


_RETURNED_NONE = ("returned None. Replace every `None` placeholder in the START CODE HERE regions with code, "
                  "and keep the final `return X`.")


def _fail(name, message):
    raise CheckFailed(f"{name}: {message}")


def _fail_on_error(name, error):
    """Explain an exception raised by the student's function: a leftover placeholder, or what it said."""
    msg = str(error).split("\n")[0]
    if "None" in msg:
        _fail(name, f"a `None` placeholder is still in your code ({type(error).__name__}: {msg[:160]}). "
                    "Replace each `None` in the START CODE HERE regions.")
    _fail(name, f"calling the function raised {type(error).__name__}: {msg[:300]}")


def _main_path_pattern(n_convs=3):
    kinds = []
    for i in range(n_convs):
        kinds += ["conv", "bn"] + (["relu"] if i < n_convs - 1 else [])
    return kinds


def _arrow(calls):
    return " -> ".join(c.describe() for c in calls) or "nothing"


def _check_structure(name, tr: Trace, f, filters, s, projection):
    F1, F2, F3 = filters
    if tr.error is None and tr.output is None:
        _fail(name, "the function " + _RETURNED_NONE)
    if tr.error is None and not hasattr(tr.output, "shape"):
        _fail(name, f"the function returned a {type(tr.output).__name__}, not a tensor. Return X, the output of "
                    "the final ReLU.")

    convs, bns = tr.of_kind("conv"), tr.of_kind("bn")
    main_convs = convs[:3]
    # Settings that make the shapes go wrong are named first: they are why a trace fails half-way.
    kernels = [c.config["kernel_size"] for c in main_convs]
    want_kernels = [(1, 1), (f, f), (1, 1)]
    if len(main_convs) == 3 and kernels != want_kernels:
        if kernels[0] == (f, f) and kernels[1] == (1, 1):
            _fail(name, f"the kernel sizes are swapped: the main path is 1x1, then {f}x{f}, then 1x1 "
                        f"(you have {', '.join('x'.join(map(str, k)) for k in kernels)}).")
        _fail(name, f"the main path's kernel sizes should be 1x1, {f}x{f}, 1x1; found "
                    f"{', '.join('x'.join(map(str, k)) for k in kernels)}.")
    if len(main_convs) >= 2 and main_convs[1].config["padding"] != "same":
        _fail(name, f"the {f}x{f} convolution uses padding='{main_convs[1].config['padding']}', which shrinks the "
                    "image so the shortcut no longer fits: use padding='same'.")
    strides = [c.config["strides"] for c in main_convs]
    if len(main_convs) == 3:
        if projection and strides[0] == (1, 1) and strides[1] == (s, s) and s != 1:
            _fail(name, f"the stride s={s} is on the {f}x{f} convolution; in this block it belongs to the first 1x1 "
                        "Conv2D of the main path (and to the shortcut's Conv2D).")
        want_strides = [(s, s), (1, 1), (1, 1)] if projection else [(1, 1)] * 3
        if strides != want_strides:
            if projection:
                _fail(name, f"the main path's strides should be {s}, 1, 1 (the first 1x1 Conv2D downsamples); "
                            f"found {', '.join(str(x[0]) for x in strides)}.")
            _fail(name, "the identity block keeps the image size, so every stride is 1; found strides "
                        f"{', '.join(str(x[0]) for x in strides)}.")
        got_filters = [c.config["filters"] for c in main_convs]
        if got_filters != [F1, F2, F3]:
            _fail(name, f"the main path's filters are {got_filters}; use F1, F2, F3 = filters in that order "
                        f"(here {[F1, F2, F3]}).")
    for bn in bns:
        if bn.config["axis"] not in (3, -1):
            _fail(name, f"BatchNormalization(axis={bn.config['axis']}) normalises over the wrong axis. Images "
                        "are (batch, height, width, channels): use axis=3, the channel axis.")

    if projection:   # the shortcut's Conv2D is the fourth one called
        if len(convs) == 3 and tr.error is not None:
            _fail(name, _UNCHANGED_SHORTCUT.format(s=s, F3=F3))
        if len(convs) >= 4:
            _check_shortcut_conv(name, tr, convs[3], s, F3)

    if tr.error is not None:
        _fail_on_error(name, tr.error)

    adds = tr.of_kind("add")
    if not adds:
        _fail(name, "the shortcut is never added back. After the main path, compute "
                    "Add()([X, X_shortcut]) and then apply the final ReLU.")
    if len(adds) > 1:
        _fail(name, f"the block adds {len(adds)} times; the shortcut is added exactly once.")
    add = adds[0]
    final = tr.producer(tr.output)
    if final is not None and final.kind == "add":
        if any(getattr(tr.producer(t), "kind", None) == "relu" for t in add.inputs):
            _fail(name, _RELU_BEFORE_ADD)
        _fail(name, "the block must end with a ReLU applied after the addition, a[l+2] = g(z[l+2] + a[l]): "
                    "add the shortcut first, then apply Activation('relu').")
    if final is None or final.kind != "relu":
        _fail(name, f"the block must end with a ReLU after the addition; it ends with "
                    f"{final.describe() if final else 'something else'}.")
    if tr.producer(final.inputs[0]) is not add:
        _fail(name, "the final ReLU must be applied to the output of the addition.")

    sources = [tr.producer(t) for t in add.inputs]
    chains = [tr.chain(t) for t in add.inputs]
    if projection:
        short_i = next((i for i, ch in enumerate(chains) if len(ch) <= 2), None)
        if any(src is not None and src.kind == "input" for src in sources):
            _fail(name, _UNCHANGED_SHORTCUT.format(s=s, F3=F3))
        if short_i is None:
            _fail(name, f"the shortcut should be Conv2D({F3}, 1x1, strides={s}) -> BatchNormalization(axis=3), "
                        f"computed from the block's input; the addition received {_arrow(chains[0])} and "
                        f"{_arrow(chains[1])}.")
        shortcut = chains[short_i]
        if [c.kind for c in shortcut] == ["conv"]:
            _fail(name, "the shortcut's Conv2D is not followed by BatchNormalization(axis=3); ResNet normalises "
                        "the shortcut too, so both branches are on the same scale before the addition.")
        _check_shortcut_conv(name, tr, shortcut[0], s, F3)
        main = chains[1 - short_i]
    else:
        if not any(src is not None and src.kind == "input" for src in sources):
            _fail(name, f"the shortcut must be the block's input (X_shortcut = X, saved before the main path), "
                        f"but the addition received {_arrow(chains[0])} and {_arrow(chains[1])}.")
        main_i = 0 if sources[1] is not None and sources[1].kind == "input" else 1
        main = chains[main_i]
        if sources[main_i] is not None and sources[main_i].kind == "input":
            _fail(name, "the addition adds the input to itself: add the main path's output X to X_shortcut.")

    kinds = [c.kind for c in main]
    if kinds and kinds[-1] == "relu":
        _fail(name, _RELU_BEFORE_ADD)
    if kinds.count("conv") != 3:
        _fail(name, f"the main path should have 3 Conv2D layers; found {kinds.count('conv')} ({_arrow(main)}).")
    if kinds.count("bn") != 3:
        _fail(name, f"every Conv2D on the main path is followed by BatchNormalization(axis=3); found "
                    f"{kinds.count('bn')} of 3 ({_arrow(main)}).")
    if kinds.count("relu") != 2:
        _fail(name, f"the main path has a ReLU after the first and after the second BatchNormalization; found "
                    f"{kinds.count('relu')} ({_arrow(main)}).")
    if kinds != _main_path_pattern():
        _fail(name, f"the main path's layers are in the wrong order: expected Conv2D -> BatchNorm -> ReLU, twice, "
                    f"then Conv2D -> BatchNorm; found {_arrow(main)}.")


_RELU_BEFORE_ADD = ("you applied a ReLU before adding the shortcut. The third component ends with "
                    "BatchNormalization; add the shortcut first, then apply the ReLU.")
_UNCHANGED_SHORTCUT = ("the shortcut is added unchanged. In the convolutional block the shortcut needs a 1x1 "
                       "Conv2D with stride s={s} and {F3} filters, then BatchNormalization, so that its shape "
                       "matches the main path.")


def _check_shortcut_conv(name, tr, sc, s, F3):
    producer = tr.producer(sc.inputs[0]) if sc.inputs else None
    if sc.kind != "conv" or producer is None or producer.kind != "input":
        _fail(name, "the shortcut's Conv2D must be applied to the block's input X_shortcut, saved before "
                    "the main path changes X.")
    if sc.config["strides"] != (s, s):
        _fail(name, f"the shortcut's Conv2D has strides {sc.config['strides'][0]}; it needs strides=(s, s) "
                    f"= ({s}, {s}) so the shortcut shrinks like the main path.")
    if sc.config["kernel_size"] != (1, 1) or sc.config["filters"] != F3:
        _fail(name, f"the shortcut's Conv2D should have {F3} filters (F3) and a 1x1 kernel; found "
                    f"{sc.describe()}.")


def _check_training_flag(name, fn, shape, kwargs):
    for flag in (True, False):
        tr = trace(fn, shape, **kwargs, training=flag)
        for bn in tr.of_kind("bn"):
            if bn.kwargs.get("training", None) is not flag:
                _fail(name, "the `training` flag is ignored: call every BatchNormalization layer as "
                            "BatchNormalization(axis=3)(X, training=training), so it uses batch statistics while "
                            "training and its moving averages otherwise.")


def _check_initializer(name, fn, shape, kwargs):
    with recording() as calls:
        fn(keras.Input(shape=shape, batch_size=3), **kwargs, training=False, initializer=ones_initializer)
    for c in calls:
        if c.kind == "conv" and not np.all(keras.ops.convert_to_numpy(c.op.kernel) == 1.0):
            _fail(name, "a Conv2D does not use the `initializer` argument: pass "
                        "kernel_initializer=initializer(seed=0) to every Conv2D, so results are reproducible.")


def rounded(out, name="the block", decimals=4):
    """The block output as a NumPy array rounded for printing, with a clear message if it is not a tensor."""
    if out is None:
        raise CheckFailed(f"{name} {_RETURNED_NONE}")
    if not hasattr(out, "shape"):
        raise CheckFailed(f"{name} returned a {type(out).__name__}, not a tensor.")
    # Adding 0.0 turns -0.0 (printed "-0.") into 0.0, so the text is the same on every CPU.
    return np.round(keras.ops.convert_to_numpy(out).astype(np.float64), decimals) + 0.0


def _expected(values):
    return {flag: np.asarray(v, np.float32) for flag, v in values.items()}


def _check_numbers(name, fn, kwargs, shape, select, expected):
    """Run the block on constant_input() with every weight = 1 and compare a slice with `expected`."""
    X = constant_input()
    for flag, want in expected.items():
        out = keras.ops.convert_to_numpy(fn(X, **kwargs, training=flag, initializer=ones_initializer))
        if out.shape != shape:
            _fail(name, f"the output has shape {out.shape}; expected {shape}.")
        got = select(out)
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            _fail(name, f"with training={flag} the layers look right but the values differ from the expected ones "
                        f"(largest difference {np.abs(got - want).max():.4g}). Check which tensor each layer is "
                        "applied to.")


def _check_block(name, fn, kwargs, projection, out_shape, select, expected):
    f, filters, s = kwargs["f"], kwargs["filters"], kwargs.get("s", 1)
    tr = trace(fn, (4, 4, 3), **kwargs, training=False, initializer=ones_initializer)
    _check_structure(name, tr, f, filters, s, projection)
    _check_training_flag(name, fn, (4, 4, 3), dict(kwargs, initializer=ones_initializer))
    _check_initializer(name, fn, (4, 4, 3), kwargs)
    _check_numbers(name, fn, kwargs, out_shape, select, expected)
    print("All tests passed.")


# Expected outputs with every weight = 1 on constant_input(). The identity block's values are
# those printed by the 2021 TF2 assignment (the mean over channels of rows 0 and -1); they
# reproduce on TF 2.21 / Keras 3 to 1e-5.
IDENTITY_EXPECTED = _expected({
    False: [[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
            [[192.71236, 192.71236, 192.71236, 96.85619], [96.85619, 96.85619, 96.85619, 48.9281]],
            [[578.1371, 578.1371, 578.1371, 290.56854], [290.56854, 290.56854, 290.56854, 146.78427]]],
    True: [[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
           [[0.40739, 0.40739, 0.40739, 0.40739], [0.40739, 0.40739, 0.40739, 0.40739]],
           [[4.99991, 4.99991, 4.99991, 3.25948], [3.25948, 3.25948, 3.25948, 2.40739]]],
})

# out[:, 0, 0, :] of the convolutional block (f=2, filters=[2, 4, 6], s=2), every weight = 1.
CONVOLUTIONAL_EXPECTED = _expected({
    False: [[0.0] * 6, [98.85469] * 6, [296.56406] * 6],
    True: [[0.0] * 6, [0.0] * 6, [4.1300535] * 6],
})


def check_identity_block(identity_block):
    """Check the student's identity_block; print a pass message or raise CheckFailed with a hint."""
    _check_block("identity_block", identity_block, {"f": 2, "filters": [4, 4, 3]}, projection=False,
                 out_shape=(3, 4, 4, 3), select=lambda out: out[:, (0, -1), :, :].mean(axis=3),
                 expected=IDENTITY_EXPECTED)


def check_convolutional_block(convolutional_block):
    """Check the student's convolutional_block; print a pass message or raise CheckFailed with a hint."""
    _check_block("convolutional_block", convolutional_block, {"f": 2, "filters": [2, 4, 6], "s": 2},
                 projection=True, out_shape=(3, 2, 2, 6), select=lambda out: out[:, 0, 0, :],
                 expected=CONVOLUTIONAL_EXPECTED)
