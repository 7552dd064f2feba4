"""Make the student release from the solution notebooks (the single source).

    python -m tools.release                       # notebooks/student/*.ipynb and the release's judge files
    python -m tools.release --check               # exit 1 if the committed release is out of date
    python -m tools.release --student-bundle OUT/ # what an instructor publishes to students
    python -m tools.release --upgrade OLD.ipynb   # a student's work moved into the current release
    python -m tools.release --nbgrader OUT/       # an nbgrader source/ tree (tools/nbgrader_export.py)

In cells tagged `graded`, the code between `### START CODE HERE ###` and `### END CODE HERE ###`
becomes placeholders: comments stay (they guide), each run of code lines becomes one `None`
assignment per name it assigned, with a "(≈N lines)" hint, or a `pass` with the hint where the run assigns
only inside an `if` or a loop (a `None` there would overwrite the value set above the region). Student notebooks store no outputs at
all and no nbval markers (`# NBVAL_IGNORE_OUTPUT`: the judge files keep them); check cells are locked
against editing and deletion; the answers to the Questions
(`<details><summary>Answer</summary> ... </details>` in Markdown) are left out; links to images and files
are rewritten for the student folder.

The release itself, what a student's work is judged by, is one judge file per notebook in
`resnets_course/releases/<id>/`: every code cell's id, role, source (graded cells as released to the
student), expected outputs and execution count, the exercises' points, and the numeric tolerance.
The id is a hash of those files and is stamped in every student notebook's metadata, so a
submission is always judged by the release it came from; earlier releases stay in the folder.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import sys
from datetime import date
from pathlib import Path

import nbformat

from resnets_course.environment import FIGURE4_RESULT
from resnets_course.judge import RELEASES, TOLERANCE, without_test_markers

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "notebooks"
STUDENTS = SOLUTIONS / "student"
START, END = "### START CODE HERE ###", "### END CODE HERE ###"
ASSIGNED = re.compile(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)")
# Markdown links and images, and HTML src/href attributes: (prefix, target)
LINK = re.compile(r"(\]\(|(?:src|href)=\")([^)\"\s]+)")
# The answers to a notebook's Questions, for self-study readers of the solutions; students get the questions only.
ANSWER = re.compile(r"\n*<details><summary>Answer</summary>.*?</details>[ \t]*", re.S)


class ReleaseError(Exception):
    pass


def regions(source: str) -> list[tuple[int, int]]:
    """(start, end) line indices of each START/END marker pair, markers excluded."""
    lines = source.split("\n")
    found, opened = [], None
    for i, line in enumerate(lines):
        if line.strip() == START:
            if opened is not None:
                raise ReleaseError(f"nested {START} at line {i + 1}")
            opened = i
        elif line.strip() == END:
            if opened is None:
                raise ReleaseError(f"{END} without {START} at line {i + 1}")
            found.append((opened + 1, i))
            opened = None
    if opened is not None:
        raise ReleaseError(f"{START} at line {opened + 1} is never closed")
    return found


def _placeholders(group: list[str]) -> list[str]:
    """One run of code lines -> None assignments for the names it assigns, with a line-count hint."""
    indent = re.match(r"\s*", group[0]).group(0)
    names = []
    for line in group:
        m = ASSIGNED.match(line)
        # Only what the run always assigns: a name assigned inside an `if` (deeper indented) keeps its value
        # from above the run when the condition is false, so a `None` placeholder would overwrite it.
        if m and m.group(1) not in names and re.match(r"\s*", line).group(0) == indent:
            names.append(m.group(1))
    hint = f"  # (≈{len(group)} line{'s' if len(group) > 1 else ''})"
    if not names:
        return [f"{indent}pass{hint}"]
    return [f"{indent}{name} = None{hint if k == 0 else ''}" for k, name in enumerate(names)]


def blank_region(lines: list[str]) -> list[str]:
    out, group = [], []
    for line in lines + [""]:
        code = line.strip() and not line.strip().startswith("#")
        if code:
            group.append(line)
            continue
        if group:
            out += _placeholders(group)
            group = []
        out.append(line)
    return out[:-1]


def rewrite_regions(source: str, rewrite) -> str:
    """A graded cell's source with the lines of each START/END region (markers excluded) passed through ``rewrite``."""
    lines = source.split("\n")
    spans = regions(source)
    if not spans:
        raise ReleaseError("a cell tagged 'graded' has no START CODE HERE region")
    for start, end in reversed(spans):
        lines[start:end] = rewrite(lines[start:end])
    return "\n".join(lines)


