"""Helpers for tests that read the course notebooks or run them under nbval."""
from __future__ import annotations

from pathlib import Path

import nbformat

import json
import os
import re
import shlex
import subprocess
import sys

from tools.nbval_run import run_nbval

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
STUDENTS = NOTEBOOKS / "student"


def readme_lab_command() -> list[str]:
    """README's command that opens the course in JupyterLab, as words (what follows its pip install)."""
    readme = (REPO / "README.md").read_text()
    commands = [line for line in readme.splitlines() if "jupyter lab" in line and not line.lstrip().startswith("#")]
    assert commands, "README has no `jupyter lab` command"
    return shlex.split(commands[0].split("&&")[-1])


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
    """Run a notebook's import cell (not the environment check) and return its namespace, with the fast
    BatchNorm on, as the environment check leaves it."""
    from resnets_course.keras_internals import use_fused_batchnorm

    use_fused_batchnorm()
    ns = {}
    imports = next(c for c in code_cells(nb) if re.search(r"import \(?[^)]*\bcheck_(?!environment)", c.source))
    exec(imports.source, ns)
    return ns


def failing_cells(paths, workdir: Path, env: dict | None = None, jobs: int = 1):
    """Run nbval once over `paths` (in `jobs` processes side by side); return
    ({notebook: {"ran": n, "failed": [cells], "why": {cell: reason}}}, log)."""
    results, log = run_nbval(paths, workdir, env=env, jobs=jobs)
    return {name: {"ran": len(cells), "failed": sorted(i for i, (ok, _) in cells.items() if not ok),
                   "why": {i: reason for i, (ok, reason) in cells.items() if not ok}}
            for name, cells in results.items()}, log


def judged_cells(paths, workdir: Path, env: dict | None = None, release: Path | None = None, timeout: int = 1800):
    """Judge notebooks in one pytest process, as README's student command does; return
    ({path relative to workdir: {"ran": n, "failed": [cells], "why": {cell: reason}, "report": report}}, log)."""
    workdir = Path(workdir)
    (workdir / "pytest.ini").write_text("[pytest]\n")
    report = workdir / "judge-report.json"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", str(workdir),
           "-c", str(workdir / "pytest.ini"), f"--judge-report={report}"] + (
           [f"--judge-release={release}"] if release else []) + [str(p) for p in paths]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    log = proc.stdout + proc.stderr
    assert report.exists(), log[-3000:]
    found = {}
    for entry in json.loads(report.read_text()):
        name = str(Path(entry["path"]).resolve().relative_to(workdir.resolve()))
        verdicts = entry["verdicts"]
        found[name] = {"ran": sum(v["status"] != "not run" for v in verdicts),
                       "failed": sorted(v["index"] for v in verdicts if v["status"] not in ("pass", "skipped")),
                       "why": {v["index"]: v["message"] for v in verdicts if v["status"] not in ("pass", "skipped")},
                       "report": entry}
    return found, log
