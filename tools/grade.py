"""Check a folder of submitted student notebooks with nbval; write a per-student, per-exercise table.

    python -m tools.grade SUBMISSIONS/ [--out RESULTS/] [--cell-timeout 120] [--timeout 900]

A submission is any ``*.ipynb`` under SUBMISSIONS/ whose name contains a course notebook's name,
e.g. ``alice/02_identity_block.ipynb`` or ``bob-03_convolutional_block.ipynb``; the student is the
sub-folder's name, or else what precedes the course notebook's name. Each submission runs in its
own pytest process (so its own kernel) with a per-cell and an overall timeout, so an infinite
loop or a crash in one cannot stop the others. Writes RESULTS/results.csv and RESULTS/summary.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools.nbval_run import NbvalDidNotRun, run_nbval
from tools.release import solution_notebooks, tags

@dataclass
class Row:
    student: str
    notebook: str
    exercise: str
    status: str   # pass | fail | missing | error | timeout
    detail: str


def exercises(nb) -> dict[str, list[int]]:
    """Exercise name -> nbval numbers of its check cells, in this notebook."""
    found: dict[str, list[int]] = {}
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        name = cell.metadata.get("exercise")
        if name and "check" in tags(cell):
            found.setdefault(name, []).append(i)
    return found


def find_submissions(folder: Path):
    courses = {p.stem: p for p in solution_notebooks()}
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        course = next((c for c in sorted(courses, key=len, reverse=True) if c in path.name), None)
        if course is None:
            continue
        if path.parent != folder:
            student = path.relative_to(folder).parts[0]
        else:
            student = path.name.split(course)[0].strip("-_ .") or path.stem
        yield student, course, courses[course], path


def run_submission(path: Path, cell_timeout: int, timeout: int, course: str = "submission",
                   siblings: dict | None = None):
    """nbval on one notebook in a fresh process: ({cell number: (passed, reason)}, None) or (None, problem).

    The notebook runs under its course name beside the same student's other submissions
    (``siblings``: course name -> path), because later notebooks import earlier ones' graded cells.
    """
    with tempfile.TemporaryDirectory() as tmp:
        for other, other_path in (siblings or {}).items():
            (Path(tmp) / f"{other}.ipynb").write_bytes(Path(other_path).read_bytes())
        copy = Path(tmp) / f"{course}.ipynb"
        copy.write_bytes(path.read_bytes())
        try:
            results, _ = run_nbval([copy], Path(tmp), cell_timeout=cell_timeout, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"did not finish within {timeout} s"
        except NbvalDidNotRun:
            return None, "nbval could not run this notebook"
        return results[copy.name], None


def grade_one(student, course, solution_path, path, cell_timeout, timeout, siblings=None) -> list[Row]:
    expected = exercises(nbformat.read(solution_path, as_version=4))
    try:
        nb = nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as e:
        return [Row(student, course, ex, "error", f"not a valid notebook file (not JSON: {str(e)[:120]})")
                for ex in expected]
    except Exception as e:  # a JSON file that is not a notebook
        return [Row(student, course, ex, "error", f"not a valid notebook: {str(e)[:160]}") for ex in expected]
    present = exercises(nb)
    cells, problem = run_submission(path, cell_timeout, timeout, course, siblings)
    rows = []
    for ex, reference_cells in expected.items():
        mine = present.get(ex, [])
        if len(mine) < len(reference_cells):
            rows.append(Row(student, course, ex, "missing",
                            f"{len(reference_cells) - len(mine)} of its check cells were deleted"))
        elif problem:
            rows.append(Row(student, course, ex, "timeout" if "finish" in problem else "error", problem))
        else:
            results = [cells.get(i, (False, "not run")) for i in mine]
            failures = [reason for ok, reason in results if not ok]
            if failures:
                status = "timeout" if any("Timeout" in f or "timed out" in f.lower() for f in failures) else "fail"
                rows.append(Row(student, course, ex, status, failures[0]))
            else:
                rows.append(Row(student, course, ex, "pass", ""))
    return rows


def write_results(rows: list[Row], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebook", "exercise", "status", "detail"])
        for r in rows:
            writer.writerow([r.student, r.notebook, r.exercise, r.status, r.detail])
    lines = ["# Grading summary", "", "| student | notebook | exercise | result | detail |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.student} | {r.notebook} | {r.exercise} | {r.status.upper()} | {r.detail.replace('|', '/')} |")
    passed = sum(r.status == "pass" for r in rows)
    lines += ["", f"{passed} of {len(rows)} exercises passed."]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Check submitted student notebooks with nbval.")
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="folder for results.csv and summary.md")
    parser.add_argument("--cell-timeout", type=int, default=300, help="seconds one cell may run")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds one submission may run in all")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"{args.submissions} is not a folder of submissions")
        return 2
    rows = []
    found = list(find_submissions(args.submissions))
    for student, course, solution, path in found:
        print(f"checking {student}: {path.name} ...", flush=True)
        siblings = {c: p for s, c, _, p in found if s == student and c != course}
        rows += grade_one(student, course, solution, path, args.cell_timeout, args.timeout, siblings)
    if not rows:
        print("no submissions found: file names must contain a course notebook's name, e.g. 02_identity_block")
        return 2
    out = args.out or args.submissions / "results"
    write_results(rows, out)
    print((out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
