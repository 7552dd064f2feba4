"""Submissions that attack grading itself, not the checks: each one loses its points and is reported.

Most are refused where they start (the kernel's audit hook: no processes, signals, trace functions or
writes outside the notebook's folder); the signed report, the course's copy and the fingerprints are
the second line, tested on their own at the end.

One class of notebooks 01 and 02 is graded once with `tools.grade`; every student tries one attack:

| student   | the attack                                                                          |
|-----------|-------------------------------------------------------------------------------------|
| forger    | writes an all-pass report where grading reads it, then kills the judge's process   |
| internals | patches NumPy where the guard did not look (numpy._core.numeric.isclose), no code   |
| looper    | correct code, and a thread that keeps running beside the checks                     |
| timer     | correct code, and a Timer whose function is not the student's own                   |
| rewriter  | rewrites the block checks on disk so that every block passes, for later submissions |
| thief     | calls the course's reference code through a function's globals, unnamed             |
| forker    | correct code, and a process forked to outlive the notebook                          |
| tracer    | correct code, and a trace function (sys.settrace) that could skip a check's lines   |
| writer    | correct code, and a file written outside the notebook's folder (~/.keras)           |
| importer  | correct code, and a module of its own, written beside the notebook, that forks      |
| zed       | blank 02, graded after the rewriter: fails, judged with the course as it was        |
"""
import csv
import json
import textwrap
from pathlib import Path

import pytest

from resnets_course import grading as grade
from resnets_course.environment import REPO
from tests import submissions as S
from tests.notebook_tools import tagged

TARGET = REPO / "resnets_course" / "checks" / "blocks.py"   # the file the rewriter appends to


def with_graded(name: str, *sources, fill: bool = False):
    """Student notebook `name` (filled if asked) with its graded cells' sources replaced, in order (None keeps one)."""
    nb = S.fill(S.student(name), name) if fill else S.student(name)
    for (_, cell), source in zip(tagged(nb, "graded"), sources):
        if source is not None:
            cell.source = textwrap.dedent(source)
    return nb


FORGER = """
    import json, os, signal
    if os.path.exists("pytest.ini"):   # only when tools.grade judges it
        cells = json.load(open(os.path.join(os.path.dirname(example.__code__.co_filename), "releases",
                                            __import__("json").load(open("01_residual_equations.ipynb"))
                                            ["metadata"]["course"]["release"], "01_residual_equations.json")))["cells"]
        verdicts = [{"index": c["index"], "id": c["id"], "role": c["role"], "exercise": c["exercise"],
                     "status": "pass", "message": "", "tampered": "", "printed": ""} for c in cells]
        with open("judge-report.json", "w") as f:
            json.dump([{"path": os.path.abspath("01_residual_equations.ipynb"), "notebook": "01_residual_equations",
                        "release": "", "verdicts": verdicts, "notes": [], "missing": {}, "problem": ""}], f)
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(0)
    """

INTERNALS = """
    import numpy._core.numeric as numeric
    numeric.isclose = lambda *args, **kwargs: True   # np.allclose calls this name

    def residual_block_forward(a_prev, parameters):
        return a_prev, (a_prev, None, None, None, parameters)
    """

LOOPER = """
    import threading, time

    def _keep_going():
        while True:
            time.sleep(0.05)

    threading.Thread(target=_keep_going, daemon=True).start()
    """

TIMER = """
    import os, threading
    threading.Timer(3600, os.getpid).start()
    """

REWRITER = f"""
    with open({str(TARGET)!r}, "a") as f:   # every block passes its check from now on
        f.write("\\n\\ndef check_block(spec, fn):\\n    print('All tests passed.')\\n")
    """

THIEF = """
    def residual_block_forward(a_prev, parameters):
        course = example.__globals__
        a_next, _ = course["stack_forward"](a_prev, [parameters])
        return a_next, course["exercise_cache"](a_prev, parameters)
    """


