"""A catalogue of common mistakes in notebook 06's graded exercise (getting a trained model ready to
fine-tune), each with the hint its check (resnets_course.checks.transfer) must give.

``SOLUTION`` is the graded cell's code as notebook 06 holds it; each mistake is a list of edits of it
(old text, new text), applied by tests/block_mistakes.py's ``apply``.
"""
from tests.block_mistakes import apply  # noqa: F401 - the catalogues share it
from tests.notebook_tools import NOTEBOOKS, graded_source, read

NOTEBOOK = "06_transfer_learning.ipynb"
SOLUTION = graded_source(read(NOTEBOOKS / NOTEBOOK), "prepare_fine_tuning") + "\n"

LOOP = """    for i, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False   # inference mode: it uses and keeps its moving statistics
        else:
            layer.trainable = i >= first
"""
COMPILE = """    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
"""
BN_FROZEN = "            layer.trainable = False   # inference mode: it uses and keeps its moving statistics\n"

MISTAKES = [
    # (id, [(old, new), ...], hint the check must print)
    ("batchnorm_left_training", [(BN_FROZEN, "            layer.trainable = i >= first\n")],
     "changed its moving mean and variance"),
    ("froze_the_wrong_end", [("i >= first", "i < first")],
     "the wrong end is frozen"),
    ("nothing_frozen", [("            layer.trainable = i >= first\n", "            layer.trainable = True\n")],
     "nothing is frozen"),
    ("everything_frozen", [("            layer.trainable = i >= first\n", "            layer.trainable = False\n")],
     "every layer is frozen"),
    ("model_trainable_false", [(LOOP, "    model.trainable = False\n")],
     "every layer is frozen"),
    ("first_trainable_frozen_too", [("i >= first", "i > first")],
     "is frozen, and it is `first_trainable`"),
    ("forgot_to_recompile", [(COMPILE, "")],
     "compile again after freezing"),
    ("learning_rate_argument_ignored", [("keras.optimizers.Adam(learning_rate)", "keras.optimizers.Adam(1e-3)")],
     "not the `learning_rate` argument"),
    ("rate_as_from_scratch", [("FINE_TUNING_LEARNING_RATE = 1e-4", "FINE_TUNING_LEARNING_RATE = 2e-3")],
     "about as high as training from scratch"),
    ("rate_too_low", [("FINE_TUNING_LEARNING_RATE = 1e-4", "FINE_TUNING_LEARNING_RATE = 1e-7")],
     "barely move"),
    ("sparse_loss", [('loss="categorical_crossentropy"', 'loss="sparse_categorical_crossentropy"')],
     "compile with loss='categorical_crossentropy'"),
    ("nothing_written", [(LOOP, ""), (COMPILE, "")],
     "changed nothing"),
    ("forgot_return", [("    return model\n", "")],
     "returned None"),
    ("rate_placeholder_left", [("FINE_TUNING_LEARNING_RATE = 1e-4", "FINE_TUNING_LEARNING_RATE = None")],
     "FINE_TUNING_LEARNING_RATE is None"),
]

