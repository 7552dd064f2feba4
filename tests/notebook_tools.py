"""Helpers for tests that read the course notebooks or run them under nbval."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
STUDENTS = NOTEBOOKS / "student"


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def tagged(nb, tag, exercise=None):
    """(nbval cell number, cell) for the code cells carrying `tag` (and `exercise`, if given)."""
    return [(i, c) for i, c in enumerate(code_cells(nb))
            if tag in c.metadata.get("tags", []) and (exercise is None or c.metadata.get("exercise") == exercise)]


def graded_source(nb, exercise):
    [(_, cell)] = tagged(nb, "graded", exercise)
    return cell.source


def namespace_for(nb):
    """Run a notebook's import cell (not the environment check) and return its namespace."""
    ns = {}
    imports = next(c for c in code_cells(nb) if "from block_checks import" in c.source)
    exec(imports.source, ns)
    return ns


def run_nbval(paths, workdir: Path):
    """Run nbval on notebooks in a subprocess; return {notebook name: sorted failing cell numbers}.

    Every notebook gets an entry, so a notebook that nbval never ran shows up as a KeyError-free
    empty list only if all its cells passed.
    """
    junit = workdir / "nbval.xml"
    cmd = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
           "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"),
           "-q", "--rootdir", str(workdir), "-c", str(workdir / "pytest.ini"), f"--junitxml={junit}",
           *map(str, paths)]
    (workdir / "pytest.ini").write_text("[pytest]\n")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1800)
    if not junit.exists():
        raise AssertionError(f"nbval did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    results = {Path(p).name: {"failed": [], "ran": 0} for p in paths}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        nb = next((n for n in results if n.replace(".ipynb", "") in case.get("classname", "") + case.get("file", "")), None)
        if nb is None or not name.startswith("Cell "):
            continue
        results[nb]["ran"] += 1
        if case.find("failure") is not None or case.find("error") is not None:
            results[nb]["failed"].append(int(name.split()[1]))
    return results, proc.stdout