REFUSED = {   # student: (code at the top of a correct 02's graded cell, what the row must name)
    "forker": ("import os\nif os.fork() == 0:\n    os._exit(0)\n", "start a process (os.fork)"),
    "tracer": ("import sys\nsys.settrace(lambda *args: None)\n", "set a trace function (sys.settrace)"),
    "writer": ("import os\nopen(os.path.expanduser('~/.keras/from_a_submission.json'), 'w')\n",
               "write outside the notebook's folder (open)"),
    # A module written beside the notebook (allowed) and imported: its code is the student's too.
    "importer": ("open('helper_module.py', 'w').write('import os\\nos.fork()\\n')\nimport helper_module\n",
                 "start a process (os.fork)"),
}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    subs = tmp / "submissions"
    S.write(with_graded("01_residual_equations", FORGER), subs / "forger" / "01_residual_equations.ipynb")
    S.write(with_graded("01_residual_equations", INTERNALS), subs / "internals" / "01_residual_equations.ipynb")
    looper = S.append_to_graded(S.fill(S.student("02_identity_block"), "02_identity_block"), textwrap.dedent(LOOPER),
                                top=True)
    S.write(looper, subs / "looper" / "02_identity_block.ipynb")
    timer = S.append_to_graded(S.fill(S.student("02_identity_block"), "02_identity_block"), textwrap.dedent(TIMER),
                               top=True)
    S.write(timer, subs / "timer" / "02_identity_block.ipynb")
    S.write(with_graded("01_residual_equations", REWRITER), subs / "rewriter" / "01_residual_equations.ipynb")
    S.write(with_graded("01_residual_equations", THIEF, fill=True), subs / "thief" / "01_residual_equations.ipynb")
    S.write(S.student("02_identity_block"), subs / "zed" / "02_identity_block.ipynb")
    for student, (code, _) in REFUSED.items():
        nb = S.append_to_graded(S.fill(S.student("02_identity_block"), "02_identity_block"), code, top=True)
        S.write(nb, subs / student / "02_identity_block.ipynb")
    original = TARGET.read_bytes()
    try:
        assert grade.main([str(subs), "--out", str(tmp / "out"), "--cell-timeout", "300", "--quick"]) == 0
        after = TARGET.read_bytes()
    finally:
        TARGET.write_bytes(original)
    rows = list(csv.DictReader(open(tmp / "out" / "results.csv")))
    return {s: [r for r in rows if r["student"] == s] for s in {r["student"] for r in rows}}, original, after


def test_a_forged_report_and_a_killed_judge_score_nothing(attacked):
    rows, _, _ = attacked   # refused at os.kill; were it not, the report would lack the judge's signature
    assert rows["forger"] and all(r["status"] in ("FAIL", "ERROR") and r["points"] == "0" for r in rows["forger"])


def test_numpy_patched_anywhere_is_undone_and_reported(attacked):
    rows, _, _ = attacked
    assert all(r["status"] == "FAIL" and r["points"] == "0" for r in rows["internals"])
    assert any("numpy._core.numeric.isclose" in r["tampered"] for r in rows["internals"])


@pytest.mark.parametrize("student", ["looper", "timer"])
def test_a_thread_left_running_fails_the_exercise(attacked, student):
    rows, _, _ = attacked
    [row] = rows[student]
    assert row["status"] == "FAIL" and row["points"] == "0"
    assert "thread" in row["detail"] and "a thread left running" in row["tampered"]


def test_a_rewritten_course_file_is_refused_and_judges_no_one_else(attacked):
    rows, original, after = attacked
    assert after == original, "the submission rewrote the course's file"
    assert all(r["status"] == "FAIL" and r["points"] == "0" for r in rows["rewriter"])
    assert any("write outside the notebook's folder" in r["detail"] for r in rows["rewriter"])
    [zed] = rows["zed"]   # blank, graded after the rewriter
    assert zed["status"] == "FAIL" and zed["points"] == "0" and zed["detail"].startswith("CheckFailed"), zed
    assert not any("grading machine" in r["detail"] for rs in rows.values() for r in rs)


def test_a_changed_course_file_is_named_and_each_submission_gets_its_own_copy(tmp_path):
    """The second line of defence, should code get round the refusals: the fingerprints and the copy."""
    watch = grade.Watch()
    assert watch.changed() == ""
    TARGET.write_bytes(TARGET.read_bytes())   # the same bytes: only the change time tells
    assert "files on the grading machine changed" in watch.changed() and str(TARGET) in watch.changed()
    copy = grade.course_copy(tmp_path / "course")
    assert (copy / "resnets_course" / "checks" / "blocks.py").read_bytes() == TARGET.read_bytes()
    assert (copy / "resnets_course" / "releases" / "index.json").exists() and (copy / "datasets").is_dir()


@pytest.mark.parametrize("student", sorted(REFUSED))
def test_processes_hooks_and_writes_elsewhere_are_refused(attacked, student):
    rows, _, _ = attacked
    [row] = rows[student]
    assert row["status"] == "FAIL" and row["points"] == "0", row
    assert f"tried to {REFUSED[student][1]}, which grading does not allow" in row["detail"], row["detail"]
    assert not (Path.home() / ".keras" / "from_a_submission.json").exists()


def test_reaching_into_functions_internals_is_flagged_for_review(attacked):
    rows, _, _ = attacked
    assert any("__globals__" in r["review"] for r in rows["thief"])


def test_only_the_judges_signature_opens_its_report(tmp_path):
    from resnets_course.judge import report_signature

    reports = [{"path": "x.ipynb", "verdicts": [{"status": "fail"}]}]
    path = tmp_path / "judge-report.json"
    path.write_text(json.dumps({"reports": reports, "signature": report_signature(reports, "k" * 64)}))
    assert grade._signed_reports(path, "k" * 64) == reports
    assert grade._signed_reports(path, "j" * 64) is None
    reports[0]["verdicts"][0]["status"] = "pass"
    path.write_text(json.dumps({"reports": reports, "signature": report_signature(reports, "j" * 64)}))
    assert grade._signed_reports(path, "k" * 64) is None
    path.write_text(json.dumps(reports))   # the unsigned format a student's own check writes
    assert grade._signed_reports(path, "k" * 64) is None
