"""Submissions made from the released student notebooks, as students (and cheaters) make them."""
from __future__ import annotations

import copy

import nbformat
import pytest

from resnets_course.sandbox import bwrap
from tools import release
from tests.notebook_tools import NOTEBOOKS, STUDENTS, read, tagged


#: Tests that grade with tools.grade need bubblewrap, as grading does (.ci/run installs it).
needs_bwrap = pytest.mark.skipif(bwrap() is None, reason="grading needs bubblewrap: sudo apt-get install bubblewrap")


def student(name: str):
    return read(STUDENTS / f"{name}.ipynb")


def solution(name: str):
    return read(NOTEBOOKS / f"{name}.ipynb")


def fill(nb, name: str):
    """The correct code written into every graded region (what a correct student writes)."""
    nb = copy.deepcopy(nb)
    solved = solution(name)
    for (_, cell), (_, sol_cell) in zip(tagged(nb, "graded"), tagged(solved, "graded")):
        cell.source = release.fill_graded(cell.source, sol_cell.source)
    return nb


def checks(nb):
    return [cell for _, cell in tagged(nb, "check")]


def prints_instead_of_checks(nb, name: str):
    """Every check cell's source replaced by a print of the output the solution stored."""
    nb = copy.deepcopy(nb)
    stored = {c.id: c for _, c in tagged(solution(name), "check")}
    for cell in checks(nb):
        text = "".join(o.get("text", "") for o in stored[cell.id].outputs if o.get("output_type") == "stream")
        cell.source = f"print({text!r}, end='')"
    return nb


def with_expected_outputs(nb, name: str):
    """The solution's stored outputs pasted into the student's check cells (the source untouched)."""
    nb = copy.deepcopy(nb)
    stored = {c.id: c for _, c in tagged(solution(name), "check")}
    for cell in checks(nb):
        cell.outputs = copy.deepcopy(stored[cell.id].outputs)
        cell.execution_count = stored[cell.id].execution_count
    return nb


def stale_errors(nb):
    """Error outputs stored in every check cell, as a Run All of the untouched notebook leaves them."""
    nb = copy.deepcopy(nb)
    for k, cell in enumerate(checks(nb)):
        cell.execution_count = k + 3
        cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="your function returned None",
                                               traceback=["CheckFailed: your function returned None"])]
    return nb


def append_to_graded(nb, code: str, top: bool = False, inside: bool = False):
    """``code`` added to every graded cell: at its top level, and/or as the first line of its function."""
    nb = copy.deepcopy(nb)
    for _, cell in tagged(nb, "graded"):
        if inside:
            lines = cell.source.split("\n")
            at = next(i for i, line in enumerate(lines) if line.strip() == release.START)
            indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
            lines.insert(at + 1, indent + code)
            cell.source = "\n".join(lines)
        if top:
            cell.source = cell.source + "\n" + code
    return nb


def with_extra_cell(nb, code: str = "my_note = 'my own experiment'\nprint(my_note)"):
    nb = copy.deepcopy(nb)
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(code))
    return nb


def without_check(nb, exercise_check: str):
    """The first check cell whose source calls ``exercise_check`` deleted."""
    nb = copy.deepcopy(nb)
    doomed = next(c for c in checks(nb) if exercise_check in c.source)
    nb.cells = [c for c in nb.cells if c is not doomed]
    return nb


def replacing_checks(nb):
    """Graded cells that swap every check function for one that always passes, in the notebook and in its module."""
    code = ("import sys as _sys\n"
            "def _always_pass(*args, **kwargs):\n"
            "    print('All tests passed.')\n"
            "for _module in list(_sys.modules.values()):\n"
            "    for _name in dir(_module) if getattr(_module, '__name__', '').startswith(('resnets_course', 'resnets_utils')) "
            "else []:\n"
            "        if _name.startswith('check_'):\n"
            "            setattr(_module, _name, _always_pass)\n"
            "for _name in list(globals()):\n"
            "    if _name.startswith('check_'):\n"
            "        globals()[_name] = _always_pass\n")
    return append_to_graded(nb, code, top=True)


QUICK_IN_GRADED = "import os\nos.environ['RESNETS_QUICK'] = '1'"


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
