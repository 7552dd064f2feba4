"""A catalogue of common mistakes in notebook 06's graded exercise (getting a trained model ready to
fine-tune), each with the hint its check (resnets_course.checks.transfer) must give.

``SOLUTION`` is the graded cell's code as notebook 06 will hold it; each mistake is a list of edits of it
(old text, new text), applied by tests/block_mistakes.py's ``apply``.
"""
from tests.block_mistakes import apply  # noqa: F401 - the catalogues share it

SOLUTION = '''\
def prepare_fine_tuning(model, first_trainable, learning_rate):
    """
    Get a trained model ready to fine-tune on a few new images.

    Arguments:
    model -- a trained Keras model
    first_trainable -- the name of the first layer that keeps learning: the layers before it are frozen
    learning_rate -- the learning rate of the fine-tuning run

    Returns:
    model -- the same model, ready for fit: the layers before `first_trainable` frozen, every
             BatchNormalization layer in inference mode (it uses and keeps its moving statistics),
             compiled with Adam(learning_rate) and the categorical cross-entropy
    """
    ### START CODE HERE ###
    names = [layer.name for layer in model.layers]
    first = names.index(first_trainable)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False   # inference mode: it uses and keeps its moving statistics
        else:
            layer.trainable = i >= first
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    ### END CODE HERE ###
    return model


FINE_TUNING_LEARNING_RATE = 1e-4
'''

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
    ("forgot_return", [("    return model\n", "")],
     "returned None"),
    ("rate_placeholder_left", [("FINE_TUNING_LEARNING_RATE = 1e-4", "FINE_TUNING_LEARNING_RATE = None")],
     "FINE_TUNING_LEARNING_RATE is None"),
]

