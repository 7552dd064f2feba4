"""Grading speed: one generated class graded one by one, with --jobs 2, and on a 2-worker Dask cluster.

    python -m bench.grading                              # 12 students x notebooks 01, 02, 03 and 05
    python -m bench.grading --students 3 --modes serial  # a quick look
    python -m bench.grading --resnet50 2                 # and notebook 04 (quick mode) for 2 of the students

The class mixes correct, wrong-values and blank submissions, made from the student notebooks as
tests/submissions.py makes them. Every mode grades the same class with resnets_course.grading (each
submission in its own process and kernel):

- serial: ``tools.grade`` as it is by default, one submission after another;
- jobs 2: ``tools.grade --jobs 2``, an embedded LocalCluster of two workers, one core each;
- cluster: ``tools.grade --scheduler ADDRESS`` on an already running LocalCluster of two workers; the
  scheduler path gives every submission TensorFlow's default threads, as on machines of their own.

The table gives wall time, submissions per minute and the speed-up over serial, and says whether each
mode gave the serial run's rows. Results go to bench/results/grading-<machine>.json.

    python -m bench.grading --sandbox-cost --students 3   # what the sandbox costs a submission

grades each submission twice, one after the other, in its bubblewrap sandbox and with ``--no-sandbox``
(which fingerprints the course's and Python's files instead, as grading did before the sandbox), and
gives the mean wall seconds per submission of each and the difference, per notebook; results go to
bench/results/grading_sandbox-<machine>.json.

    python -m bench.grading --hidden-cost --students 3 --resnet50 1   # what grading's own inputs cost

does the same with and without grading's own inputs (``hidden_checks``: each exercise whose checks passed is
called once more, outside the notebook's view); the last line is the whole class's time and the
percentage it adds. Results go to bench/results/grading_hidden-<machine>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from bench.machine import describe_machine, results_path
from resnets_course import grading
from tests import submissions as S
from tests.block_mistakes import FINAL_ADD

NOTEBOOKS = ("01_residual_equations", "02_identity_block", "03_convolutional_block", "05_resnet_family")
KINDS = ("correct", "wrong", "blank")
# Edits of the solution's graded code that run but give wrong values (applied wherever they fit).
WRONG_VALUES = [("a_next = relu(z2 + a_prev)", "a_next = relu(z2)"),
                (FINAL_ADD, "    X = Activation('relu')(X)\n    X = Add()([X, X_shortcut])")]
MODES = ("serial", "jobs 2", "cluster")


def submission(name: str, kind: str):
    if kind == "blank":
        return S.student(name)
    nb = S.fill(S.student(name), name)
    if kind == "wrong":
        for _, cell in S.tagged(nb, "graded"):
            for old, new in WRONG_VALUES:
                cell.source = cell.source.replace(old, new)
    return nb


def write_class(folder: Path, students: int, resnet50: int) -> dict[str, str]:
    """Student folders of submissions; returns student -> kind (correct, wrong or blank, in turn).

    The first ``resnet50`` correct students also hand in notebook 04, which imports their (correct) 02 and 03.
    """
    kinds = {}
    for k in range(students):
        kind = KINDS[k % len(KINDS)]
        student = f"s{k:02d}-{kind}"
        kinds[student] = kind
        with_04 = kind == "correct" and k // len(KINDS) < resnet50
        for name in NOTEBOOKS + (("04_resnet50",) if with_04 else ()):
            S.write(submission(name, kind), folder / student / f"{name}.ipynb")
    return kinds


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def grade_serially(subs, quick: bool) -> tuple[list, dict[str, dict[str, float]]]:
    """What ``grade_all`` does one by one, timing each submission: rows, and per notebook the mean wall
    seconds and CPU seconds of a submission (its judge process and kernel; CPU time does not grow when
    other work shares the machine, wall time does)."""
    rows, seconds = [], {}
    for sub in subs:
        start, cpu = time.perf_counter(), _children_cpu()
        rows.append(grading.grade_one(sub, 300, 1200, grading.Share(1), quick))
        seconds.setdefault(sub.course, []).append((time.perf_counter() - start, _children_cpu() - cpu))
    mean = lambda values: round(sum(values) / len(values), 1)
    return rows, {name: {"wall": mean([w for w, _ in s]), "cpu": mean([c for _, c in s])}
                  for name, s in sorted(seconds.items())}


def grade_class(subs, mode: str, quick: bool) -> tuple[list, float, dict]:
    start = time.perf_counter()
    if mode == "serial":
        rows, per_notebook = grade_serially(subs, quick)
        return rows, time.perf_counter() - start, per_notebook
    if mode == "cluster":
        from dask.distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            start = time.perf_counter()   # an existing cluster: its start is not the grading's
            rows = grading.grade_all(subs, 300, 1200, quick=quick, scheduler=cluster.scheduler_address)
            return rows, time.perf_counter() - start, {}
    rows = grading.grade_all(subs, 300, 1200, jobs=2, quick=quick)
    return rows, time.perf_counter() - start, {}


# The two ways of grading that a paired run compares, as grade_one's keywords.
PAIRS = {"sandbox": ({"sandboxed": True}, {"sandboxed": False}),
         "hidden": ({"hidden": True}, {"hidden": False})}
COLUMNS = {"sandbox": ("sandboxed", "unsandboxed"), "hidden": ("with", "without")}


def paired_cost(subs, pair: str, quick: bool = False) -> dict[str, dict[str, float]]:
    """Per notebook: mean wall seconds of a submission graded both ways of ``pair`` (PAIRS), and the difference.
    Each submission is graded both ways back to back, in alternating order, so that drift cancels; both must
    give the same verdicts."""
    on, off = PAIRS[pair]
    seconds: dict[str, dict[bool, list]] = {}
    for k, sub in enumerate(subs):
        rows = {}
        for first in ((True, False) if k % 2 == 0 else (False, True)):
            start = time.perf_counter()
            rows[first] = grading.grade_one(sub, 300, 1200, grading.Share(1), quick, **(on if first else off))
            seconds.setdefault(sub.course, {}).setdefault(first, []).append(time.perf_counter() - start)
        same = [(r.status, r.points, r.detail) for r in rows[True]] == [(r.status, r.points, r.detail) for r in rows[False]]
        assert same, f"{sub.student} {sub.course}: grading {pair} changed the verdict"
    mean = lambda values: round(sum(values) / len(values), 2)
    yes, no = COLUMNS[pair]
    return {name: {yes: mean(s[True]), no: mean(s[False]), "added": round(mean(s[True]) - mean(s[False]), 2),
                   "submissions": len(s[True])} for name, s in sorted(seconds.items())}


def class_totals(cost: dict, pair: str) -> tuple[float, float, float]:
    """The whole class's wall seconds both ways of ``pair``, and the percentage the first adds to the second."""
    yes, no = COLUMNS[pair]
    first, second = (sum(c[col] * c["submissions"] for c in cost.values()) for col in (yes, no))
    return first, second, 100 * (first / second - 1)