def blank_graded(source: str) -> str:
    return rewrite_regions(source, blank_region)


def fill_graded(student_source: str, solution_source: str) -> str:
    """Put the solution's code into the student's START/END regions (what a correct student writes)."""
    lines = student_source.split("\n")
    sol = solution_source.split("\n")
    mine, theirs = regions(student_source), regions(solution_source)
    if len(mine) != len(theirs):
        raise ReleaseError("student and solution cells have different numbers of START/END regions")
    for (s0, s1), (t0, t1) in reversed(list(zip(mine, theirs))):
        lines[s0:s1] = sol[t0:t1]
    return "\n".join(lines)


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def role(cell) -> str:
    for tag in ("graded", "check", "depends"):
        if tag in tags(cell):
            return tag
    return "setup"


def solution_notebooks():
    return sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))


# ------------------------------------------------------------------------------------------------
# The judge files
# ------------------------------------------------------------------------------------------------

def _expected(outputs) -> list[dict]:
    """What the judge compares of a cell's stored outputs: text only (figures are not compared)."""
    kept = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            kept.append({"output_type": "stream", "name": out["name"], "text": "".join(out["text"])})
        elif kind in ("execute_result", "display_data") and "text/plain" in out.get("data", {}):
            kept.append({"output_type": kind, "data": {"text/plain": "".join(out["data"]["text/plain"])}})
        elif kind == "error":
            kept.append({"output_type": "error", "ename": out["ename"], "evalue": out["evalue"]})
    return kept


def judge_file(nb, name: str) -> dict:
    """The release of one solution notebook, as the judge reads it."""
    cells = []
    for index, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        kind = role(cell)
        entry = {"index": index, "id": cell.get("id"), "role": kind, "exercise": cell.metadata.get("exercise"),
                 "source": blank_graded(cell.source) if kind == "graded" else cell.source,
                 "execution_count": index + 1,
                 "outputs": [] if kind == "graded" else _expected(cell.outputs)}
        if kind == "graded":
            entry["points"] = cell.metadata.get("points", 0)
        cells.append(entry)
    # Whether the notebook shortens its own run in quick mode (notebook 04's training): grading says so in its rows.
    quick = any("quick_run()" in cell.source for cell in nb.cells if cell.cell_type == "code")
    return {"format": 1, "notebook": name, "tolerance": TOLERANCE, "reads_quick_mode": quick, "cells": cells}


