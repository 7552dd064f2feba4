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
    # Layer settings that keep the shapes, so only the settings show them
    ("relu_inside_conv2d", [(SECOND_CONV, SECOND_CONV.replace("padding='same',", "padding='same', activation='relu',"))],
     "Conv2D(..., activation='relu') applies a ReLU before the BatchNorm: leave out Conv2D's activation and apply "
     "Activation('relu') after BatchNormalization."),
    ("sigmoid_inside_conv2d", [(SECOND_CONV, SECOND_CONV.replace("padding='same',", "padding='same', activation='sigmoid',"))],
     "Conv2D(..., activation='sigmoid') applies a sigmoid before the BatchNorm"),
    ("conv_without_bias", [(SECOND_CONV, SECOND_CONV.replace("padding='same',", "padding='same', use_bias=False,"))],
     "this course keeps Conv2D's default bias, as keras.applications' ResNet50 does"),
    ("batchnorm_without_scale", [(SECOND_CONV_AND_BN, SECOND_CONV_AND_BN.replace("axis=3", "axis=3, scale=False"))],
     "drops the learned scale γ"),
    ("batchnorm_without_center", [(SECOND_CONV_AND_BN, SECOND_CONV_AND_BN.replace("axis=3", "axis=3, center=False"))],
     "drops the learned offset β"),
    ("batchnorm_applications_epsilon", [(SECOND_CONV_AND_BN, SECOND_CONV_AND_BN.replace("axis=3", "axis=3, epsilon=1.001e-5"))],
     "the course uses Keras's default epsilon (0.001) so the expected numbers match"),
    # The initializer: passed uncalled, or called without the seed
    ("initializer_not_called", [(SECOND_CONV, SECOND_CONV.replace("initializer(seed=0)", "initializer"))],
     "call the initializer: kernel_initializer=initializer(seed=0)"),
    ("initializer_without_seed", [(SECOND_CONV, SECOND_CONV.replace("initializer(seed=0)", "initializer()"))],
     "call initializer(seed=0), as the docstring says, so that your printed values match the expected ones"),
    # keras.ops where the course asks for layers (notebook 04 reads the Add and Activation layers)
    ("plus_instead_of_add_layer", [("X = Add()([X, X_shortcut])", "X = X + X_shortcut")],
     "X + X_shortcut (keras.ops.add) computes the right sum, but write the addition as the layer Add()([X, X_shortcut])"),
    ("keras_ops_add", [("    X = Add()([X, X_shortcut])", "    from keras import ops\n    X = ops.add(X, X_shortcut)")],
     "write the addition as the layer Add()([X, X_shortcut]): notebook 04 reads your blocks' Add layers"),
    ("keras_ops_relu", [(FINAL_ADD, "    from keras import ops\n    X = Add()([X, X_shortcut])\n    X = ops.relu(X)")],
     "keras.ops.relu computes the right ReLU, but write it as the layer Activation('relu')"),
    # Layers used the wrong way: Keras's own messages name neither the layer nor the fix
    ("layer_created_not_called", [(SECOND_CONV_AND_BN, SECOND_CONV_AND_BN.replace("(X, training=training)", ""))],
     "X is a BatchNormalization layer, not a tensor: call the layer on X, e.g. BatchNormalization(axis=3)(X, training=training)"),
    ("training_passed_positionally", [(SECOND_CONV_AND_BN, SECOND_CONV_AND_BN.replace("training=training", "training"))],
     "pass training as a keyword: BatchNormalization(axis=3)(X, training=training)"),
    ("add_given_two_arguments", [("Add()([X, X_shortcut])", "Add()(X, X_shortcut)")],
     "Add takes one list of tensors: Add()([X, X_shortcut])"),
    ("add_layer_given_the_list", [("Add()([X, X_shortcut])", "Add([X, X_shortcut])")],
     "Add takes one list of tensors: Add()([X, X_shortcut])"),
    ("add_of_three_tensors", [("Add()([X, X_shortcut])", "Add()([X, X_shortcut, X_shortcut])")],
     "the addition adds 3 tensors; it adds exactly two"),
    # kernel_size=(f, 1) has f as its first side: the hint names the window, not the values
    ("non_square_fxf_kernel", [(SECOND_CONV, SECOND_CONV.replace("kernel_size=f,", "kernel_size=(f, 1),"))],
     "the convolutions of a ResNet block are square"),
    ("batchnorm_after_add", [(THIRD_BN + "\n", THIRD_BN.split("\n")[0] + "\n"),
                             (FINAL_ADD, FINAL_ADD.replace("\n", "\n    X = BatchNormalization(axis=3)(X, training=training)\n"))],
     "the third BatchNormalization belongs on the main path, before the addition"),
]

