"""The instructor's grading command: students are judged against the release, whatever their files hold.

One class, graded once with `python3 -m tools.grade` (notebook 04 in quick mode, so CI stays fast), holds a
submission of every graded notebook for each kind of student:

| student  | what the submission is                                                     | grade          |
|----------|-----------------------------------------------------------------------------|----------------|
| printer  | check cells replaced by prints of the expected text, and the solution's    | FAIL, tampered |
|          | outputs pasted into them (no code written)                                 |                |
| replacer | correct code, and graded cells that replace every check function           | FAIL, tampered |
| full     | correct code, stale error outputs, prints inside the functions and at top  | PASS           |
|          | level, an extra cell of their own, quick mode set in a graded cell, and    |                |
|          | one check cell deleted                                                     |                |
| partial  | correct code in 01 and 02 only; 03-05 untouched, with the solution's       | 30 of 100      |
|          | outputs pasted into their check cells                                      |                |
"""
import csv
import socket
import warnings

import pytest

from resnets_course import grading as grade
from resnets_course import judge, judge_kernel
from tests import submissions as S
from tools import release

NAMES = [p.stem for p in release.solution_notebooks()]
GRADED = {}   # exercise -> points, read from the solutions
for _name in NAMES:
    for _, _cell in S.tagged(S.solution(_name), "graded"):
        GRADED[_cell.metadata["exercise"]] = _cell.metadata["points"]

pytestmark = S.needs_bwrap


def full(name):
    nb = S.fill(S.student(name), name)
    nb = S.append_to_graded(nb, "print('debugging:', 12345.678)", inside=True)
    nb = S.append_to_graded(nb, "print('my top-level print', 3.14159)\n" + S.QUICK_IN_GRADED, top=True)
    nb = S.stale_errors(S.with_extra_cell(nb))
    return S.without_check(nb, "check_")


CLASS = {
    "printer": lambda name: S.with_expected_outputs(S.prints_instead_of_checks(S.student(name), name), name),
    "replacer": lambda name: S.replacing_checks(S.fill(S.student(name), name)),
    "full": full,
    "partial": lambda name: (S.fill(S.student(name), name) if name[:2] in ("01", "02")
                             else S.with_expected_outputs(S.student(name), name)),
}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    for student, make in CLASS.items():
        for name in NAMES:
            S.write(make(name), tmp / "submissions" / student / f"{name}.ipynb")
    assert grade.main([str(tmp / "submissions"), "--out", str(tmp / "out"), "--cell-timeout", "300", "--jobs", "2",
                       "--quick"]) == 0
    rows = list(csv.DictReader(open(tmp / "out" / "results.csv")))
    book = {r["student"]: r for r in csv.DictReader(open(tmp / "out" / "gradebook.csv"))}
    return rows, book, (tmp / "out" / "summary.md").read_text()


def rows_of(rows, student):
    return [r for r in rows if r["student"] == student]


def test_every_student_gets_a_row_per_exercise_of_every_notebook(graded_class):
    rows, _, _ = graded_class
    for student in CLASS:
        graded_here = {(r["notebook"], r["exercise"]) for r in rows_of(rows, student) if int(r["max_points"])}
        assert {ex for _, ex in graded_here} == set(GRADED), student
    assert list(rows[0]) == grade.COLUMNS and grade.COLUMNS[:5] == ["student", "notebook", "exercise", "status", "detail"]


def test_blank_work_fails_whatever_its_file_stored(graded_class):
    rows, _, _ = graded_class
    blank = [r for r in rows_of(rows, "partial") if r["notebook"][:2] in ("03", "04", "05", "06") and int(r["max_points"])]
    assert {r["exercise"] for r in blank} == set(GRADED) - {"residual_block_forward", "residual_block_backward",
                                                            "identity_block"}
    for r in blank:
        assert r["status"] == "FAIL" and r["tampered"] == "", r
        assert "None" in r["detail"] or "finish" in r["detail"], r   # the check's hint, not a diff of outputs


def test_checks_replaced_by_prints_do_not_pass_and_are_flagged(graded_class):
    rows, _, _ = graded_class
    for r in rows_of(rows, "printer"):
        assert r["status"] != "PASS" and "edited" in r["tampered"], r


def test_graded_cells_that_replace_the_checks_do_not_pass(graded_class):
    rows, _, _ = graded_class
    for r in rows_of(rows, "replacer"):
        if int(r["max_points"]):
            assert r["status"] == "FAIL" and "check_" in r["tampered"], r
            assert "which the checks use" in r["detail"], r


def test_correct_code_passes_with_stale_outputs_prints_extra_cells_and_a_deleted_check(graded_class):
    rows, _, _ = graded_class
    for r in rows_of(rows, "full"):
        assert r["status"] == "PASS", r
        # says what it skipped, in the notebooks that train (04 from scratch, 06 fine-tuning)
        assert (grade.QUICK_NOTE in r["detail"]) == (r["notebook"] in ("04_resnet50", "06_transfer_learning")), r
    assert any("deleted" in r["tampered"] for r in rows_of(rows, "full"))   # graded from the release, and flagged