def release_id(files: dict[str, dict]) -> str:
    canonical = json.dumps(files, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(canonical).hexdigest()[:12]


def judge_files(paths=None) -> dict[str, dict]:
    return {p.stem: judge_file(nbformat.read(p, as_version=4), p.stem) for p in (paths or solution_notebooks())}


def render_json(data) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------------
# The student notebooks
# ------------------------------------------------------------------------------------------------

def relink(markdown: str, source_dir: Path, target_dir: Path) -> str:
    """Rewrite relative links of a notebook moved from ``source_dir`` to ``target_dir``.

    Links to course notebooks stay as they are: a student's notebook links to the student's next one.
    """
    names = {p.name for p in solution_notebooks()}

    def fix(match):
        prefix, target = match.groups()
        path, _, anchor = target.partition("#")
        if not path or re.match(r"^[a-z]+:", path) or path.startswith("/") or path in names:
            return match.group(0)
        moved = os.path.relpath(os.path.normpath(source_dir / path), target_dir).replace(os.sep, "/")
        return prefix + moved + (f"#{anchor}" if anchor else "")

    return LINK.sub(fix, markdown)


def strip_answers(markdown: str) -> str:
    """Markdown without its collapsed answers (``<details><summary>Answer</summary> ... </details>``)."""
    return ANSWER.sub("", markdown)


def release(nb, release: str = "", folder: Path | None = STUDENTS):
    """The student version of a solution notebook, to be saved in ``folder``.

    ``folder=None``: saved where the solution is in the course's layout (the student bundle's notebooks/),
    so links stay as they are.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "markdown":
            cell.source = strip_answers(cell.source)
        if cell.cell_type == "markdown" and folder is not None:
            cell.source = relink(cell.source, SOLUTIONS, folder)
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = []   # no pre-printed results: a student sees only what their own run prints
        cell.source = without_test_markers(cell.source)   # nbval's words; the judge files keep them
        if "graded" in tags(cell):
            cell.source = blank_graded(cell.source)
        if "check" in tags(cell):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    nb.metadata["course"] = {"student_version": True, "release": release,
                             "note": "Generated by `python -m tools.release` from the solution notebook; "
                                     "fill in the START CODE HERE regions. Only the graded cells are "
                                     "judged: every other cell runs as released."}
    return nb


def render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def planned_release():
    """(release id, {notebook: judge file}, {student path: text}) for the solution notebooks as they are."""
    files = judge_files()
    rid = release_id(files)
    students = {STUDENTS / f"{name}.ipynb": render(release(nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4), rid))
                for name in files}
    return rid, files, students


def _index() -> dict:
    path = RELEASES / "index.json"
    return json.loads(path.read_text()) if path.exists() else {"releases": {}}


def write_release() -> str:
    rid, files, students = planned_release()
    folder = RELEASES / rid
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / f"{name}.json").write_text(render_json(data))
    index = _index()
    if rid not in index["releases"]:
        index["releases"][rid] = {"date": date.today().isoformat(), "notebooks": sorted(files)}
        (RELEASES / "index.json").write_text(render_json(index))
    STUDENTS.mkdir(exist_ok=True)
    for path, text in students.items():
        path.write_text(text)
        print("wrote", path.relative_to(REPO))
    print(f"release {rid}: {folder.relative_to(REPO)}")
    return rid


def check_release() -> list[str]:
    """What is out of date in the committed release (empty if nothing)."""
    rid, files, students = planned_release()
    problems = []
    for path, text in students.items():
        if not path.exists() or path.read_text() != text:
            problems.append(f"out of date: {path.relative_to(REPO)}")
    for name, data in files.items():
        path = RELEASES / rid / f"{name}.json"
        if not path.exists() or json.loads(path.read_text()) != data:
            problems.append(f"missing or changed judge file: {path.relative_to(REPO)}")
    if rid not in _index()["releases"]:
        problems.append(f"release {rid} is not in {(RELEASES / 'index.json').relative_to(REPO)}")
    for path in STUDENTS.glob("*.ipynb"):
        if path.stem not in files:
            problems.append(f"no solution notebook for: {path.relative_to(REPO)}")
    return problems


# ------------------------------------------------------------------------------------------------
# The student bundle
# ------------------------------------------------------------------------------------------------

BUNDLE_README = """# Residual Networks: the student's course files

Release {rid}. Notebooks are in `notebooks/`: work through them in order.

{table}

Notebook 04 imports your `identity_block` and `convolutional_block` from your saved notebooks 02 and 03:
save those first and keep the notebooks together in `notebooks/`. Its training takes the longest (the
last column: one run of the course's solution on a 2-core CPU).

Set up once, then open the course (from this folder; add `--allow-root` in a container):

```bash
python3 -m venv .venv && . .venv/bin/activate
python3 -m pip install -r requirements.txt && python3 -m jupyter lab
```

Fill in the code between `### START CODE HERE ###` and `### END CODE HERE ###`, run the cells, and
read what each check says. Check a whole notebook as your instructor will grade it:

```bash
python3 -m pytest notebooks/02_identity_block.ipynb
```

Only your graded cells are judged: every other cell runs as released, whatever your file holds.

The course is under the MIT License (`LICENSE`).
"""


def _notebook_table() -> str:
    """README's table of the notebooks, for the bundle (its links lead to the bundle's student notebooks)."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## The notebooks"):]
    return "\n".join(line for line in section.splitlines()[1:] if line.startswith("|"))