IDENTITY = COMMON + [
    ("shortcut_added_to_wrong_tensor", [("Add()([X, X_shortcut])", "Add()([X, X])")],
     "shortcut must be the block's input"),
    ("stride_in_identity_block", [("F1, kernel_size=1, strides=(1, 1)", "F1, kernel_size=1, strides=(2, 2)")],
     "every stride is 1"),
    ("filters_in_wrong_order", [("F1, F2, F3 = filters", "F3, F2, F1 = filters")],
     "use F1, F2, F3 = filters in that order"),
    # The 2021 call has F1 == F2; the check's second call, with three different filters, shows the swap.
    ("second_conv_with_F1", [(SECOND_CONV, SECOND_CONV.replace("filters=F2", "filters=F1"))],
     "use F1, F2, F3 = filters in that order"),
    # Saved again after the first component, the shortcut has F1 channels: the addition fails on shapes.
    ("shortcut_saved_after_first_component", [("    ### START CODE HERE ###\n",
                                               "    ### START CODE HERE ###\n    X_shortcut = X\n")],
     "the shortcut is the block's input X itself (X_shortcut = X, saved before the main path changes X); yours is "
     "taken after"),
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
    ("shortcut_batchnorm_before_conv", [("    " + SHORTCUT_CONV + "\n" + SHORTCUT_BN, SHORTCUT_BN + "    " + SHORTCUT_CONV + "\n")],
     "the shortcut's BatchNormalization comes after its Conv2D"),
    ("shortcut_from_main_path", [(SHORTCUT_CONV, SHORTCUT_CONV.replace("(X_shortcut)", "(X)"))],
     "must be applied to the block's input X_shortcut"),
    # A fixed stride passes the 2021 call (s = 2); the check's second call, with s = 1, shows it.
    ("main_stride_fixed", [("F1, kernel_size=1, strides=(s, s)", "F1, kernel_size=1, strides=(2, 2)")],
     "called with s=1 your block still downsamples: use strides=(s, s)"),
    ("shortcut_stride_fixed", [(SHORTCUT_CONV, SHORTCUT_CONV.replace("strides=(s, s)", "strides=(2, 2)"))],
     "called with s=1 your block's shortcut still downsamples: use strides=(s, s) in the shortcut's Conv2D"),
]

# Correct ways of writing the blocks that the checks must accept: (id, [(old, new), ...]).
FINAL_RELU = "    X = Activation('relu')(X)\n    ### END CODE HERE ###"
ALTERNATIVES = [
    ("functional_add", [("X = Add()([X, X_shortcut])", "X = keras.layers.add([X, X_shortcut])"),
                        ("    ### START CODE HERE ###\n", "    ### START CODE HERE ###\n    import keras\n")]),
    ("add_order_swapped", [("Add()([X, X_shortcut])", "Add()([X_shortcut, X])")]),
    ("relu_layer", [(FINAL_RELU, "    from keras.layers import ReLU\n    X = ReLU()(X)\n    ### END CODE HERE ###")]),
    ("tf_nn_relu", [(FINAL_RELU, "    import tensorflow as tf\n    X = Activation(tf.nn.relu)(X)\n    ### END CODE HERE ###")]),
    ("keras_activations_relu", [(FINAL_RELU, "    import keras\n    X = Activation(keras.activations.relu)(X)\n"
                                             "    ### END CODE HERE ###")]),
    ("batchnorm_axis_minus_1", [("BatchNormalization(axis=3)", "BatchNormalization(axis=-1)")]),
    ("same_padding_on_1x1", [("padding='valid'", "padding='same'")]),
    ("tuple_kernel_sizes", [("kernel_size=1,", "kernel_size=(1, 1),"), ("kernel_size=f,", "kernel_size=(f, f),")]),
]

MISTAKES = {"identity_block": IDENTITY, "convolutional_block": CONVOLUTIONAL}
NOTEBOOK = {"identity_block": "02_identity_block.ipynb", "convolutional_block": "03_convolutional_block.ipynb"}


def apply(source: str, edits) -> str:
    for old, new in edits:
        if old not in source:
            raise AssertionError(f"the mistake's text is not in the solution any more: {old!r}")
        source = source.replace(old, new)
    return source
