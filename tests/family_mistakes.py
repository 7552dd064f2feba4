"""A catalogue of common mistakes in notebook 05's graded cells, each with the hint the check must give.

As in block_mistakes: each mistake is a list of (old text, new text) edits of the solution's graded
cell; the tests apply it and assert that the check names the problem.
"""
from tests.block_mistakes import apply  # noqa: F401  (re-exported for the tests)

NOTEBOOK = "05_resnet_family.ipynb"

FINAL_RELU = "    X = Add()([X, X_shortcut])\n    X = Activation('relu')(X)"
ADD = "    X = Add()([X, X_shortcut])"
PROJECT_IF = "if s != 1 or X_shortcut.shape[-1] != F:"
PROJECT_IF_4F = "if s != 1 or X_shortcut.shape[-1] != 4 * F:"
SECOND_3X3 = "X = Conv2D(filters=F, kernel_size=3, strides=(1, 1), padding='same', kernel_initializer=initializer(seed=0))(X)"
BN_LINE = "X = BatchNormalization(axis=3)(X, training=training)"
SHORTCUT_BN = "        X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)\n"
BASIC_PROJECTION = ("X_shortcut = Conv2D(filters=F, kernel_size=1, strides=(s, s), padding='valid', "
                    "kernel_initializer=initializer(seed=0))(X_shortcut)")

POST_ACTIVATION_COMMON = [
    ("no_relu_after_add", [(FINAL_RELU, ADD)], "must end with a ReLU applied after the addition"),
    ("relu_before_add", [(FINAL_RELU, "    X = Activation('relu')(X)\n" + ADD)], "ReLU before adding the shortcut"),
    ("no_batchnorm_on_shortcut", [(SHORTCUT_BN, "")], "not followed by BatchNormalization"),
    ("forgot_return", [("    return X", "    X")], "returned None"),
    ("training_flag_ignored", [("(X, training=training)", "(X)")], "`training` flag is ignored"),
]

# The stride alone asks for a projection: the checks run a block with s = 2 and unchanged channels.
ONLY_WHEN_WIDENED = "needs the 1x1 projection even though the number of channels does not change"

BASIC = POST_ACTIVATION_COMMON + [
    ("never_projects", [(PROJECT_IF, "if False:")], "needs a projection"),
    ("projects_only_when_strided", [(PROJECT_IF, "if s != 1:")], "the input has 3 channels and the block outputs 2"),
    ("always_projects", [(PROJECT_IF, "if True:")], "the shortcut is the input itself"),
    ("stride_on_both_convs", [(SECOND_3X3, SECOND_3X3.replace("strides=(1, 1)", "strides=(s, s)"))],
     "belongs to the first Conv2D of the main path"),
    ("valid_padding", [(SECOND_3X3, SECOND_3X3.replace("'same'", "'valid'"))], "use padding='same'"),
    ("shortcut_from_main_path", [("initializer=initializer(seed=0))(X_shortcut)", "initializer=initializer(seed=0))(X)")],
     "must be applied to the block's input X_shortcut"),
    ("adds_main_path_twice", [("Add()([X, X_shortcut])", "Add()([X, X])")], "adds the same tensor twice"),
    ("initializer_ignored", [(SECOND_3X3, SECOND_3X3.replace(", kernel_initializer=initializer(seed=0)", ""))],
     "does not use the `initializer` argument"),
    ("batchnorm_wrong_axis", [(f"{SECOND_3X3}\n    {BN_LINE}", f"{SECOND_3X3}\n    {BN_LINE.replace('axis=3', 'axis=1')}")],
     "normalises over the wrong axis"),
    ("projects_only_when_channels_change", [(PROJECT_IF, "if X_shortcut.shape[-1] != F:")], ONLY_WHEN_WIDENED),
    ("shortcut_saved_after_first_component", [("    ### START CODE HERE ###\n", "    X_shortcut = X\n    ### START CODE HERE ###\n")],
     "the shortcut is the block's input X itself (X_shortcut = X, saved before the main path changes X)"),
    ("projection_with_2F_filters", [(BASIC_PROJECTION, BASIC_PROJECTION.replace("filters=F,", "filters=2 * F,"))],
     "the projection's 1x1 Conv2D has 4 filters; it needs 2 (filters), the main path's output channels"),
    ("relu_inside_conv2d", [(SECOND_3X3, SECOND_3X3.replace("padding='same',", "padding='same', activation='relu',"))],
     "Conv2D(..., activation='relu') applies a ReLU before the BatchNorm"),
    ("plus_instead_of_add_layer", [("X = Add()([X, X_shortcut])", "X = X + X_shortcut")],
     "write the addition as the layer Add()([X, X_shortcut]): the check of build_resnet reads your blocks' Add layers"),
    ("batchnorm_after_add", [(f"{SECOND_3X3}\n    {BN_LINE}\n", f"{SECOND_3X3}\n"),
                             (FINAL_RELU, f"{ADD}\n    {BN_LINE}\n    X = Activation('relu')(X)")],
     "the second BatchNormalization belongs on the main path, before the addition"),
    ("add_of_three_tensors", [("Add()([X, X_shortcut])", "Add()([X, X_shortcut, X_shortcut])")],
     "the addition adds 3 tensors; it adds exactly two"),
]

