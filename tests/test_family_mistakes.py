"""Notebook 05's checks: the solution passes, the stored expected values come from the solution, and
every catalogued mistake is caught with its hint (and fails nbval, for one mistake per exercise)."""
import nbformat
import pytest

from resnets_course.checks import blocks, models
from resnets_utils import CheckFailed
from tests import family_mistakes as fm
from tests.notebook_tools import NOTEBOOKS, code_cells, failing_cells, graded_source, namespace_for, read, tagged

NB = read(NOTEBOOKS / fm.NOTEBOOK)
CHECKS = {name: getattr(blocks if name in blocks.SPECS else models, f"check_{name}") for name in fm.MISTAKES}
FAMILY = [name for name in fm.MISTAKES if name in blocks.SPECS]
CASES = [(ex, m) for ex, mistakes in fm.MISTAKES.items() for m in mistakes]


def namespace(**replace):
    """The notebook's imports (names in `replace` replaced), its RESNET_STAGES table and its solution blocks."""
    ns = {**namespace_for(NB), **replace}
    [stages] = [c for c in code_cells(NB) if c.source.startswith("RESNET_STAGES")]
    exec(stages.source, ns)
    for _, cell in tagged(NB, "graded"):
        exec(cell.source, ns)
    return ns


def define(exercise, source):
    ns = namespace()
    exec(source, ns)
    return ns[exercise]


@pytest.mark.parametrize("exercise", fm.MISTAKES)
def test_the_solution_passes_the_check(exercise, capsys):
    CHECKS[exercise](define(exercise, graded_source(NB, exercise)))
    assert capsys.readouterr().out.strip() == "All tests passed."


@pytest.mark.parametrize("exercise", fm.MISTAKES)
def test_keras_own_batchnorm_code_passes_too(exercise, capsys):
    from resnets_course.keras_internals import fused_batchnorm

    with fused_batchnorm(False):
        CHECKS[exercise](namespace()[exercise])
    assert capsys.readouterr().out.strip() == "All tests passed."


def test_expected_numbers_come_from_the_solution():
    ns = namespace()
    for name in FAMILY:
        spec = blocks.SPECS[name]
        assert blocks.block_numbers(ns[name], spec) == blocks.EXPECTED_NUMBERS[name], name


def test_expected_parameter_counts_come_from_the_solution():
    build = namespace()["build_resnet"]
    for depth, preact in models.BUILD_CASES:
        model = build(depth, input_shape=models.BUILD_INPUT, classes=models.BUILD_CLASSES, preact=preact)
        assert model.count_params() == models.EXPECTED_PARAMS[depth, preact], (depth, preact)


def test_checks_run_a_strided_block_whose_channels_do_not_change():
    """Only the stride asks for a projection there, so a block that projects only when the channels change fails."""
    for name in FAMILY:
        spec = blocks.SPECS[name]
        assert any(case.s != 1 and case.channels == case.out_channels for case in spec.cases), spec.name


@pytest.mark.parametrize("exercise", [e for e in fm.MISTAKES if e != "build_resnet"])
def test_at_least_six_mistakes_per_exercise(exercise):
    assert len(fm.MISTAKES[exercise]) >= 6


@pytest.mark.parametrize("exercise, mistake", CASES, ids=[f"{e}-{m[0]}" for e, m in CASES])
def test_check_names_the_mistake(exercise, mistake):
    _, edits, hint = mistake
    wrong = define(exercise, fm.apply(graded_source(NB, exercise), edits))
    with pytest.raises(CheckFailed) as e:
        CHECKS[exercise](wrong)
    assert hint in str(e.value), f"expected the hint {hint!r}, got: {e.value}"
    assert e.value._render_traceback_() == [f"CheckFailed: {e.value}"]


ALTERNATIVES = [(ex, a) for ex, alternatives in fm.ALTERNATIVES.items() for a in alternatives]


