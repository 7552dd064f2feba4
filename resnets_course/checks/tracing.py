"""Recording what a student's block function does: every layer or op it calls, with its settings and
which tensor feeds which, even when the function fails half-way."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ..keras_internals import keras, wrapped_operation_calls


@dataclass
class Call:
    """One top-level layer or op call made by the student's function. A failed addition (an Add layer, or
    X + Y) is recorded too (``failed``, no outputs), so that the checks can say which tensors it was given."""
    op: object
    inputs: list
    outputs: list
    kwargs: dict
    kind: str = ""
    config: dict = field(default_factory=dict)
    failed: bool = False

    def describe(self) -> str:
        c = self.config
        if self.kind == "conv":
            k = "x".join(map(str, c["kernel_size"]))
            s = "" if c["strides"] == (1, 1) else f", strides={c['strides'][0]}"
            return f"Conv2D({c['filters']}, {k}{s}, padding='{c['padding']}')"
        if self.kind == "bn":
            return f"BatchNormalization(axis={c['axis']})"
        if self.kind == "activation":
            name = c.get("name", "?")
            return name if name.startswith("ReLU(") else f"Activation('{name}')"
        if self.kind.startswith("op:"):
            return f"keras.ops.{self.kind[3:]}"
        return {"relu": "ReLU", "add": "Add", "input": "the block input"}.get(self.kind, type(self.op).__name__)


def _is_relu(fn) -> bool:
    """keras.activations.relu, tf.nn.relu or any other function named relu."""
    return getattr(fn, "__name__", None) == "relu"


def layer_kind(op) -> tuple[str, dict]:
    """(kind, settings) of a layer or op, as the checks compare them."""
    L = keras.layers
    if isinstance(op, L.Conv2D):
        return "conv", {"filters": op.filters, "kernel_size": tuple(op.kernel_size),
                        "strides": tuple(op.strides), "padding": op.padding,
                        "activation": getattr(op.activation, "__name__", "?"), "use_bias": op.use_bias}
    if isinstance(op, L.BatchNormalization):
        return "bn", {"axis": op.axis, "center": op.center, "scale": op.scale, "epsilon": op.epsilon}
    if isinstance(op, L.ReLU):
        changed = {k: v for k, v in (("max_value", op.max_value), ("negative_slope", op.negative_slope),
                                     ("threshold", op.threshold)) if v}
        if not changed:
            return "relu", {}
        return "activation", {"name": "ReLU(" + ", ".join(f"{k}={v:g}" for k, v in changed.items()) + ")"}
    if isinstance(op, L.Activation):
        if _is_relu(op.activation):
            return "relu", {}
        return "activation", {"name": getattr(op.activation, "__name__", "?")}
    if isinstance(op, L.Add):
        return "add", {}
    if not isinstance(op, L.Layer):
        # An op reached directly, not through a layer: keras.ops.add(X, Y) or X + Y give "op:add",
        # keras.ops.relu (or keras.activations.relu) on a tensor gives "op:relu".
        return "op:" + type(op).__name__.lower(), {}
    return type(op).__name__.lower(), {}


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [t for item in x for t in _flat(item)]
    if isinstance(x, dict):
        return [t for item in x.values() for t in _flat(item)]
    return [x] if hasattr(x, "shape") else []


@contextlib.contextmanager
def recording():
    """Record the top-level layer and op calls made inside the block (nested ones are internals), and the
    inputs of an addition that failed."""
    calls, depth = [], [0]

    def wrap(original):
        def spy(self, *args, **kwargs):
            depth[0] += 1
            try:
                out = original(self, *args, **kwargs)
            except Exception:
                kind = layer_kind(self)[0] if depth[0] == 1 else ""
                if kind in ("add", "op:add"):   # Add()([X, Y]) or X + Y of two shapes that differ
                    calls.append(Call(self, _flat(args), [], dict(kwargs), kind, {}, failed=True))
                raise
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                kind, config = layer_kind(self)
                calls.append(Call(self, _flat(args), _flat(out), dict(kwargs), kind, config))
            return out
        return spy

    with wrapped_operation_calls(wrap):
        yield calls


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
        except Exception as e:  # the student's code may fail anywhere; the checks explain it
            error = e
    return Trace(calls, out, error, x)


def arrow(calls) -> str:
    """Layers as the student wrote them: 'Conv2D(...) -> BatchNormalization(axis=3) -> ReLU'."""
    return " -> ".join(c.describe() for c in calls) or "nothing"
