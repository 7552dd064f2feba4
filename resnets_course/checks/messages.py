"""Words shared by every check: how a check fails, and the messages more than one check gives."""
from __future__ import annotations

import re

from ..errors import CheckFailed

RETURNED_NONE = ("returned None. Replace every `None` placeholder in the START CODE HERE regions with code, "
                 "and keep the final `return X`.")
RELU_BEFORE_ADD = ("you applied a ReLU before adding the shortcut. The main path ends with BatchNormalization; "
                   "add the shortcut first, then apply the ReLU.")
TRAINING_FLAG_IGNORED = ("the `training` flag is ignored: call every BatchNormalization layer as "
                         "BatchNormalization(axis=3)(X, training=training), so it uses batch statistics while "
                         "training and its moving averages otherwise.")
INITIALIZER_IGNORED = ("a Conv2D does not use the `initializer` argument: pass kernel_initializer=initializer(seed=0) "
                       "to every Conv2D, so results are reproducible.")
INITIALIZER_NOT_CALLED = "call the initializer: kernel_initializer=initializer(seed=0)."
INITIALIZER_SEED = ("call initializer(seed=0), as the docstring says, so that your printed values match the expected "
                    "ones.")
ADD_TAKES_A_LIST = "Add takes one list of tensors: Add()([X, X_shortcut])."
#: How a cell that only shows a block's output points on to the check after it (the judge's reports and
#: grading's rows lead with the check's own hint instead).
POINTS_ON = "The check below says more."
KERAS_EPSILON = 1e-3   # BatchNormalization's default


def layer_settings_problem(kind: str, config: dict) -> str | None:
    """What is wrong with a Conv2D's or a BatchNormalization's settings (tracing's config), in words; None if
    nothing. The padding is not judged here: the stems' 7x7 convolutions rightly use 'valid'."""
    if kind == "conv":
        activation = config.get("activation", "linear")
        if activation == "relu":
            return ("Conv2D(..., activation='relu') applies a ReLU before the BatchNorm: leave out Conv2D's "
                    "activation and apply Activation('relu') after BatchNormalization.")
        if activation != "linear":
            return (f"Conv2D(..., activation='{activation}') applies a {activation} before the BatchNorm: leave out "
                    "Conv2D's activation; the only activations are Activation('relu') layers after "
                    "BatchNormalization.")
        if not config.get("use_bias", True):
            return ("Conv2D(..., use_bias=False): this course keeps Conv2D's default bias, as keras.applications' "
                    "ResNet50 does, so the parameter counts of notebooks 04 and 05 match. Leave out use_bias.")
    if kind == "bn":
        if config.get("axis") not in (3, -1, [3], [-1]):
            return (f"BatchNormalization(axis={config.get('axis')}) normalises over the wrong axis. Images are "
                    "(batch, height, width, channels): use axis=3, the channel axis.")
        dropped = [what for what, key in (("the learned scale γ (scale=False)", "scale"),
                                          ("the learned offset β (center=False)", "center")) if not config.get(key, True)]
        if dropped:
            return (f"your BatchNormalization drops {' and '.join(dropped)}; keep the defaults: "
                    "BatchNormalization(axis=3).")
        epsilon = config.get("epsilon", KERAS_EPSILON)
        if abs(epsilon - KERAS_EPSILON) > 1e-12:
            return (f"BatchNormalization(..., epsilon={epsilon:g}): the course uses Keras's default epsilon "
                    f"({KERAS_EPSILON:g}) so the expected numbers match (keras.applications' ResNet50 uses 1.001e-5). "
                    "Keep the defaults: BatchNormalization(axis=3).")
    return None


def fail(name: str, message: str):
    """Stop the check: `name` is the exercise, `message` what to change."""
    raise CheckFailed(f"{name}: {message}" if name else message)


def first_line(error: Exception, limit: int = 300) -> str:
    return str(error).split("\n")[0][:limit]


_EXAMPLE_CALL = {"BatchNormalization": "BatchNormalization(axis=3)(X, training=training)",
                 "Activation": "Activation('relu')(X)", "Add": "Add()([X, X_shortcut])", "Conv2D": "Conv2D(...)(X)"}
_KEYWORD_ONLY = "Only input tensors may be passed as positional arguments"


def explain_keras_misuse(msg: str, add: bool = False) -> str | None:
    """Plain words for Keras's errors when a layer is used the wrong way; None if not one of those.
    `add`: the call that failed was an Add layer's."""
    if _KEYWORD_ONLY in msg:
        value = msg.split("keyword argument:", 1)[-1].strip()
        layer = re.match(r"<(\w+) name=", value)
        if layer:
            cls = layer.group(1)
            example = _EXAMPLE_CALL.get(cls, f"{cls}(...)(X)")
            return (f"X is a {cls} layer, not a tensor: call the layer on X, e.g. {example}. X = {cls}(...) "
                    "without (X) after it makes the layer but never applies it.")
        if value.startswith(("True", "False")):
            return "pass training as a keyword: BatchNormalization(axis=3)(X, training=training)."
    if re.search(r"Merge\.__init__\(\) takes .* positional", msg) or ("too many positional arguments" in msg and add):
        return ADD_TAKES_A_LIST
    if "too many positional arguments" in msg:
        return ("a layer was called on more than one tensor: a layer takes one tensor, as in Conv2D(...)(X); only "
                "Add takes several, as one list: Add()([X, X_shortcut]).")
    return None


def fail_on_error(name: str, error: Exception, call: str = "calling the function", add: bool = False):
    """Explain an exception raised by the student's code: a layer used the wrong way, a leftover
    placeholder, or what it said. `add`: the call that raised was an Add layer's."""
    msg = str(error).split("\n")[0]
    misuse = explain_keras_misuse(msg, add)
    if misuse:
        fail(name, misuse)
    if "None" in msg:
        fail(name, f"a `None` placeholder is still in your code ({type(error).__name__}: {msg[:160]}). "
                   "Replace each `None` in the START CODE HERE regions.")
    fail(name, f"{call} raised {type(error).__name__}: {msg[:300]}")
