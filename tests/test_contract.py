"""The student/instructor contract: students are a fresh release of the solutions, and nbval
passes the solutions, fails untouched student notebooks exactly at the graded checks, and
passes student notebooks with correct code written into their START/END regions."""
import json
import os
import shutil

import nbformat
import pytest

from resnets_course import judge
from resnets_utils import QUICK_ENV
from tools import release
from tests.notebook_tools import NOTEBOOKS, REPO, STUDENTS, code_cells, judged_cells, read, tagged

SOLUTIONS = release.solution_notebooks()


def test_there_are_graded_notebooks():
    assert any(tagged(read(p), "graded") for p in SOLUTIONS)


def test_student_notebooks_are_a_fresh_release(capsys):
    assert release.main(["--check"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_graded_exercise_has_tagged_checks(path):
    nb = read(path)
    for _, cell in tagged(nb, "graded"):
        exercise = cell.metadata.get("exercise")
        assert exercise, "a graded cell needs metadata 'exercise'"
        assert release.regions(cell.source), f"{exercise}: no START/END region"
        checks = tagged(nb, "check", exercise)
        assert any(f"check_{exercise.lower()}(" in c.source.lower() for _, c in checks), f"{exercise}: no check cell"
        assert all(c.outputs for _, c in checks), f"{exercise}: a check cell has no stored output"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_student_version_hides_the_solution_and_locks_the_checks(path):
    solution, student = read(path), read(STUDENTS / path.name)
    assert [c.cell_type for c in solution.cells] == [c.cell_type for c in student.cells]
    for (_, sol), (_, stu) in zip(tagged(solution, "graded"), tagged(student, "graded")):
        for (a, b), (c, d) in zip(release.regions(sol.source), release.regions(stu.source)):
            hidden = [line.strip() for line in sol.source.split("\n")[a:b] if line.strip() and not line.strip().startswith("#")]
            shown = "\n".join(stu.source.split("\n")[c:d])
            assert ("None" in shown or "pass  # (≈" in shown) and "(≈" in shown
            assert not any(line in shown for line in hidden), "solution code leaked into the student notebook"
    for _, cell in tagged(student, "check"):
        assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False
    assert all(not c.outputs and c.execution_count is None for c in code_cells(student)), "no pre-printed results"
    assert [c.id for c in code_cells(student)] == [c.id for c in code_cells(solution)], "the judge matches cells by id"


def test_the_release_is_stamped_and_its_judge_files_are_kept():
    """Every student notebook names its release; that release's judge files hold the solution's expected outputs
    (never its graded code), and every release ever stamped is still there, unchanged (its id is its hash)."""
    ids = {read(STUDENTS / p.name).metadata["course"]["release"] for p in SOLUTIONS}
    assert len(ids) == 1 and all(ids)
    index = judge.release_index()
    assert ids <= set(index["releases"]) and index["unstamped"] in index["releases"]
    for rid in index["releases"]:
        files = {p.stem: json.loads(p.read_text()) for p in (judge.RELEASES / rid).glob("*.json")}
        assert set(files) == set(index["releases"][rid]["notebooks"])
        assert release.release_id(files) == rid, f"release {rid} was changed after it was published"
    [rid] = ids
    for path in SOLUTIONS:
        data = judge.load_release(rid, path.stem)
        solution = code_cells(read(path))
        assert [c["id"] for c in data["cells"]] == [c.id for c in solution]
        for cell, sol in zip(data["cells"], solution):
            if cell["role"] == "graded":
                assert cell["source"] == release.blank_graded(sol.source) and cell["points"] > 0
            else:
                assert cell["source"] == sol.source and release._expected(sol.outputs) == cell["outputs"]


def test_blank_region_keeps_comments_and_hints_line_counts():
    lines = ["    # First component", "    X = Conv2D(2, 1)(X)", "    X = Activation('relu')(X)", "",
             "    # Shortcut", "    X_shortcut = Conv2D(2, 1)(X_shortcut)", "    X, Y = a, b", "    print(X)"]
    assert release.blank_region(lines) == [
        "    # First component", "    X = None  # (≈2 lines)", "", "    # Shortcut",
        "    X_shortcut = None  # (≈3 lines)", "    X, Y = None"]


def test_a_conditional_assignment_is_not_released_as_a_placeholder_that_overwrites_it():
    """Notebook 05's shortcut: `X_shortcut = X` above the region, `if ...: X_shortcut = ...` inside it. A
    `X_shortcut = None` placeholder would leave None on the identity path for a student who writes the `if`
    under it; the run is released as `pass` instead."""
    lines = ["    # Shortcut: when the shape changes", "    if s != 1:", "        X_shortcut = Conv2D(F, 1)(X_shortcut)",
             "        X_shortcut = BatchNormalization(axis=3)(X_shortcut)", "", "    X = Add()([X, X_shortcut])"]
    assert release.blank_region(lines) == ["    # Shortcut: when the shape changes", "    pass  # (≈3 lines)", "",
                                           "    X = None  # (≈1 line)"]
    source = read(NOTEBOOKS / "05_resnet_family.ipynb").cells[6].source
    released = release.blank_graded(source)
    assert "X_shortcut = X\n" in source and "X_shortcut = None" not in released, released


def test_fill_graded_restores_the_solution():
    src = "def f():\n    ### START CODE HERE ###\n    a = 1\n    ### END CODE HERE ###\n    return a"
    assert release.fill_graded(release.blank_graded(src), src) == src


@pytest.mark.parametrize("bad, problem", [
    ("### START CODE HERE ###\nx = 1", "never closed"),
    ("x = 1\n### END CODE HERE ###", "without"),
    ("### START CODE HERE ###\n### START CODE HERE ###", "nested"),
])
def test_broken_markers_are_reported(bad, problem):
    with pytest.raises(release.ReleaseError, match=problem):
        release.regions(bad)


def fill(student, solution):
    nb = read(student)
    sol = read(solution)
    for (_, cell), (_, sol_cell) in zip(tagged(nb, "graded"), tagged(sol, "graded")):
        cell.source = release.fill_graded(cell.source, sol_cell.source)
    return nb


def test_the_suite_trains_notebook_04_in_quick_mode_unless_asked_for_full_training(monkeypatch):
    """The suite's nbval run starts notebook 04's kernel in quick mode (one epoch on 64 images), and only
    that kernel: the variable is gone once the cell is set up. `--full-training` trains it in full."""
    import conftest

    class Item:
        def __init__(self, path, full):
            self.path = path
            self.config = type("Config", (), {"getoption": lambda self, name: full})()

    monkeypatch.delenv(QUICK_ENV, raising=False)
    seen = {}
    for name, full in [("notebooks/04_resnet50.ipynb", False), ("notebooks/04_resnet50.ipynb", True),
                       ("notebooks/02_identity_block.ipynb", False), ("notebooks/student/04_resnet50.ipynb", False)]:
        setup = conftest.pytest_runtest_setup(Item(REPO / name, full))
        next(setup)
        seen[name, full] = os.environ.get(QUICK_ENV)
        with pytest.raises(StopIteration):
            next(setup)
        assert QUICK_ENV not in os.environ, "quick mode leaked past the kernel's start"
    assert seen == {("notebooks/04_resnet50.ipynb", False): "1", ("notebooks/04_resnet50.ipynb", True): None,
                    ("notebooks/02_identity_block.ipynb", False): None,
                    ("notebooks/student/04_resnet50.ipynb", False): None}


# Other platforms' kernels, stood in for by TensorFlow without oneDNN on one thread: the last printed
# digits may change, and a correct notebook must still pass (numbers are judged with a tolerance).
OTHER_KERNELS = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
                 "OMP_NUM_THREADS": "1"}


def test_the_judge_fails_untouched_students_at_the_checks_and_passes_correct_code(tmp_path):
    """The judge (README's student command) fails untouched student notebooks exactly at the graded checks
    (and at the cells that use an unfinished exercise's result), and passes student notebooks with the
    correct code written in, here on other kernels (oneDNN off, one thread).

    Each variant lies in its own folder, as the course does, because later notebooks import the
    graded cells of earlier ones. Training runs in quick mode: this test is about the judging.
    """
    runs, expect = [], {}
    for variant in ("blank", "filled"):
        (tmp_path / variant).mkdir()
    for path in SOLUTIONS:
        shutil.copy(STUDENTS / path.name, tmp_path / "blank" / path.name)
        nbformat.write(fill(STUDENTS / path.name, path), tmp_path / "filled" / path.name)
        student = read(STUDENTS / path.name)
        checks = {i for i, _ in tagged(student, "check")}
        depends = {i for i, _ in tagged(student, "depends")}
        runs += [tmp_path / "blank" / path.name, tmp_path / "filled" / path.name]
        expect.update({f"blank/{path.name}": checks | depends, f"filled/{path.name}": set()})
    results, log = judged_cells(runs, tmp_path, env={QUICK_ENV: "1", **OTHER_KERNELS})
    for name, failing in expect.items():
        assert results[name]["ran"] == len(code_cells(read(tmp_path / name))), f"{name} was not run fully:\n{log[-2000:]}"
        assert set(results[name]["failed"]) == failing, (
            f"{name}: failing cells {sorted(results[name]['failed'])}, expected exactly {sorted(failing)}\n"
            f"{results[name]['why']}\n{log[-3000:]}")
    for name in expect:
        if name.startswith("blank/"):
            for cell, why in results[name]["why"].items():
                assert "Traceback" not in why and why.strip(), f"{name} cell {cell}: {why}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_cells_that_use_an_exercise_say_which(path):
    """A cell tagged 'depends' fails in an untouched student notebook; its exercise must be named."""
    nb = read(path)
    exercises = {c.metadata.get("exercise") for _, c in tagged(nb, "graded")} | {
        c.metadata.get("exercise") for _, c in tagged(nb, "check")}
    for _, cell in tagged(nb, "depends"):
        assert cell.metadata.get("exercise") in exercises, cell.source[:80]


def test_upgrade_moves_a_students_work_into_the_current_release(tmp_path):
    """A notebook from the release before ids, with the student's work and stored outputs, becomes the current
    release's notebook with the same graded code; the old file is kept."""
    old = read(NOTEBOOKS.parent / "tests" / "fixtures" / "02_identity_block-before-release-ids.json")
    [(_, sol)] = tagged(read(NOTEBOOKS / "02_identity_block.ipynb"), "graded")
    [(_, mine)] = tagged(old, "graded")
    mine.source = release.fill_graded(mine.source, sol.source) + "\n# my own note"
    path = tmp_path / "02_identity_block.ipynb"
    nbformat.write(old, path)
    assert release.main(["--upgrade", str(path)]) == 0
    new, current = read(path), read(STUDENTS / "02_identity_block.ipynb")
    assert new.metadata["course"]["release"] == current.metadata["course"]["release"]
    assert [c.source for c in code_cells(new) if "graded" in c.metadata.get("tags", [])] == [mine.source]
    assert [c.source for c in code_cells(new) if "graded" not in c.metadata.get("tags", [])] == [
        c.source for c in code_cells(current) if "graded" not in c.metadata.get("tags", [])]
    assert all(not c.outputs for c in code_cells(new))
    assert read(tmp_path / "02_identity_block.before-upgrade.ipynb") == old
    assert release.main(["--upgrade", str(tmp_path / "nothing.ipynb")]) == 1


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_student_notebooks_speak_of_resnets_not_of_the_test_suite(path):
    """The student path holds no nbval marker and no test-suite words (the judge files keep the markers)."""
    student = read(STUDENTS / path.name)
    text = "\n".join(c.source for c in student.cells)
    assert "NBVAL" not in text.upper()
    for words in ("test suite", "plumbing", "nbval", "pytest --nbval"):
        assert words not in text.lower(), f"{path.name}: {words!r} in the student notebook"
    released = judge.load_release(student.metadata["course"]["release"], path.stem)
    solution_markers = sum("NBVAL" in c.source for c in code_cells(read(path)))
    assert sum("NBVAL" in c["source"] for c in released["cells"]) == solution_markers, "the judge files keep them"


def test_notebook_04_reads_in_at_most_1800_words():
    """Its student version's Markdown, counted as \\w+ tokens (issue #32): room is left for the real photographs."""
    import re

    student = read(STUDENTS / "04_resnet50.ipynb")
    words = sum(len(re.findall(r"\w+", c.source)) for c in student.cells if c.cell_type == "markdown")
    assert words <= 1800, f"notebook 04's Markdown has {words} words"


def test_a_students_notebook_with_markers_is_not_counted_as_edited():
    """A notebook from an earlier release kept the markers in its cells; today's has none: neither is 'edited'."""
    cell = {"id": "x", "role": "depends", "source": "# NBVAL_IGNORE_OUTPUT\nplot(x)", "index": 0}
    release = {"cells": [cell]}
    for mine in ("# NBVAL_IGNORE_OUTPUT\nplot(x)", "plot(x)"):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(mine)])
        nb.cells[0].id = "x"
        steps, notes, _ = judge.plan(nb, release)
        assert not notes and steps[0].source == cell["source"], (mine, notes)
    nb.cells[0].source = "plot(y)"
    assert judge.plan(nb, release)[1], "a real edit is still reported"
