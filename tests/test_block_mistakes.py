"""Every catalogued mistake is caught by the in-notebook check, with its hint, and fails nbval."""
import numpy as np
import pytest

from resnets_utils import CheckFailed, check_convolutional_block, check_identity_block
from tests import block_mistakes as bm
from tests.notebook_tools import NOTEBOOKS, code_cells, graded_source, namespace_for, read, failing_cells, tagged

CHECKS = {"identity_block": check_identity_block, "convolutional_block": check_convolutional_block}
CASES = [(ex, m) for ex, mistakes in bm.MISTAKES.items() for m in mistakes]


def define(exercise, source, **replace):
    """`exercise` defined by `source` after the notebook's imports (names in `replace` replaced)."""
    nb = read(NOTEBOOKS / bm.NOTEBOOK[exercise])
    ns = {**namespace_for(nb), **replace}
    exec(source, ns)
    return ns[exercise]


@pytest.mark.parametrize("exercise", bm.MISTAKES)
def test_at_least_ten_mistakes_per_block(exercise):
    assert len(bm.MISTAKES[exercise]) >= 10


@pytest.mark.parametrize("exercise", bm.MISTAKES)
def test_the_solution_passes_the_check(exercise, capsys):
    nb = read(NOTEBOOKS / bm.NOTEBOOK[exercise])
    CHECKS[exercise](define(exercise, graded_source(nb, exercise)))
    assert capsys.readouterr().out.strip() == "All tests passed."


@pytest.mark.parametrize("exercise", bm.MISTAKES)
def test_expected_numbers_come_from_the_solution(exercise):
    import numpy as np

    from resnets_course.checks import blocks

    nb = read(NOTEBOOKS / bm.NOTEBOOK[exercise])
    got = blocks.block_numbers(define(exercise, graded_source(nb, exercise)), blocks.SPECS[exercise])
    for key, want in blocks.EXPECTED_NUMBERS[exercise].items():
        np.testing.assert_allclose(got[key], want, rtol=1e-4, atol=1e-4, err_msg=str(key))


@pytest.mark.parametrize("exercise", bm.MISTAKES)
def test_keras_own_batchnorm_code_passes_too(exercise, capsys):
    """Without the fused kernel (another backend, or a Keras the course cannot patch) the solution still passes."""
    from resnets_course.keras_internals import fused_batchnorm

    nb = read(NOTEBOOKS / bm.NOTEBOOK[exercise])
    with fused_batchnorm(False):
        CHECKS[exercise](define(exercise, graded_source(nb, exercise)))
    assert capsys.readouterr().out.strip() == "All tests passed."


@pytest.mark.parametrize("exercise, mistake", CASES, ids=[f"{e}-{m[0]}" for e, m in CASES])
def test_check_names_the_mistake(exercise, mistake):
    _, edits, hint = mistake
    nb = read(NOTEBOOKS / bm.NOTEBOOK[exercise])
    wrong = define(exercise, bm.apply(graded_source(nb, exercise), edits))
    with pytest.raises(CheckFailed) as e:
        CHECKS[exercise](wrong)
    assert hint in str(e.value), f"expected the hint {hint!r}, got: {e.value}"
    # The notebook shows the message alone, never a Keras traceback.
    assert e.value._render_traceback_() == [f"CheckFailed: {e.value}"]


ALTERNATIVES = [(ex, a) for ex in bm.MISTAKES for a in bm.ALTERNATIVES]


@pytest.mark.parametrize("exercise, alternative", ALTERNATIVES, ids=[f"{e}-{a[0]}" for e, a in ALTERNATIVES])
def test_correct_alternatives_pass(exercise, alternative, capsys):
    """Other correct ways of writing the block (keras.layers.add, ReLU(), axis=-1, ...) pass the check."""
    _, edits = alternative
    nb = read(NOTEBOOKS / bm.NOTEBOOK[exercise])
    CHECKS[exercise](define(exercise, bm.apply(graded_source(nb, exercise), edits)))
    assert capsys.readouterr().out.strip() == "All tests passed."