THIRD_1X1 = "X = Conv2D(filters=4 * F, kernel_size=1, strides=(1, 1), padding='valid', kernel_initializer=initializer(seed=0))(X)"
BOTTLENECK_PROJECTION = ("X_shortcut = Conv2D(filters=4 * F, kernel_size=1, strides=(s, s), padding='valid', "
                         "kernel_initializer=initializer(seed=0))(X_shortcut)")

BOTTLENECK = POST_ACTIVATION_COMMON + [
    ("projects_only_when_strided", [(PROJECT_IF_4F, "if s != 1:")], "the input has 3 channels and the block outputs 8"),
    ("always_projects", [(PROJECT_IF_4F, "if True:")], "the shortcut is the input itself"),
    ("third_conv_not_widened", [(THIRD_1X1, THIRD_1X1.replace("filters=4 * F", "filters=F"))],
     "widens back to 4 * filters"),
    ("stride_on_3x3", [("filters=F, kernel_size=1, strides=(s, s)", "filters=F, kernel_size=1, strides=(1, 1)"),
                       (SECOND_3X3, SECOND_3X3.replace("strides=(1, 1)", "strides=(s, s)"))],
     "belongs to the first Conv2D of the main path"),
    ("missing_relu_after_second_bn", [(f"{SECOND_3X3}\n    {BN_LINE}\n    X = Activation('relu')(X)\n",
                                       f"{SECOND_3X3}\n    {BN_LINE}\n")],
     "2 ReLU layers; found 3 and 1"),
    ("projects_only_when_channels_change", [(PROJECT_IF_4F, "if X_shortcut.shape[-1] != 4 * F:")], ONLY_WHEN_WIDENED),
    ("projection_with_F_filters", [(BOTTLENECK_PROJECTION, BOTTLENECK_PROJECTION.replace("filters=4 * F", "filters=F"))],
     "the projection's 1x1 Conv2D has 2 filters; it needs 8 (4 * filters), the main path's output channels"),
    ("batchnorm_without_scale", [(f"{SECOND_3X3}\n    {BN_LINE}", f"{SECOND_3X3}\n    {BN_LINE.replace('axis=3', 'axis=3, scale=False')}")],
     "drops the learned scale γ"),
    ("keras_ops_relu", [(FINAL_RELU, f"    from keras import ops\n{ADD}\n    X = ops.relu(X)")],
     "keras.ops.relu computes the right ReLU, but write it as the layer Activation('relu')"),
    ("batchnorm_after_add", [(f"{THIRD_1X1}\n    {BN_LINE}\n", f"{THIRD_1X1}\n"),
                             (FINAL_RELU, f"{ADD}\n    {BN_LINE}\n    X = Activation('relu')(X)")],
     "the third BatchNormalization belongs on the main path, before the addition"),
]

