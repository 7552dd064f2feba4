"""A catalogue of common mistakes in the graded blocks, each with the hint the check must give.

Each mistake is an edit of the solution notebook's graded cell: (old text, new text). The tests
apply it and assert that the in-notebook check names the problem and that nbval fails.
"""
FINAL_ADD = "    X = Add()([X, X_shortcut])\n    X = Activation('relu')(X)"
THIRD_BN = ("    X = Conv2D(filters=F3, kernel_size=1, strides=(1, 1), padding='valid', "
            "kernel_initializer=initializer(seed=0))(X)\n    X = BatchNormalization(axis=3)(X, training=training)")
SECOND_CONV = "X = Conv2D(filters=F2, kernel_size=f, strides=(1, 1), padding='same', kernel_initializer=initializer(seed=0))(X)"
SECOND_CONV_AND_BN = f"    {SECOND_CONV}\n    X = BatchNormalization(axis=3)(X, training=training)\n"
SHORTCUT_CONV = ("X_shortcut = Conv2D(filters=F3, kernel_size=1, strides=(s, s), padding='valid', "
                 "kernel_initializer=initializer(seed=0))(X_shortcut)")
SHORTCUT_BN = "    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)\n"

COMMON = [
    # (id, [(old, new), ...], hint the check must print)
    ("no_relu_after_add", [(FINAL_ADD, "    X = Add()([X, X_shortcut])")],
     "must end with a ReLU applied after the addition"),
    ("relu_before_add", [(FINAL_ADD, "    X = Activation('relu')(X)\n    X = Add()([X, X_shortcut])")],
     "ReLU before adding the shortcut"),
    ("shortcut_not_added", [("    X = Add()([X, X_shortcut])\n", "")],
     "shortcut is never added back"),
    ("valid_padding_on_fxf", [(SECOND_CONV, SECOND_CONV.replace("'same'", "'valid'"))],
     "uses padding='valid'"),
    ("batchnorm_wrong_axis", [(SECOND_CONV_AND_BN, SECOND_CONV_AND_BN.replace("axis=3", "axis=1"))],
     "normalises over the wrong axis"),
    ("training_flag_ignored", [("(X, training=training)", "(X)")],
     "`training` flag is ignored"),
    ("kernel_sizes_swapped", [("kernel_size=f,", "kernel_size=KF,"), ("F1, kernel_size=1,", "F1, kernel_size=f,"),
                              ("kernel_size=KF,", "kernel_size=1,")],
     "kernel sizes are swapped"),
    ("missing_batchnorm", [(SECOND_CONV_AND_BN, f"    {SECOND_CONV}\n")],
     "is followed by BatchNormalization(axis=3); found 2 of 3"),
    ("initializer_ignored", [(SECOND_CONV, SECOND_CONV.replace(", kernel_initializer=initializer(seed=0)", ""))],
     "does not use the `initializer` argument"),
    ("forgot_return", [("    return X", "    X")],
     "returned None"),
    ("sigmoid_instead_of_relu", [(FINAL_ADD, FINAL_ADD.replace("'relu'", "'sigmoid'"))],
     "must end with a ReLU after the addition"),
    ("missing_relu_in_main_path", [(SECOND_CONV_AND_BN + "    X = Activation('relu')(X)\n", SECOND_CONV_AND_BN)],
     "a ReLU after the first and after the second BatchNormalization; found 1"),
]

IDENTITY = COMMON + [
    ("shortcut_added_to_wrong_tensor", [("Add()([X, X_shortcut])", "Add()([X, X])")],
     "shortcut must be the block's input"),
    ("stride_in_identity_block", [("F1, kernel_size=1, strides=(1, 1)", "F1, kernel_size=1, strides=(2, 2)")],
     "every stride is 1"),
    ("filters_in_wrong_order", [("F1, F2, F3 = filters", "F3, F2, F1 = filters")],
     "use F1, F2, F3 = filters in that order"),
]

CONVOLUTIONAL = COMMON + [
    ("stride_on_fxf_conv", [("F1, kernel_size=1, strides=(s, s)", "F1, kernel_size=1, strides=(1, 1)"),
                            ("F2, kernel_size=f, strides=(1, 1)", "F2, kernel_size=f, strides=(s, s)")],
     "belongs to the first 1x1"),
    ("no_stride_on_shortcut", [(SHORTCUT_CONV, SHORTCUT_CONV.replace("strides=(s, s)", "strides=(1, 1)"))],
     "shortcut's Conv2D has strides 1"),
    ("no_batchnorm_on_shortcut", [(SHORTCUT_BN, "")],
     "not followed by BatchNormalization"),
    ("shortcut_left_unchanged", [("    " + SHORTCUT_CONV + "\n" + SHORTCUT_BN, "")],
     "shortcut is added unchanged"),
    ("shortcut_with_F1_filters", [(SHORTCUT_CONV, SHORTCUT_CONV.replace("filters=F3", "filters=F1"))],
     "should have 6 filters (F3)"),
    ("shortcut_from_main_path", [(SHORTCUT_CONV, SHORTCUT_CONV.replace("(X_shortcut)", "(X)"))],
     "must be applied to the block's input X_shortcut"),
]

MISTAKES = {"identity_block": IDENTITY, "convolutional_block": CONVOLUTIONAL}
NOTEBOOK = {"identity_block": "02_identity_block.ipynb", "convolutional_block": "03_convolutional_block.ipynb"}


def apply(source: str, edits) -> str:
    for old, new in edits:
        if old not in source:
            raise AssertionError(f"the mistake's text is not in the solution any more: {old!r}")
        source = source.replace(old, new)
    return source