def paired_table(cost: dict, pair: str, machine: dict) -> str:
    yes, no = COLUMNS[pair]
    lines = [f"Wall seconds per submission on {machine['cpu']} ({machine['threads']} threads), mean",
             f"{'notebook':<24} {yes:>11} {no:>11} {'added':>6}"]
    for name, c in cost.items():
        lines.append(f"{name:<24} {c[yes]:>11.2f} {c[no]:>11.2f} {c['added']:>+6.2f}")
    if pair == "hidden":
        first, second, percent = class_totals(cost, pair)
        lines.append(f"{'the class':<24} {first:>11.1f} {second:>11.1f} {percent:>+5.1f}%")
    return "\n".join(lines)


def table(runs: list[dict], machine: dict, count: int) -> str:
    serial = next((r["seconds"] for r in runs if r["mode"] == "serial"), None)
    lines = [f"Grading {count} submissions on {machine['cpu']} ({machine['threads']} threads)",
             f"{'mode':<10} {'wall s':>7} {'per min':>8} {'speed-up':>9}  same rows as serial"]
    for r in runs:
        speedup = f"{serial / r['seconds']:.2f}x" if serial else "-"
        same = {True: "yes", False: "NO", None: "-"}[r["same_rows_as_serial"]]
        lines.append(f"{r['mode']:<10} {r['seconds']:>7.0f} {r['submissions_per_minute']:>8.1f} {speedup:>9}  {same}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--resnet50", type=int, default=0, metavar="N",
                        help="also grade notebook 04 (quick mode) for the first N students")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--sandbox-cost", action="store_true",
                        help="instead: grade each submission in the sandbox and without it, and compare")
    parser.add_argument("--hidden-cost", action="store_true",
                        help="instead: grade each submission with grading's own inputs (hidden_checks) and without")
    args = parser.parse_args(argv)
    pair = "sandbox" if args.sandbox_cost else "hidden" if args.hidden_cost else None
    if pair:
        with tempfile.TemporaryDirectory() as tmp:
            write_class(Path(tmp), args.students, args.resnet50)
            subs = grading.find_submissions(Path(tmp), list(NOTEBOOKS) + ["04_resnet50"])
            cost = paired_cost(subs, pair, quick=args.resnet50 > 0)
        machine = describe_machine()
        print(paired_table(cost, pair, machine))
        path = results_path(f"grading_{pair}")
        path.write_text(json.dumps({"machine": machine, "students": args.students, "resnet50_quick": args.resnet50,
                                    "seconds_per_submission": cost}, indent=1) + "\n")
        print(f"wrote {path}")
        return
    load_before = os.getloadavg()[0]   # other work on the machine lengthens wall times (not CPU times)
    with tempfile.TemporaryDirectory() as tmp:
        kinds = write_class(Path(tmp), args.students, args.resnet50)
        subs = grading.find_submissions(Path(tmp), list(NOTEBOOKS) + ["04_resnet50"])
        runs, serial_rows = [], None
        for mode in args.modes:
            print(f"== {mode}", flush=True)
            rows, seconds, per_notebook = grade_class(subs, mode, quick=args.resnet50 > 0)
            runs.append({"mode": mode, "seconds": round(seconds, 1),
                         "submissions_per_minute": round(60 * len(subs) / seconds, 2),
                         "same_rows_as_serial": None if serial_rows is None else rows == serial_rows,
                         **({"seconds_per_submission": per_notebook} if per_notebook else {})})
            if mode == "serial":
                serial_rows = rows
    points = {}
    for rows in serial_rows or rows:
        for row in rows:
            points[kinds[row.student]] = points.get(kinds[row.student], 0) + row.points
    machine = describe_machine()
    print("\n" + table(runs, machine, len(subs)))
    for run in runs:
        if "seconds_per_submission" in run:
            print("one submission, serially (wall / CPU seconds): " + ", ".join(
                f"{name} {s['wall']:.1f} / {s['cpu']:.1f}" for name, s in run["seconds_per_submission"].items()))
    path = results_path("grading")
    path.write_text(json.dumps({"machine": machine, "students": args.students, "notebooks": list(NOTEBOOKS),
                                "resnet50_quick": args.resnet50, "submissions": len(subs),
                                "points_by_kind": points, "runs": runs,
                                "load_average_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)]},
                               indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
