"""Course run time: re-execute every solution notebook as an instructor does and time it.

    python -m bench.course_time                       # all solution notebooks, in order
    python -m bench.course_time 04_resnet50.ipynb     # one notebook
    python -m bench.course_time --write-back          # and store the fresh outputs in notebooks/
    python -m bench.course_time 05_resnet_family.ipynb --update   # replace that notebook's row in the result

Each notebook runs in a fresh kernel from notebooks/ (as JupyterLab and nbval run it), in a temporary
copy so nothing in the repository changes; with --write-back the executed notebooks replace the
solution notebooks (what `jupyter nbconvert --execute --inplace` does, timed in the same run). The table gives each notebook's wall time (kernel start
included) and its slowest cells. Results go to bench/results/course_time-<machine>.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from bench.machine import describe_machine, results_path
from resnets_course.transfer import SAVED_MODEL
from resnets_utils import REPO

NOTEBOOKS = REPO / "notebooks"


def _seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    try:
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return (end - start).total_seconds()


def _first_code_line(source: str) -> str:
    """A cell's first line that is not a comment (nbval markers and notes say nothing about what runs)."""
    lines = [line for line in source.strip().split("\n") if line.strip()]
    return next((line for line in lines if not line.lstrip().startswith("#")), lines[0] if lines else "")


def write_back(nb, path: Path) -> None:
    """Store an executed notebook as the solution notebook, without the per-cell timestamps of this run
    (from a copy: the timing table still needs them)."""
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})   # one stream per cell, progress bars settled, as nbconvert stores them
    nbformat.write(nb, path)


def time_notebook(path: Path, workdir: Path, timeout: int = 1800, keep_in: Path | None = None) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    if keep_in is not None:
        write_back(nb, keep_in / path.name)
    cells = [(i, _seconds(c), _first_code_line(c.source)[:60])
             for i, c in enumerate(c for c in nb.cells if c.cell_type == "code")]
    slowest = sorted(cells, key=lambda c: -c[1])[:3]
    return {"notebook": path.name, "seconds": round(wall, 1), "cells_seconds": round(sum(c[1] for c in cells), 1),
            "slowest": [{"cell": i, "seconds": round(s, 1), "starts": text} for i, s, text in slowest]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="file names in notebooks/ (default: all)")
    parser.add_argument("--write-back", action="store_true", help="store the executed notebooks in notebooks/")
    parser.add_argument("--update", action="store_true",
                        help="keep the other notebooks' rows of the result already written (same machine)")
    args = parser.parse_args(argv)
    paths = [NOTEBOOKS / n for n in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):   # later notebooks import earlier ones
            shutil.copy(path, workdir / path.name)
        if (NOTEBOOKS / SAVED_MODEL).exists():   # notebook 06 starts from 04's model (a run of 04 replaces it)
            shutil.copy(NOTEBOOKS / SAVED_MODEL, workdir / SAVED_MODEL)
        rows = []
        for path in paths:
            rows.append(time_notebook(workdir / path.name, workdir, keep_in=NOTEBOOKS if args.write_back else None))
            print(f"  {path.name}: {rows[-1]['seconds']:.0f} s", flush=True)
    machine = describe_machine()
    if args.update:
        fresh = {r["notebook"]: r for r in rows}
        kept = json.loads(results_path("course_time").read_text())["notebooks"]
        rows = [fresh.pop(r["notebook"], r) for r in kept] + list(fresh.values())
    print(f"\nCourse re-execution on {machine['cpu']} ({machine['threads']} threads)")
    print(f"{'notebook':<32} {'wall s':>7} {'in cells':>8}   slowest cells")
    for r in rows:
        slow = "; ".join(f"[{s['cell']}] {s['seconds']:.0f} s {s['starts']!r}" for s in r["slowest"][:2])
        print(f"{r['notebook']:<32} {r['seconds']:>7.0f} {r['cells_seconds']:>8.0f}   {slow}")
    total = sum(r["seconds"] for r in rows)
    print(f"{'total':<32} {total:>7.0f}   ({total / 60:.1f} min)")
    path = results_path("course_time")
    path.write_text(json.dumps({"machine": machine, "total_seconds": round(total, 1), "notebooks": rows},
                               indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