def test_the_gradebook_holds_each_students_points_and_total(graded_class):
    _, book, summary = graded_class
    total = f"total ({sum(GRADED.values())})"
    assert set(book) == set(CLASS)
    assert int(book["full"][total]) == sum(GRADED.values()) == 110
    assert int(book["partial"][total]) == GRADED["residual_block_forward"] + GRADED["residual_block_backward"] + GRADED["identity_block"] == 30
    assert int(book["partial"][f"identity_block ({GRADED['identity_block']})"]) == GRADED["identity_block"]
    for student in ("printer", "replacer"):
        assert int(book[student][total]) == 0, book[student]
    assert "\x1b" not in summary and "| full | 110 of 110 |" in summary


def submission_02(edit_region):
    nb = S.fill(S.student("02_identity_block"), "02_identity_block")
    return S.append_to_graded(nb, edit_region, inside=True)


def test_timeouts_errors_and_broken_files_are_reported(tmp_path):
    subs = tmp_path / "submissions"
    S.write(submission_02("while True: pass"), subs / "bob" / "02_identity_block.ipynb")
    S.write(submission_02("raise RuntimeError('my block is broken')"), subs / "cy" / "02_identity_block.ipynb")
    nb = S.student("02_identity_block")
    nb.cells = [c for c in nb.cells if "graded" not in c.metadata.get("tags", [])]
    S.write(nb, subs / "dee" / "02_identity_block.ipynb")
    (subs / "eve_02_identity_block.ipynb").write_text('{"cells": [ this is not json')
    nb = S.fill(S.student("02_identity_block"), "02_identity_block")
    nb.metadata["course"]["release"] = "0000deadbeef"
    S.write(nb, subs / "fay" / "02_identity_block.ipynb")

    assert grade.main([str(subs), "--out", str(tmp_path / "out"), "--cell-timeout", "10", "--timeout", "300"]) == 0
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "results.csv"))}
    assert set(rows) == {"bob", "cy", "dee", "eve", "fay"}
    assert rows["bob"]["status"] == "TIMEOUT"
    assert rows["cy"]["status"] == "FAIL" and "my block is broken" in rows["cy"]["detail"]
    assert rows["dee"]["status"] == "MISSING" and "deleted" in rows["dee"]["detail"]
    assert rows["eve"]["status"] == "ERROR" and "not a valid notebook" in rows["eve"]["detail"]
    assert rows["fay"]["status"] == "ERROR" and "0000deadbeef" in rows["fay"]["detail"]


def test_an_empty_folder_is_reported(tmp_path, capsys):
    assert grade.main([str(tmp_path)]) == 2
    assert "no submissions found" in capsys.readouterr().out


