"""The course as an nbgrader ``source/`` tree: ``python -m tools.release --nbgrader OUT/``.

An nbgrader course (OUT/ as its root) can then ``generate_assignment``, collect and ``autograde`` the
course's notebooks with nbgrader's own tools. The solution notebooks are the single source here too:

- a graded cell becomes a solution cell. Each run of code lines between ``### START CODE HERE ###`` and
  ``### END CODE HERE ###`` is wrapped in ``### BEGIN SOLUTION`` / ``### END SOLUTION``, after a
  "(≈N lines)" hint; the comments between runs stay, so students keep the course's guidance;
- an exercise's points go on one locked test cell: the check cell that calls the exercise's own check
  function (``check_identity_block(...)``), which raises ``CheckFailed`` on a wrong answer. nbgrader
  gives a test cell its points whenever it does not raise, so the cells that only print values
  (``out = ...``) carry no points;
- every other code cell is locked read-only: at autograde nbgrader runs it as released, as the judge does.

Notebook 04 imports the student's 02 and 03, so those three are one assignment. Helpers, data and the
student's own photo come from the course as installed (``pip install -r requirements.txt``); the
diagrams the notebooks show are copied beside them.
"""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import nbformat

from tools.release import LINK, REPO, SOLUTIONS, ReleaseError, relink, rewrite_regions, role, strip_answers, tags

ASSIGNMENTS = {
    "01_residual_equations": ["01_residual_equations"],
    "02_04_resnet50": ["02_identity_block", "03_convolutional_block", "04_resnet50"],
    "05_resnet_family": ["05_resnet_family"],
    "06_transfer_learning": ["06_transfer_learning"],
}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SCHEMA = 3
# Written only when OUT/ has no nbgrader_config.py of its own.
CONFIG = '''"""nbgrader settings for the ResNets course (written by `python -m tools.release --nbgrader`)."""
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "resnets"
# nbgrader stops a cell after 30 s by default. Notebook 04 trains ResNet-50 in one cell (about 10 minutes
# on two cores, twice that with two autograde runs side by side): give a cell 45 minutes. Or autograde
# with RESNETS_QUICK=1 in the environment: 04 then trains one epoch on 64 images (its ResNet50 check,
# which carries the points, is the same; its accuracy is then printed, not checked).
c.Execute.timeout = 2700
'''


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_code(line: str) -> bool:
    return bool(line.strip()) and not line.strip().startswith("#")


def _marked_region(lines: list[str]) -> list[str]:
    """A START/END region with each run of code lines in a solution block, its comments left outside.

    A comment followed by deeper-indented code belongs to the run above it (inside its ``if`` or ``for``),
    so that the student's version, with one stub per run, is still valid Python.
    """
    out: list[str] = []
    run: list[str] = []
    between: list[str] = []

    def close_run():
        if run:
            indent = run[0][: _indent(run[0])]
            count = sum(_is_code(line) for line in run)
            out.extend([f"{indent}# (≈{count} line{'s' if count > 1 else ''})", f"{indent}{BEGIN}", *run,
                        f"{indent}{END}"])
            run.clear()

    for line in lines:
        if not _is_code(line):
            between.append(line)
            continue
        if run and (not between or _indent(line) > _indent(run[0])):
            run.extend(between)
        else:
            close_run()
            out.extend(between)
        run.append(line)
        between = []
    close_run()
    return out + between


def with_solution_markers(source: str) -> str:
    """A graded cell's source with nbgrader's solution markers in its START/END CODE HERE regions."""
    return rewrite_regions(source, _marked_region)


def student_source(source: str, stub: str = "# YOUR CODE HERE\nraise NotImplementedError()") -> str:
    """What nbgrader's generate_assignment makes of a marked cell (each solution block becomes the stub)."""
    out, inside = [], False
    for line in source.split("\n"):
        if BEGIN in line:
            inside = True
            out += [line[: _indent(line)] + s for s in stub.split("\n")]
        elif END in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA, "solution": solution}
    if points is not None:
        meta["points"] = points
    return meta


def _calls_own_check(cell, exercise: str) -> bool:
    return re.search(rf"\bcheck_{re.escape(exercise.lower())}\(", cell.source) is not None


def nbgrader_notebook(nb):
    """An nbgrader source notebook from a solution notebook: solution, test and read-only cells, no outputs."""
    nb = copy.deepcopy(nb)
    graded = {c.metadata["exercise"]: c.metadata.get("points", 0) for c in nb.cells if "graded" in tags(c)}
    scored = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            # images/ sits beside the notebook; the answers to the Questions stay out of what students get
            cell.source = relink(strip_answers(cell.source), SOLUTIONS, REPO)
            continue
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        exercise, kind = cell.metadata.get("exercise"), role(cell)
        if kind == "graded":
            cell.source = with_solution_markers(cell.source)
            cell.metadata["nbgrader"] = _nbgrader(exercise, solution=True)
        elif kind == "check" and exercise in graded and exercise not in scored and _calls_own_check(cell, exercise):
            scored.add(exercise)
            cell.metadata["nbgrader"] = _nbgrader(f"{exercise}_test", grade=True, locked=True, points=graded[exercise])
        else:
            cell.metadata["nbgrader"] = _nbgrader(f"{kind}_{index}", locked=True)
    unscored = sorted(set(graded) - scored)
    if unscored:
        raise ReleaseError(f"no check cell calls check_<exercise>() for {', '.join(unscored)}: nbgrader would have "
                           f"no cell that raises on a wrong answer to give its points to")
    return nb


def points_of(nb) -> dict[str, float]:
    """grade_id -> points of an nbgrader notebook's test cells."""
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def _images(nb) -> set[str]:
    """The repository-relative image files a notebook's markdown shows (after relinking)."""
    found = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for _, target in LINK.findall(cell.source):
                path = target.partition("#")[0]
                if path.startswith("images/") and (REPO / path).is_file():
                    found.add(path)
    return found


def export(out: Path) -> dict[str, list[Path]]:
    """Write OUT/source/<assignment>/ for every assignment (and OUT/nbgrader_config.py if there is none)."""
    out = Path(out)
    source = out / "source"
    taken = [a for a in ASSIGNMENTS if (source / a).exists()]
    if taken:
        raise ReleaseError(f"{source} already holds {', '.join(taken)}: give a new folder, or remove them first.")
    names = [p.stem for p in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))]
    placed = [n for notebooks in ASSIGNMENTS.values() for n in notebooks]
    if sorted(placed) != names:
        raise ReleaseError(f"the nbgrader assignments hold {sorted(placed)}, the course has {names}")
    written, total, course_points = {}, 0, 0
    for assignment, notebooks in ASSIGNMENTS.items():
        folder = source / assignment
        folder.mkdir(parents=True)
        written[assignment] = []
        for name in notebooks:
            solution = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
            course_points += sum(c.metadata.get("points", 0) for c in solution.cells if "graded" in tags(c))
            nb = nbgrader_notebook(solution)
            total += sum(points_of(nb).values())
            for image in _images(nb):
                (folder / image).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO / image, folder / image)
            path = folder / f"{name}.ipynb"
            nbformat.write(nb, path)
            written[assignment].append(path)
    if total != course_points:
        raise ReleaseError(f"the nbgrader test cells carry {total} points, the course's graded cells {course_points}")
    if not (out / "nbgrader_config.py").exists():
        (out / "nbgrader_config.py").write_text(CONFIG)
    return written
