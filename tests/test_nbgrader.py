"""The nbgrader export (`python -m tools.release --nbgrader OUT/`): its cells, and a real nbgrader round trip.

nbgrader (pinned in requirements-dev.txt) generates the student version of the 02-04 assignment and
autogrades four submissions of notebook 02: correct code, code with wrong values, untouched (blank), and
untouched with its check cell replaced by a `pass` (nbgrader restores locked cells). Only the correct one
may earn the identity block's points.
"""
import ast
import subprocess
import sys

import nbformat
import pytest

from tests import block_mistakes
from tests.notebook_tools import NOTEBOOKS, read
from tools import nbgrader_export as export
from tools.release import main as release_main

ASSIGNMENT = "02_04_resnet50"
NAME = "02_identity_block"
EXERCISE = "identity_block"


def course_points():
    return {c.metadata["exercise"]: c.metadata["points"] for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
            for c in read(path).cells if "graded" in c.metadata.get("tags", [])}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("nbgrader")
    assert release_main(["--nbgrader", str(out)]) == 0
    return out


def exported_notebooks(out):
    return {p.stem: read(p) for p in sorted((out / "source").glob("*/*.ipynb"))}


def test_points_sit_only_on_locked_cells_that_call_the_exercises_check(exported):
    points = course_points()
    scored = {}
    for name, nb in exported_notebooks(exported).items():
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), name
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if cell.cell_type == "code":
                assert meta and meta["schema_version"] == 3, (name, cell.source[:80])
                assert meta["solution"] == ("graded" in cell.metadata.get("tags", [])), (name, cell.source[:80])
                assert meta["locked"] != meta["solution"], (name, cell.source[:80])   # all but solutions run as released
            if meta and meta.get("grade"):
                exercise = cell.metadata["exercise"]
                assert f"check_{exercise.lower()}(" in cell.source and "check" in cell.metadata["tags"], cell.source
                scored[exercise] = scored.get(exercise, 0) + meta["points"]
    assert scored == points and sum(scored.values()) == 110


def test_the_answers_to_the_questions_stay_out(exported):
    """nbgrader gives students the source's markdown as it is, so the export leaves the answers out."""
    solutions = "".join(c.source for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") for c in read(p).cells)
    assert "<summary>Answer</summary>" in solutions
    for name, nb in exported_notebooks(exported).items():
        assert not any("<summary>Answer</summary>" in c.source for c in nb.cells), name


def test_the_student_version_keeps_the_guides_and_compiles(exported):
    for name, nb in exported_notebooks(exported).items():
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                student = export.student_source(cell.source)
                ast.parse(student)   # one stub per run of code, valid Python even inside an if or a for
                assert "### START CODE HERE ###" in student and "raise NotImplementedError()" in student
                assert export.BEGIN not in student and "(≈" in student, student
                kept = [line for line in cell.source.split("\n") if line.strip().startswith("# ") and "(≈" not in line]
                assert all(line in student for line in kept), name   # the course's comments stay


def test_an_assignment_holds_the_notebooks_it_imports_and_the_images_it_shows(exported):
    folder = exported / "source" / ASSIGNMENT
    assert sorted(p.name for p in folder.glob("*.ipynb")) == [f"{n}.ipynb" for n in export.ASSIGNMENTS[ASSIGNMENT]]
    assert (folder / "images" / "identity_block.png").is_file()
    markdown = "".join(c.source for c in read(folder / f"{NAME}.ipynb").cells if c.cell_type == "markdown")
    assert "](images/identity_block.png)" in markdown and "../images" not in markdown
    assert "c.Execute.timeout = 2700" in (exported / "nbgrader_config.py").read_text()
    assert release_main(["--nbgrader", str(exported)]) == 1   # never overwrites an instructor's assignments


# ------------------------------------------------------------------------------------------------
# The round trip through nbgrader itself
# ------------------------------------------------------------------------------------------------

def nbgrader(course, *args):
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout + proc.stderr


def filled(release_nb, source_nb, mistakes=()):
    """The released notebook with the solution's code in its solution cells (and ``mistakes`` applied)."""
    nb = nbformat.from_dict(release_nb)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_nb.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            code = "\n".join(line for line in solutions[grade_id].split("\n")
                             if export.BEGIN not in line and export.END not in line)
            for old, new in mistakes:
                assert old in code, old
                code = code.replace(old, new)
            cell.source = code
    return nb


def with_test_cell_replaced(release_nb, grade_id, source):
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return nb


@pytest.fixture(scope="module")
def autograded(exported):
    pytest.importorskip("nbgrader", reason="nbgrader is not installed: python3 -m pip install -r requirements-dev.txt")
    from nbgrader.api import Gradebook

    for assignment in export.ASSIGNMENTS:
        nbgrader(exported, "generate_assignment", assignment, "--force")
    released = read(exported / "release" / ASSIGNMENT / f"{NAME}.ipynb")
    source = read(exported / "source" / ASSIGNMENT / f"{NAME}.ipynb")
    [wrong_values] = [edits for key, edits, _ in block_mistakes.IDENTITY if key == "relu_before_add"]
    submissions = {
        "correct": filled(released, source),
        "wrong": filled(released, source, wrong_values),
        "blank": released,
        "silenced": with_test_cell_replaced(released, f"{EXERCISE}_test", "pass"),
    }
    for student, nb in submissions.items():
        folder = exported / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{NAME}.ipynb")
    nbgrader(exported, "autograde", ASSIGNMENT, "--force")
    with Gradebook(f"sqlite:///{exported / 'gradebook.db'}") as gb:
        scores = {student: gb.find_grade(f"{EXERCISE}_test", NAME, ASSIGNMENT, student).score for student in submissions}
        course_max = sum(gb.find_assignment(a).max_score for a in export.ASSIGNMENTS)
        released_cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in released.cells
                          if c.metadata.get("nbgrader", {}).get("solution")}
    return scores, course_max, released_cells, source


def test_nbgrader_gives_the_points_to_correct_code_only(autograded):
    scores, course_max, _, _ = autograded
    points = course_points()
    assert scores["correct"] == points[EXERCISE] > 0
    assert scores["wrong"] == 0 and scores["blank"] == 0
    assert scores["silenced"] == 0   # the locked check ran as released, not as the student's `pass`
    assert course_max == sum(points.values()) == 110


def test_nbgrader_makes_the_student_version_the_export_expects(autograded):
    _, _, released_cells, source = autograded
    expected = {c.metadata["nbgrader"]["grade_id"]: export.student_source(c.source) for c in source.cells
                if c.metadata.get("nbgrader", {}).get("solution")}
    assert released_cells == expected
