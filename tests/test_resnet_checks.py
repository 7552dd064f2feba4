"""check_resnet50 passes the solution's ResNet50 and names each common mistake in words."""
import json

import nbformat
import pytest

from resnets_course.checks import models as resnet_checks
from resnets_utils import CheckFailed, CourseError, import_exercise
from tests.notebook_tools import NOTEBOOKS, graded_source, read

SOLUTION = graded_source(read(NOTEBOOKS / "04_resnet50.ipynb"), "ResNet50")
IMPORTS = """from keras import Input, Model
from keras.initializers import glorot_uniform
from keras.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Flatten,
                          GlobalAveragePooling2D, MaxPooling2D, ZeroPadding2D)
"""

STEM_CONV = "X = Conv2D(64, (7, 7), strides=(2, 2), kernel_initializer=glorot_uniform(seed=0))"
STEM = f"    X = ZeroPadding2D((3, 3))(X_input)\n    {STEM_CONV}(X)"

# (id, edits to the solution, words the hint must contain)
MISTAKES = [
    ("stage5-typo", [("filters=[512, 512, 2048]", "filters=[256, 256, 2048]")], "typo"),
    ("stage2-stride-2", [("filters=[64, 64, 256], s=1", "filters=[64, 64, 256], s=2")], "conv2's convolutional block uses s=1"),
    ("stage3-stride-1", [("filters=[128, 128, 512], s=2", "filters=[128, 128, 512], s=1")], "halves the image with s=2"),
    ("no-average-pool", [("    X = AveragePooling2D((2, 2))(X)\n", "")], "average pooling is missing"),
    ("valid-max-pool", [("padding='same')(X)\n\n    # Stage 2", ")(X)\n\n    # Stage 2")], "padding='same'"),
    ("stage4-five-blocks", [("for _ in range(5):", "for _ in range(4):")], "should have 6 blocks"),
    ("stage4-wrong-filters", [("[256, 256, 1024], training", "[256, 128, 1024], training")], "[256, 256, 1024]"),
    ("identity-first", [("X = convolutional_block(X, f=3, filters=[128, 128, 512], s=2, training=training)\n"
                         "    for _ in range(3):",
                         "X = identity_block(X, 3, [128, 128, 128], training=training)\n"
                         "    X = convolutional_block(X, f=3, filters=[128, 128, 512], s=2, training=training)\n"
                         "    for _ in range(3):")], "must be a convolutional block"),
    ("no-softmax", [("activation='softmax', ", "")], "softmax"),
    ("returns-none", [("return Model(inputs=X_input, outputs=X)", "return None")], "returned None"),
    ("untouched", [("X = AveragePooling2D((2, 2))(X)", "X = None")], "a layer received None"),
    # Without the stem's padding the max-pool outputs 15x15 too: the hint must name the padding, not the max-pool.
    ("no-stem-padding", [(STEM, f"    {STEM_CONV}(X_input)")], "the stem's zero padding is missing"),
    ("stem-conv-padding-same", [(STEM, "    " + STEM_CONV.replace("strides=(2, 2),", "strides=(2, 2), padding='same',")
                                   + "(X_input)")], "the stem's zero padding is missing"),
    ("stem-padding-1", [("ZeroPadding2D((3, 3))", "ZeroPadding2D((1, 1))")], "should be ZeroPadding2D((3, 3))"),
    ("global-average-pool", [("X = AveragePooling2D((2, 2))(X)", "X = GlobalAveragePooling2D()(X)")],
     "GlobalAveragePooling2D averages the same 2x2 map, but this exercise asks for AveragePooling2D((2, 2)) then Flatten"),
    ("block-output-not-assigned", [("X = convolutional_block(X, f=3, filters=[128, 128, 512]",
                                    "convolutional_block(X, f=3, filters=[128, 128, 512]")],
     "or a block's output was not assigned back: X = convolutional_block(X, ...)"),
    ("stage4-with-stage3-filters", [("[256, 256, 1024]", "[256, 256, 512]")],
     "no block outputs the channels of stage conv4, and stage conv3 has 10 blocks instead of 4"),
    ("relu-inside-stem-conv", [(STEM_CONV, STEM_CONV.replace("strides=(2, 2),", "strides=(2, 2), activation='relu',"))],
     "Conv2D(..., activation='relu') applies a ReLU before the BatchNorm"),
    # Only ever called for 64x64x3 and 6 classes, these would pass: the check's second call shows them.
    ("hard-coded-input", [("X_input = Input(input_shape)", "X_input = Input((64, 64, 3))")],
     "the input is hard-coded. Use X_input = Input(input_shape)"),
    ("hard-coded-classes", [("Dense(classes,", "Dense(6,")], "the number of classes is hard-coded"),
]


def _relu_inside_convs(source):
    return source.replace("padding='same',", "padding='same', activation='relu',")


def _relu_layers(source):
    return source.replace("X = Activation('relu')(X)", "X = __import__('keras').layers.ReLU()(X)")


