"""Words shared by every check: how a check fails, and the messages more than one check gives."""
from __future__ import annotations

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


def fail(name: str, message: str):
    """Stop the check: `name` is the exercise, `message` what to change."""
    raise CheckFailed(f"{name}: {message}" if name else message)


def first_line(error: Exception, limit: int = 300) -> str:
    return str(error).split("\n")[0][:limit]


def fail_on_error(name: str, error: Exception, call: str = "calling the function"):
    """Explain an exception raised by the student's code: a leftover placeholder, or what it said."""
    msg = str(error).split("\n")[0]
    if "None" in msg:
        fail(name, f"a `None` placeholder is still in your code ({type(error).__name__}: {msg[:160]}). "
                   "Replace each `None` in the START CODE HERE regions.")
    fail(name, f"{call} raised {type(error).__name__}: {msg[:300]}")