def test_a_submission_from_before_release_ids_is_judged_by_that_release(tmp_path):
    """Student notebooks released before ids existed (stored outputs and all, from commit 325766e; kept as .json
    so that pytest does not collect them) are judged by the release archived for them: correct code passes,
    blank code fails with the check's hint."""
    fixtures = S.NOTEBOOKS.parent / "tests" / "fixtures"
    for name in ("01_residual_equations", "02_identity_block"):
        old = S.read(fixtures / f"{name}-before-release-ids.json")
        assert "release" not in old.metadata["course"] and any(c.outputs for c in old.cells if c.cell_type == "code")
        S.write(S.fill(old, name), tmp_path / "subs" / "old_correct" / f"{name}.ipynb")
    S.write(old_02 := S.read(fixtures / "02_identity_block-before-release-ids.json"),
            tmp_path / "subs" / "old_blank" / "02_identity_block.ipynb")
    # That release's cells import the modules the course had then (residual_numpy, block_checks, fused_batchnorm),
    # now parts of one package: resnets_utils answers for them (test_every_archived_release_imports_resolve).
    assert "from fused_batchnorm import" in "".join(c.source for c in old_02.cells)
    assert grade.main([str(tmp_path / "subs"), "--out", str(tmp_path / "out")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    unstamped = judge.release_index()["unstamped"]
    correct = [r for r in rows if r["student"] == "old_correct"]
    assert len(correct) == 2 + 1, correct   # every graded exercise of 01 and 02
    assert all(r["status"] == "PASS" and r["release"] == unstamped for r in correct), correct
    [blank] = [r for r in rows if r["student"] == "old_blank"]
    assert blank["status"] == "FAIL" and "None" in blank["detail"]


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_grading_side_by_side_gives_the_serial_results(tmp_path):
    """--jobs 2 runs two submissions at once, each on its share of the cores: same rows, same order, same gradebook."""
    # 02 and 03, the shortest graded notebooks: what is tested is the scheduling, not the lessons.
    name, other = "02_identity_block", "03_convolutional_block"
    class_ = {"ann": S.fill(S.student(name), name), "ben": S.student(name),
              "cat": S.prints_instead_of_checks(S.student(name), name)}
    for student, nb in class_.items():
        S.write(nb, tmp_path / "subs" / student / f"{name}.ipynb")
        S.write(S.fill(S.student(other), other), tmp_path / "subs" / student / f"{other}.ipynb")
    outputs, judged = {}, {}
    subs = grade.find_submissions(tmp_path / "subs", NAMES)
    graded = {ex: pts for ex, pts in GRADED.items()}
    for jobs in (1, 2):
        # Dask's default HTTP port taken, as by another cluster: grading neither minds nor warns
        with socket.socket() as taken, warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            if _free(8787):
                taken.bind(("", 8787))
                taken.listen()
            results = grade.grade_all(subs, 300, 1200, jobs=jobs)
        assert not [w for w in warned if "already in use" in str(w.message)], [str(w.message) for w in warned]
        grade.write_results([row for rows in results for row in rows], tmp_path / str(jobs), graded)
        outputs[str(jobs)] = [(tmp_path / str(jobs) / f).read_text() for f in ("results.csv", "gradebook.csv")]
        judged[jobs] = [rows[0].judged for rows in results]
    assert outputs["1"] == outputs["2"]
    # Side by side means side by side: with two workers, some two submissions were judged at the same time
    # (one by one, none were).
    overlaps = lambda spans: sum(a[0] < b[1] and b[0] < a[1] for k, a in enumerate(spans) for b in spans[k + 1:])
    assert overlaps(judged[1]) == 0 and overlaps(judged[2]) >= len(subs) // 2 - 1, judged
    book = {row["student"]: row for row in csv.DictReader(outputs["1"][1].splitlines())}
    points = lambda student, exercise: int(book[student][f"{exercise} ({GRADED[exercise]})"])
    assert points("ann", "identity_block") == GRADED["identity_block"] > 0
    assert points("ben", "identity_block") == 0 and points("cat", "identity_block") == 0
    assert all(points(s, "convolutional_block") == GRADED["convolutional_block"] > 0 for s in class_)
    ben = [line for line in outputs["1"][0].splitlines() if line.startswith("ben,02_")]
    assert len(ben) == 1 and all("CheckFailed" in line and "returned None" in line for line in ben), ben   # the hint


def test_a_share_of_the_machine():
    assert grade.Share(1, 2).environment() == {} and grade.Share(1, 2).slowdown == 1
    two = grade.Share(2, 2)
    assert two.threads == 1 and two.slowdown == 2 and two.environment()["TF_NUM_INTRAOP_THREADS"] == "1"
    assert grade.Share(3, 2).slowdown == 3 and grade.Share(2, 8).threads == 4 and grade.Share(2, 8).slowdown == 2


def test_a_worker_that_dies_loses_no_other_results(tmp_path):
    """On Dask, a worker process killed while it grades has its submission run again elsewhere: the class's
    results are those of a serial run."""
    import os
    import signal
    import threading
    import time

    from dask.distributed import Client, LocalCluster

    name = "02_identity_block"   # short: the test is about the worker, not the lesson
    for k, nb in enumerate([S.fill(S.student(name), name), S.student(name)] * 2):
        S.write(nb, tmp_path / "subs" / f"s{k}" / f"{name}.ipynb")
    subs = grade.find_submissions(tmp_path / "subs", [name])
    serial = grade.grade_all(subs, 300, 1200)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        victim = sorted(client.scheduler_info()["workers"])[0]
        pid = client.run(os.getpid, workers=[victim])[victim]
        killed = []

        def kill_when_busy():
            for _ in range(600):
                if client.processing(workers=[victim]).get(victim):
                    os.kill(pid, signal.SIGKILL)   # the worker process crashes mid-submission
                    killed.append(victim)
                    return
                time.sleep(0.1)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        parallel = grade.grade_all(subs, 300, 1200, client=client)
        killer.join()
    assert killed, "the worker was never busy"
    assert parallel == serial
    assert [r[0].status for r in serial] == ["pass", "fail", "pass", "fail"]


def test_every_archived_release_imports_resolve():
    """Every name that a cell of an archived release imports from the course still exists, under the module
    name that release used (the package's modules replaced seven top-level ones)."""
    import ast
    import importlib
    import json

    for folder in sorted((S.NOTEBOOKS.parent / "resnets_course" / "releases").iterdir()):
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            for cell in json.loads(path.read_text())["cells"]:
                if cell["role"] == "graded":
                    continue
                for node in ast.walk(ast.parse(cell["source"])):
                    if isinstance(node, ast.ImportFrom) and judge_kernel._is_course(node.module):
                        module = importlib.import_module(node.module)
                        for alias in node.names:
                            assert hasattr(module, alias.name), f"{path}: from {node.module} import {alias.name}"


def test_without_the_sandbox_every_row_says_unsandboxed(tmp_path):
    S.write(S.fill(S.student("02_identity_block"), "02_identity_block"), tmp_path / "subs" / "ann" / "02_identity_block.ipynb")
    assert grade.main([str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--no-sandbox"]) == 0
    [row] = csv.DictReader(open(tmp_path / "out" / "results.csv"))
    assert row["sandbox"] == "unsandboxed" and row["status"] == "PASS", row
    assert "graded without the sandbox" in (tmp_path / "out" / "summary.md").read_text()