@pytest.fixture(scope="module")
def edited_blocks():
    """The solution's blocks, edited: {edit: {"identity_block": ..., "convolutional_block": ...}}."""
    out = {}
    for edit in (_relu_inside_convs, _relu_layers):
        namespace = {}
        for nb, name in (("02_identity_block.ipynb", "identity_block"),
                         ("03_convolutional_block.ipynb", "convolutional_block")):
            notebook = read(NOTEBOOKS / nb)
            exec(IMPORTS + "from keras.layers import Add\n" + edit(graded_source(notebook, name)), namespace)
        out[edit.__name__] = {k: namespace[k] for k in ("identity_block", "convolutional_block")}
    return out


def test_blocks_with_relu_layers_pass(edited_blocks, capsys):
    """keras.layers.ReLU() in the blocks makes the same ResNet-50: the table reads it as an Activation."""
    resnet_checks.check_resnet50(build(edited_blocks["_relu_layers"], SOLUTION))
    assert "All tests passed." in capsys.readouterr().out


def test_blocks_with_a_relu_inside_conv2d_fail(edited_blocks):
    with pytest.raises(CheckFailed, match=r"Conv2D\(\.\.\., activation='relu'\) applies a ReLU before the BatchNorm"):
        resnet_checks.check_resnet50(build(edited_blocks["_relu_inside_convs"], SOLUTION))


def test_stage_hint_uses_an_before_a_vowel():
    hint = resnet_checks._stage_hint("head", [["AveragePooling2D", [1, 1, 2048], 0]], [["Flatten", [2048], 0]])
    assert "an AveragePooling2D" in hint and "a Flatten" in hint


@pytest.fixture(scope="module")
def blocks():
    return {"identity_block": import_exercise("02_identity_block.ipynb", "identity_block", NOTEBOOKS),
            "convolutional_block": import_exercise("03_convolutional_block.ipynb", "convolutional_block", NOTEBOOKS)}


def build(blocks, source):
    namespace = dict(blocks)
    exec(IMPORTS + source, namespace)
    return namespace["ResNet50"]


def test_solution_passes(blocks, capsys):
    resnet_checks.check_resnet50(build(blocks, SOLUTION))
    out = capsys.readouterr().out
    assert "All tests passed." in out and "23,600,006            23,600,006" in out


@pytest.mark.parametrize("mistake, edits, hint", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistake_gets_its_hint(blocks, mistake, edits, hint):
    source = SOLUTION
    for old, new in edits:
        assert old in source, f"{mistake}: the solution no longer contains {old!r}"
        source = source.replace(old, new)
    with pytest.raises(CheckFailed) as caught:
        resnet_checks.check_resnet50(build(blocks, source))
    assert hint in str(caught.value), str(caught.value)


def test_reference_table_matches_keras_applications_param_count():
    table = json.loads(resnet_checks.REFERENCE.read_text())
    assert sum(row[2] for rows in table.values() for row in rows) == resnet_checks.TOTAL_PARAMS
    assert [len(rows) for rows in table.values()] == [5, 32, 42, 62, 32, 3]


def test_import_exercise_reads_graded_cells_only(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import math\nraise SystemExit('a non-graded cell must not run')"),
        nbformat.v4.new_code_cell("def f(x):\n    return math.sqrt(x)", metadata={"tags": ["graded"]}),
    ])
    nbformat.write(nb, tmp_path / "nb.ipynb")
    assert import_exercise("nb.ipynb", "f", tmp_path)(9) == 3


@pytest.mark.parametrize("cells, message", [
    (None, "was not found"),
    (["def f(:\n    pass"], "syntax error (line 1"),
    (["def g():\n    pass"], "defines no function f"),
    (["raise ValueError('boom')"], "failed: ValueError: boom"),
])
def test_import_exercise_errors_say_what_to_do(tmp_path, cells, message):
    if cells is not None:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c, metadata={"tags": ["graded"]}) for c in cells])
        nbformat.write(nb, tmp_path / "nb.ipynb")
    with pytest.raises(CourseError, match=message.replace("(", r"\(")):
        import_exercise("nb.ipynb", "f", tmp_path)


def test_import_exercise_rejects_a_file_that_is_not_a_notebook(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{not json")
    with pytest.raises(CourseError, match="not a readable notebook"):
        import_exercise("nb.ipynb", "f", tmp_path)


def test_check_training_asserts_the_target(monkeypatch, capsys):
    import inspect

    target = inspect.signature(resnet_checks.check_training).parameters["target"].default
    monkeypatch.delenv("RESNETS_QUICK", raising=False)
    with pytest.raises(CheckFailed, match=f"below {target}"):
        resnet_checks.check_training(target - 0.05)
    resnet_checks.check_training(target + 0.01)
    assert f"{target + 0.01:.3f} >= {target}" in capsys.readouterr().out
    monkeypatch.setenv("RESNETS_QUICK", "1")
    resnet_checks.check_training(0.2)
    assert "not compared" in capsys.readouterr().out