@pytest.mark.parametrize("exercise, alternative", ALTERNATIVES, ids=[f"{e}-{a[0]}" for e, a in ALTERNATIVES])
def test_correct_alternatives_pass(exercise, alternative, capsys):
    """Other correct ways of writing a block (ReLU(), tf.nn.relu, keras.layers.add, axis=-1, ...) pass its check."""
    _, edits = alternative
    CHECKS[exercise](define(exercise, fm.apply(graded_source(NB, exercise), edits)))
    assert capsys.readouterr().out.strip() == "All tests passed."


def test_build_check_accepts_blocks_with_relu_layers(capsys):
    """Blocks that end with keras.layers.ReLU() instead of Activation('relu') make the same networks."""
    ns = namespace()
    for name in FAMILY:
        source = graded_source(NB, name).replace("Activation('relu')(X)", "__import__('keras').layers.ReLU()(X)")
        exec(source, ns)
    ns["build_resnet"].__globals__.update(ns)
    models.check_build_resnet(ns["build_resnet"])
    assert capsys.readouterr().out.strip() == "All tests passed."


def test_check_explains_a_function_that_returns_none():
    with pytest.raises(CheckFailed, match="returned None"):
        blocks.check_basic_block(lambda X, filters, s=1, training=False, initializer=None: None)
    with pytest.raises(CheckFailed, match="returned None"):
        models.check_build_resnet(lambda depth, input_shape=None, classes=None, preact=False: None)


def test_nbval_fails_on_a_mistake_in_each_exercise(tmp_path):
    """The first mistake of each exercise, written into the notebook (cut after that exercise's check
    cell, to keep this fast), makes nbval fail at that check cell and nowhere before it."""
    paths, expected = [], {}
    for exercise, mistakes in fm.MISTAKES.items():
        mid, edits, _ = mistakes[0]
        nb = read(NOTEBOOKS / fm.NOTEBOOK)
        [(_, cell)] = tagged(nb, "graded", exercise)
        cell.source = fm.apply(cell.source, edits)
        check = max(i for i, c in tagged(nb, "check", exercise) if "check_" in c.source)
        last = [c for c in nb.cells if c.cell_type == "code"][check]
        nb.cells = nb.cells[:nb.cells.index(last) + 1]
        path = tmp_path / f"{exercise}-{mid}.ipynb"
        path.write_text(nbformat.writes(nb))
        paths.append(path)
        expected[path.name] = {i for i, c in tagged(nb, "check", exercise)}
    results, log = failing_cells(paths, tmp_path)
    for name, want in expected.items():
        assert results[name]["ran"] > 0, f"nbval did not run {name}:\n{log[-2000:]}"
        assert set(results[name]["failed"]) == want, f"{name}: failed {results[name]['failed']}, expected {want}"


def test_the_cost_checks_formula_is_keras_count():
    """check_bottleneck_cost compares with a formula; on every case it checks, the formula is what Keras counts for a
    bottleneck block built from Keras layers (and what multiply_adds counts), and a wrong count is refused."""
    from resnets_course.counting import reference_bottleneck_cost

    for h, w, f in models.COST_CASES:
        params, macs = reference_bottleneck_cost(h, w, f)
        assert models._cost_hint(params, macs, h, w, f) is None, (h, w, f)
        assert models._cost_hint(params + 1, macs, h, w, f) and models._cost_hint(params, macs - 1, h, w, f)



def test_the_cost_check_is_not_fooled_by_numbers_that_equal_anything():
    """An int subclass whose == always says yes is counted by its value, and is not mistaken for None."""
    class Liar(int):
        def __eq__(self, other):
            return True
        __hash__ = int.__hash__

    with pytest.raises(CheckFailed, match="parameters for an input of 56x56x256 and F = 64: 1, expected 71,552"):
        models.check_bottleneck_cost(lambda H, W, F: (Liar(1), Liar(2)))