PREACT_ADD = "    X = Add()([X, X_shortcut])\n"
PREACT_SHORTCUT_F = ("X_shortcut = Conv2D(filters=F, kernel_size=1, strides=(s, s), padding='valid', "
                     "kernel_initializer=initializer(seed=0))(X)")
LAST_3X3 = "    # Second component: 3x3 convolution, straight into the addition\n    " + SECOND_3X3 + "\n"

PREACT_BASIC = [
    ("relu_after_add", [(PREACT_ADD, PREACT_ADD + "    X = Activation('relu')(X)\n")], "ends with the addition"),
    ("projection_reads_raw_input", [(PREACT_SHORTCUT_F, PREACT_SHORTCUT_F.replace("(X)", "(X_shortcut)"))],
     "reads the raw block input"),
    ("batchnorm_after_projection", [(PREACT_SHORTCUT_F, PREACT_SHORTCUT_F + "\n        X_shortcut = "
                                     "BatchNormalization(axis=3)(X_shortcut, training=training)")],
     "bare 1x1 Conv2D"),
    ("batchnorm_after_last_conv", [(LAST_3X3, LAST_3X3 + "    " + BN_LINE + "\n")], "feeds the addition directly"),
    ("never_projects", [(PROJECT_IF, "if False:")], "needs a projection"),
    ("post_activation_order", [("    X = Conv2D(filters=F, kernel_size=3, strides=(s, s), padding='same', "
                                "kernel_initializer=initializer(seed=0))(X)\n    " + BN_LINE + "\n    X = Activation('relu')(X)\n",
                                "    X = Conv2D(filters=F, kernel_size=3, strides=(s, s), padding='same', "
                                "kernel_initializer=initializer(seed=0))(X)\n    X = Activation('relu')(X)\n    " + BN_LINE + "\n")],
     "in the wrong order"),
    ("forgot_return", [("    return X", "    X")], "returned None"),
    ("training_flag_ignored", [("(X, training=training)", "(X)")], "`training` flag is ignored"),
    ("projection_without_stride", [(PREACT_SHORTCUT_F, PREACT_SHORTCUT_F.replace("strides=(s, s)", "strides=(1, 1)"))],
     "must use strides=(s, s) = (2, 2), like the first Conv2D of the main path"),
    ("identity_shortcut_after_preactivation", [(PROJECT_IF, "X_shortcut = X\n    " + PROJECT_IF)],
     "the identity shortcut must carry the block's input X itself, saved before the first BatchNorm -> ReLU"),
    ("projects_only_when_channels_change", [(PROJECT_IF, "if X_shortcut.shape[-1] != F:")], ONLY_WHEN_WIDENED),
    ("conv_without_bias", [(LAST_3X3, LAST_3X3.replace("padding='same',", "padding='same', use_bias=False,"))],
     "this course keeps Conv2D's default bias, as keras.applications' ResNet50 does, so the parameter counts"),
    ("keras_ops_add", [(PREACT_ADD, "    from keras import ops\n    X = ops.add(X, X_shortcut)\n")],
     "X + X_shortcut (keras.ops.add) computes the right sum, but write the addition as the layer Add()"),
]

PREACT_SHORTCUT_4F = PREACT_SHORTCUT_F.replace("filters=F,", "filters=4 * F,")
LAST_1X1 = "    # Third component: 1x1 convolution with 4F filters, straight into the addition\n    " + THIRD_1X1 + "\n"