def test_structure_only_cases_are_not_compared_numerically():
    """The second calls of 02 and 03 (three different filters; s = 1) are checked layer by layer only:
    the stored numbers stay the 2021 assignment's, and the message's "the ... shortcut" counts numbered calls."""
    from resnets_course.checks import blocks

    for exercise in bm.MISTAKES:
        spec = blocks.SPECS[exercise]
        assert spec.cases[0].numbers and not spec.cases[1].numbers, exercise
        assert {label for label, _ in blocks.EXPECTED_NUMBERS[exercise]} == {spec.cases[0].label}, exercise
    identity = blocks.SPECS["identity_block"].cases[1]
    assert len({f for f, _ in identity.convs}) == 3
    assert blocks.SPECS["convolutional_block"].cases[1].s == 1


def test_the_initializer_must_be_called_with_seed_0():
    from resnets_course.checks.blocks import InitializerMisused, ones_initializer

    assert ones_initializer(seed=0) is not None and ones_initializer(0) is not None
    for args, kwargs, words in [(((2, 2),), {"dtype": "float32"}, "call the initializer"),
                                ((), {"shape": (2,)}, "call the initializer"),
                                ((), {}, "initializer(seed=0), as the docstring says"),
                                ((), {"seed": 1}, "initializer(seed=0), as the docstring says")]:
        with pytest.raises(InitializerMisused, match=words.replace("(", r"\(").replace(")", r"\)")):
            ones_initializer(*args, **kwargs)


@pytest.mark.parametrize("edit, words", [
    (("Add()([X, X_shortcut])", "Add()(X, X_shortcut)"), "at `X = Add()(X, X_shortcut)`: Add takes one list"),
    (("(X, training=training)", "(X, training)"), "at `X = BatchNormalization(axis=3)(X, training)`: pass training as"),
], ids=["add-call", "training-by-position"])
def test_the_output_cell_says_where_the_block_raised_in_one_line(edit, words):
    """The cell that prints the block's output shows the student's line and Keras's words explained, not a
    traceback (the check cell after it gives the full hint)."""
    from resnets_utils import block_output

    import linecache

    nb = read(NOTEBOOKS / bm.NOTEBOOK["identity_block"])
    source = bm.apply(graded_source(nb, "identity_block"), [edit])
    cell = "/tmp/ipykernel_0/identity_block.py"   # as Jupyter names a cell's code, and keeps its lines
    linecache.cache[cell] = (len(source), None, source.splitlines(True), cell)
    namespace = namespace_for(nb)
    exec(compile(source, cell, "exec"), namespace)
    wrong = namespace["identity_block"]
    X = np.zeros((3, 4, 4, 6), np.float32)
    with pytest.raises(CheckFailed) as e:
        block_output(wrong, X, f=2, filters=[2, 4, 6], training=False)
    assert str(e.value).startswith("identity_block raised ") and words in str(e.value), str(e.value)
    assert e.value._render_traceback_() == [f"CheckFailed: {e.value}"]
    right = define("identity_block", graded_source(nb, "identity_block"))
    assert block_output(right, X, f=2, filters=[2, 4, 6], training=False).shape == (3, 4, 4, 6)


def test_nbval_fails_on_every_mistake(tmp_path):
    """Each mistake, written into the solution notebook, makes nbval fail at that exercise's check cell."""
    paths, expected = [], {}
    for exercise, (mid, edits, _) in CASES:
        nb = read(NOTEBOOKS / bm.NOTEBOOK[exercise])
        [(_, cell)] = tagged(nb, "graded", exercise)
        cell.source = bm.apply(cell.source, edits)
        path = tmp_path / f"{exercise}-{mid}.ipynb"
        path.write_text(__import__("nbformat").writes(nb))
        paths.append(path)
        expected[path.name] = {i for i, c in tagged(nb, "check", exercise) if "check_" in c.source}
    # 74 short notebooks, each mostly a kernel's start-up: two processes side by side use both cores.
    results, log = failing_cells(paths, tmp_path, jobs=2)
    for name, want in expected.items():
        failed = set(results[name]["failed"])
        assert results[name]["ran"] > 0, f"nbval did not run {name}:\n{log[-2000:]}"
        assert want <= failed, f"{name}: the check cell {want} did not fail under nbval (failed: {failed})"