def _bundle_pyproject() -> str:
    text = (REPO / "pyproject.toml").read_text()
    text = text[:text.index("[tool.pytest.ini_options]")]
    return text + ('[tool.pytest.ini_options]\n# The judge (resnets_course.judge) checks the notebooks against this release.\n'
                   'testpaths = ["notebooks"]\naddopts = "-p no:cacheprovider"\n')


def student_bundle(out: Path) -> str:
    """Write what students get: student notebooks, helpers, data, images and this release's judge files."""
    problems = check_release()
    if problems:
        raise ReleaseError("the release is out of date; run `python -m tools.release` first:\n" + "\n".join(problems))
    rid, files, _ = planned_release()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} is not empty: give a new folder for the bundle.")
    (out / "notebooks").mkdir(parents=True)
    for name in files:
        nb = release(nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4), rid, folder=None)
        (out / "notebooks" / f"{name}.ipynb").write_text(render(nb))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*.egg-info")
    for folder in ("datasets", "images", "reference"):
        shutil.copytree(REPO / folder, out / folder, ignore=ignore)
    package = REPO / "resnets_course"
    shutil.copytree(package, out / "resnets_course", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "releases"))
    shutil.copytree(RELEASES / rid, out / "resnets_course" / "releases" / rid)
    index = _index()
    (out / "resnets_course" / "releases" / "index.json").write_text(render_json(
        {"releases": {rid: index["releases"][rid]}, "unstamped": rid}))
    for path in REPO.glob("*.py"):
        shutil.copy(path, out / path.name)
    shutil.copy(REPO / "requirements.txt", out / "requirements.txt")
    figure4 = out / FIGURE4_RESULT.relative_to(REPO)   # the benchmark result notebook 05 plots
    figure4.parent.mkdir(parents=True)
    shutil.copy(FIGURE4_RESULT, figure4)
    (out / "pyproject.toml").write_text(_bundle_pyproject())
    shutil.copy(REPO / "LICENSE", out / "LICENSE")
    (out / "README.md").write_text(BUNDLE_README.format(rid=rid, table=_notebook_table()))
    return rid


def upgrade(old_path: Path, new_path: Path | None = None) -> Path:
    """Move a student's graded cells from a notebook of any release into the current release's notebook.

    Everything else comes from the current release; the old file is kept beside the new one as
    ``<name>.before-upgrade.ipynb`` when the upgrade replaces it.
    """
    from resnets_course.judge import JudgeError, _find_graded, course_notebook_name, read_notebook

    old_path = Path(old_path)
    try:
        old = read_notebook(old_path)
    except JudgeError as e:
        raise ReleaseError(f"{old_path}: {e}") from None
    names = [p.stem for p in solution_notebooks()]
    name = course_notebook_name(old_path, names)
    if name is None:
        raise ReleaseError(f"{old_path.name} is not named after a course notebook ({', '.join(names)}).")
    rid, _, students = planned_release()
    new = nbformat.reads(students[STUDENTS / f"{name}.ipynb"], as_version=4)
    old_cells = [c for c in old.cells if c.cell_type == "code"]
    moved = []
    for cell in new.cells:
        if "graded" in tags(cell):
            mine = _find_graded(old_cells, {"id": cell.id, "exercise": cell.metadata.get("exercise")})
            if mine is not None:
                cell.source = mine.source
                moved.append(cell.metadata.get("exercise"))
    new_path = Path(new_path) if new_path else old_path
    if new_path.resolve() == old_path.resolve():
        backup = old_path.with_name(old_path.stem + ".before-upgrade.ipynb")
        backup.write_bytes(old_path.read_bytes())
    new_path.write_text(render(new))
    print(f"{new_path}: release {rid}, your graded cells moved in: {', '.join(moved) or 'none found'}")
    return new_path