PREACT_BOTTLENECK = [
    ("relu_after_add", [(PREACT_ADD, PREACT_ADD + "    X = Activation('relu')(X)\n")], "ends with the addition"),
    ("projection_reads_raw_input", [(PREACT_SHORTCUT_4F, PREACT_SHORTCUT_4F.replace("(X)", "(X_shortcut)"))],
     "reads the raw block input"),
    ("batchnorm_after_last_conv", [(LAST_1X1, LAST_1X1 + "    " + BN_LINE + "\n")], "feeds the addition directly"),
    ("projects_only_when_strided", [(PROJECT_IF_4F, "if s != 1:")], "the input has 3 channels and the block outputs 8"),
    ("third_conv_not_widened", [(THIRD_1X1, THIRD_1X1.replace("filters=4 * F", "filters=F"))],
     "widens back to 4 * filters"),
    ("forgot_return", [("    return X", "    X")], "returned None"),
    ("projection_without_stride", [(PREACT_SHORTCUT_4F, PREACT_SHORTCUT_4F.replace("strides=(s, s)", "strides=(1, 1)"))],
     "must use strides=(s, s) = (2, 2), like the first Conv2D of the main path"),
    ("identity_shortcut_after_preactivation", [(PROJECT_IF_4F, "X_shortcut = X\n    " + PROJECT_IF_4F)],
     "the identity shortcut must carry the block's input X itself, saved before the first BatchNorm -> ReLU"),
    ("projects_only_when_channels_change", [(PROJECT_IF_4F, "if X_shortcut.shape[-1] != 4 * F:")], ONLY_WHEN_WIDENED),
    ("projection_with_F_filters", [(PREACT_SHORTCUT_4F, PREACT_SHORTCUT_F)],
     "the projection's 1x1 Conv2D has 2 filters; it needs 8 (4 * filters), the main path's output channels"),
    ("initializer_without_seed", [(THIRD_1X1, THIRD_1X1.replace("initializer(seed=0)", "initializer()"))],
     "call initializer(seed=0), as the docstring says"),
]

STRIDE = "s = 2 if i == 0 and stage > 0 else 1"
BLOCK_CHOICE = ("    if kind == \"basic\":\n        block = preact_basic_block if preact else basic_block\n"
                "    else:\n        block = preact_bottleneck_block if preact else bottleneck_block\n")

BUILD = [
    ("stride_in_stage_2", [(STRIDE, "s = 2 if i == 0 else 1")], "stage 2 must keep the 16x16 image"),
    ("stride_in_every_block", [(STRIDE, "s = 2 if stage > 0 else 1")], "change inside a stage"),
    ("filters_do_not_double", [("filters = 64 * 2 ** stage", "filters = 64")], "the filters double"),
    ("filters_times_four_for_bottlenecks", [("filters = 64 * 2 ** stage",
                                             "filters = 64 * 2 ** stage * (4 if kind == 'bottleneck' else 1)")],
     "the filters double"),
    ("always_basic_blocks", [(BLOCK_CHOICE, "    block = preact_basic_block if preact else basic_block\n")],
     "uses bottleneck blocks (ResNet-50 and deeper)"),
    ("ignores_preact", [(BLOCK_CHOICE, BLOCK_CHOICE.replace(" if preact else basic_block", "").replace(
        "preact_basic_block", "basic_block").replace(" if preact else bottleneck_block", "").replace(
        "preact_bottleneck_block", "bottleneck_block"))], "with preact=True use the pre-activation blocks"),
    ("two_blocks_per_stage", [("for i in range(blocks):", "for i in range(2):")], "[3, 4, 6, 3] per stage"),
    ("one_stage_too_few", [("enumerate(repetitions)", "enumerate(repetitions[:3])")], "blocks"),
    ("relu_inside_stem_conv", [("strides=(2, 2), kernel_initializer=glorot_uniform(seed=0))(X)",
                                "strides=(2, 2), activation='relu', kernel_initializer=glorot_uniform(seed=0))(X)")],
     "Conv2D(..., activation='relu') applies a ReLU before the BatchNorm"),
]

