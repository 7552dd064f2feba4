"""Run nbval on notebooks in a separate pytest process and read back each cell's result.

Used by the tests that run the solution notebooks (many notebooks in one process, which saves kernel
start-ups). Student notebooks are judged by resnets_course.judge instead, against their release.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SANITIZE = REPO / "resnets_course" / "nbval_sanitize.cfg"


class NbvalDidNotRun(RuntimeError):
    pass


def _reason(text: str) -> str:
    """The line of a failure report a person needs: the check's message, else a short summary."""
    for marker in ("CheckFailed: ", "Timeout", "Error: ", "Exception: "):
        for line in text.splitlines():
            if marker in line:
                return line.strip()[:300]
    if "Cell outputs differ" in text:
        return "the printed output differs from the expected output"
    return (text.strip().splitlines() or ["failed"])[-1][:300]


def run_nbval(paths, workdir: Path, cell_timeout: int | None = None, timeout: int = 1800, env: dict | None = None,
              jobs: int = 1):
    """{notebook: {nbval cell number: (passed, reason)}} for every notebook in `paths`.

    A notebook is named by its path relative to `workdir` ("blank/04_resnet50.ipynb"), or by its file
    name when it lies elsewhere. `env` adds environment variables for the kernels (e.g. RESNETS_QUICK).
    With `jobs` > 1 the notebooks are shared out among that many pytest processes run side by side, each
    kernel on its share of the cores (for many short notebooks, whose time is mostly kernel start-up).

    Raises subprocess.TimeoutExpired if the whole run exceeds `timeout`, NbvalDidNotRun if
    pytest produced no report. The log (stdout) is returned beside the results.
    """
    workdir = Path(workdir)
    (workdir / "pytest.ini").write_text("[pytest]\n")   # the course's own pytest settings stay out
    cmd = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
           "--nbval-sanitize-with", str(SANITIZE), "-q", "--rootdir", str(workdir),
           "-c", str(workdir / "pytest.ini")]
    if cell_timeout is not None:
        cmd.append(f"--nbval-cell-timeout={cell_timeout}")
    paths = list(paths)
    jobs = max(1, min(jobs, len(paths)))
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    share = {} if jobs == 1 else {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1",
                                  "OMP_NUM_THREADS": threads}
    runs = []
    for k in range(jobs):
        junit = workdir / (f"nbval-junit-{k}.xml" if jobs > 1 else "nbval-junit.xml")
        junit.unlink(missing_ok=True)
        proc = subprocess.Popen(cmd + [f"--junitxml={junit}"] + [str(p) for p in paths[k::jobs]], cwd=workdir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **share, **(env or {})})
        runs.append((junit, proc))
    logs, deadline = [], time.monotonic() + timeout
    try:
        for junit, proc in runs:
            out, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
            logs.append((out, err))
    finally:
        for _, proc in runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for (junit, _), (out, err) in zip(runs, logs):
        if not junit.exists():
            raise NbvalDidNotRun(f"nbval did not run:\n{out[-3000:]}\n{err[-3000:]}")

    def key(p):
        p = Path(p).resolve()
        return str(p.relative_to(workdir.resolve())) if p.is_relative_to(workdir.resolve()) else p.name

    names = sorted(map(key, paths), key=len, reverse=True)   # longest first: no prefix clashes
    results = {name: {} for name in names}
    cases = [case for junit, _ in runs for case in ET.parse(junit).getroot().iter("testcase")]
    for case in cases:
        label = case.get("name", "")
        where = (case.get("classname", "") + " " + case.get("file", "")).replace("/", ".")
        name = next((n for n in names if n.removesuffix(".ipynb").replace("/", ".") in where), None)
        if name is None or not label.startswith("Cell "):
            continue
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            outcome = (False, _reason((bad.get("message") or "") + "\n" + (bad.text or "")))
        elif skipped is not None:
            outcome = (False, "not run: " + (skipped.get("message") or "skipped")[:200])
        else:
            outcome = (True, "")
        results[name][int(label.split()[1])] = outcome
    return results, "".join(out for out, _ in logs)