def _import_or_constant(node) -> bool:
    """An import, or a name bound to a literal (05's RESNET_STAGES table): what a graded function may use."""
    import ast

    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return True
    try:
        return isinstance(node, ast.Assign) and ast.literal_eval(node.value) is not None
    except ValueError:
        return False


def hidden_answers() -> dict:
    """The solutions' answers to grading's own inputs (resnets_course.hidden_checks): {exercise: [per case]}."""
    import ast

    from resnets_course import hidden_checks
    from resnets_course.keras_internals import use_fused_batchnorm

    use_fused_batchnorm()   # as every notebook's environment check leaves it
    found, solved = {}, {}   # solved: the graded functions so far (04's ResNet50 uses 02's and 03's blocks)
    for path in sorted(solution_notebooks()):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        givens = [c.source for c in code if "graded" not in tags(c) and c.source.strip()
                  and all(_import_or_constant(node) for node in ast.parse(c.source).body)]
        namespace = dict(solved)
        for source in givens:
            exec(source, namespace)
        for cell in code:
            exercise = cell.metadata.get("exercise")
            if "graded" in tags(cell) and exercise:
                exec(cell.source, namespace)
                solved[exercise] = namespace[exercise]
                if exercise in hidden_checks.CASES:
                    found[exercise] = [hidden_checks.answer(namespace[exercise], exercise, case)
                                       for case in hidden_checks.CASES[exercise]]
    return found


def write_hidden_answers() -> Path:
    from resnets_course import hidden_checks

    hidden_checks.ANSWERS.write_text(render_json(hidden_answers()))
    return hidden_checks.ANSWERS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Generate the student release.")
    parser.add_argument("--check", action="store_true", help="only report what is out of date")
    parser.add_argument("--student-bundle", type=Path, metavar="OUT", help="write the students' course files to OUT/")
    parser.add_argument("--upgrade", type=Path, metavar="OLD", help="move a student notebook's graded cells into "
                                                                    "the current release (in place, keeping a copy)")
    parser.add_argument("--out", type=Path, help="with --upgrade: write the upgraded notebook here instead")
    parser.add_argument("--nbgrader", type=Path, metavar="OUT", help="write an nbgrader course's source/ assignments "
                                                                     "(and nbgrader_config.py) to OUT/")
    parser.add_argument("--hidden-answers", action="store_true",
                        help="compute the solutions' answers to grading's own inputs (releases/hidden_answers.json)")
    args = parser.parse_args(argv)
    try:
        if args.hidden_answers:
            print(f"wrote {write_hidden_answers()}")
            return 0
        if args.upgrade:
            upgrade(args.upgrade, args.out)
            return 0
        if args.nbgrader:
            from tools.nbgrader_export import export

            for assignment, paths in export(args.nbgrader).items():
                print(f"{assignment}: {', '.join(p.name for p in paths)}")
            print(f"wrote the nbgrader source/ tree to {args.nbgrader}; then, there: nbgrader generate_assignment NAME")
            return 0
        if args.student_bundle:
            rid = student_bundle(args.student_bundle)
            print(f"wrote the student bundle of release {rid} to {args.student_bundle}")
            return 0
        if args.check:
            problems = check_release()
            for problem in problems:
                print(problem)
            if problems:
                print("Run `python -m tools.release` and commit the result.")
            return 1 if problems else 0
        write_release()
        return 0
    except ReleaseError as e:
        print(f"release: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