PARAMS = "params = weights + (F + F + C) + 4 * (F + F + C)"
MACS = "macs = H * W * weights"
COST = [
    ("no_biases", [(PARAMS, "params = weights + 4 * (F + F + C)")], "a bias per filter"),
    ("batchnorm_two_per_channel", [("4 * (F + F + C)", "2 * (F + F + C)")], "the moving mean and variance"),
    ("no_batchnorm", [(PARAMS, "params = weights + (F + F + C)")], "BatchNormalization's numbers too"),
    ("three_by_three_as_three_weights", [("9 * F * F", "3 * F * F")], "9 weights per pair"),   # both are 11·F·F
    ("one_by_one_on_f_channels", [("weights = C * F + 9 * F * F + F * C", "weights = F * F + 9 * F * F + F * F")],
     "C·F weights each"),
    ("macs_count_biases", [(MACS, "macs = H * W * (weights + F + F + C)")], "biases only add"),
    ("macs_count_everything", [(MACS, "macs = H * W * params")], "leave the biases and BatchNorm out"),
    ("macs_per_position_missing", [(MACS, "macs = weights")], "H·W output positions"),
    ("returns_none", [(MACS, "macs = None")], "returned None"),
]

# Correct ways of writing the blocks that the checks must accept: {block: [(id, [(old, new), ...]), ...]}.
_POST_ALTERNATIVES = [
    ("relu_layer", [(FINAL_RELU, f"    from keras.layers import ReLU\n{ADD}\n    X = ReLU()(X)")]),
    ("tf_nn_relu", [(FINAL_RELU, f"    import tensorflow as tf\n{ADD}\n    X = Activation(tf.nn.relu)(X)")]),
    ("keras_activations_relu", [(FINAL_RELU, f"    import keras\n{ADD}\n    X = Activation(keras.activations.relu)(X)")]),
    ("functional_add", [(FINAL_RELU, "    import keras\n    X = keras.layers.add([X, X_shortcut])\n    X = Activation('relu')(X)")]),
    ("add_order_swapped", [("Add()([X, X_shortcut])", "Add()([X_shortcut, X])")]),
    ("batchnorm_axis_minus_1", [("BatchNormalization(axis=3)", "BatchNormalization(axis=-1)")]),
    ("same_padding_on_1x1", [("padding='valid'", "padding='same'")]),
    ("tuple_kernel_sizes", [("kernel_size=1,", "kernel_size=(1, 1),"), ("kernel_size=3,", "kernel_size=(3, 3),")]),
]
_PREACT_ALTERNATIVES = [
    ("relu_layer", [("X = Activation('relu')(X)", "X = __import__('keras').layers.ReLU()(X)")]),
    ("tf_nn_relu", [("X = Activation('relu')(X)", "X = Activation(__import__('tensorflow').nn.relu)(X)")]),
    ("functional_add", [("X = Add()([X, X_shortcut])", "X = __import__('keras').layers.add([X, X_shortcut])")]),
    ("add_order_swapped", [("Add()([X, X_shortcut])", "Add()([X_shortcut, X])")]),
    ("batchnorm_axis_minus_1", [("BatchNormalization(axis=3)", "BatchNormalization(axis=-1)")]),
    ("same_padding_on_1x1", [("padding='valid'", "padding='same'")]),
]
ALTERNATIVES = {"basic_block": _POST_ALTERNATIVES, "bottleneck_block": _POST_ALTERNATIVES,
                "preact_basic_block": _PREACT_ALTERNATIVES, "preact_bottleneck_block": _PREACT_ALTERNATIVES}

MISTAKES = {"basic_block": BASIC, "bottleneck_block": BOTTLENECK, "preact_basic_block": PREACT_BASIC,
            "preact_bottleneck_block": PREACT_BOTTLENECK, "build_resnet": BUILD, "bottleneck_cost": COST}
