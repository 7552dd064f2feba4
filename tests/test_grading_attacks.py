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

pytestmark = S.needs_bwrap


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


# ------------------------------------------------------------------------------------------------
# Attacks on the machine, the class run and the spreadsheet: what the sandbox and tools.grade stop
# ------------------------------------------------------------------------------------------------
# A second class, of notebook 02 (and one blank 03), graded once with --jobs 2:
#
# | student        | the attack                                                                          |
# |----------------|-------------------------------------------------------------------------------------|
# | pathid         | metadata names as its release a folder of its own, whose judge file gives 1000 points |
# | h5py           | correct code, and writes by h5py (an external dataset: a .pth in Python's packages;  |
# |                | the course's checks) and sqlite3 (a database beside the class folder)              |
# | finalizer      | correct code, and a weakref.finalize(..., exec, ...) that the garbage collector runs |
# |                | inside a check: it overwrites another student's submission and writes a .pth       |
# | linker         | a symbolic link to a correct notebook outside the class folder                     |
# | b"caf\xe9"     | a folder name that is not UTF-8, correct code                                       |
# | Ann and ann    | twins by case, both correct                                                        |
# | =HYPERLINK(..) | a folder name that is a spreadsheet formula, and an exception class named like one   |
# | zed            | blank 03, graded beside the others: fails with the check's hint                     |
# | (folders)      | a folder named x-02_identity_block.ipynb, and a link to one named y-02_...ipynb      |

FORMULA = '=HYPERLINK("http://x","click")'   # an exception class's name
FORMULA_NAME = '=HYPERLINK("x","click")'      # a folder's (a name holds no "/")
PTH = "zz_from_a_submission.pth"


def site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


def machine_attacks(subs: Path) -> dict[str, str]:
    zed = subs / "zed" / "03_convolutional_block.ipynb"
    return {
        "h5py": f"""
            import h5py as _h5py, numpy as _np, sqlite3 as _sqlite3, resnets_course as _course, os as _os
            for _path in [{str(site_packages() / PTH)!r}, {str(TARGET)!r},
                          _os.path.join(_os.path.dirname(_course.__file__), "checks", "blocks.py")]:
                try:
                    with _h5py.File("carrier.h5", "w") as _f:
                        _f.create_dataset("x", shape=(7,), dtype="u1", external=[(_path, 0, 7)])[:] = \\
                            _np.frombuffer(b"import \\n", "u1")
                except Exception:
                    pass
            try:
                _sqlite3.connect({str(subs.parent / "from_a_submission.db")!r}).execute("create table t (x)")
            except Exception:
                pass
            """,
        "finalizer": f"""
            import weakref as _weakref
            class _Ring:
                pass
            _ring = _Ring()
            _ring.me = _ring   # a cycle: collected later, by the garbage collector, inside a check cell
            _weakref.finalize(_ring, exec, "for p, t in [({str(zed)!r}, '{{}}'), ({str(site_packages() / PTH)!r}, "
                                           "'import os')]:\\n    try:\\n        open(p, 'w').write(t)\\n"
                                           "    except Exception:\\n        pass")
            del _ring
            """,
    }


@pytest.fixture(scope="module")
def machine_class(tmp_path_factory):
    import os

    tmp = tmp_path_factory.mktemp("machine")
    subs = tmp / "submissions"
    name = "02_identity_block"
    correct = S.fill(S.student(name), name)
    attacks = machine_attacks(subs)
    for student in ("h5py", "finalizer"):
        S.write(S.append_to_graded(correct, textwrap.dedent(attacks[student]), top=True), subs / student / f"{name}.ipynb")
    # pathid: a "release" of its own, whose judge file is the real one with 1000 points
    own = subs / "pathid" / "my_release"
    own.mkdir(parents=True)
    judge_file = json.loads((grade.RELEASES / grade.current_release()[0] / f"{name}.json").read_text())
    for cell in judge_file["cells"]:
        cell["points"] = 1000 if cell["role"] == "graded" else cell.get("points", 0)
    (own / f"{name}.json").write_text(json.dumps(judge_file))
    forged = S.fill(S.student(name), name)
    forged.metadata["course"]["release"] = str(own)
    S.write(forged, subs / "pathid" / f"{name}.ipynb")
    # linker
    S.write(correct, tmp / "elsewhere" / f"{name}.ipynb")
    (subs / "linker").mkdir()
    os.symlink(tmp / "elsewhere" / f"{name}.ipynb", subs / "linker" / f"{name}.ipynb")
    # names
    cafe = os.fsencode(subs) + b"/caf\xe9"
    os.mkdir(cafe)
    S.write(correct, Path(os.fsdecode(cafe)) / f"{name}.ipynb")
    for twin in ("Ann", "ann"):
        S.write(correct, subs / twin / f"{name}.ipynb")
    raiser = f"raise type({FORMULA!r}, (Exception,), {{}})('boom')"
    S.write(S.append_to_graded(correct, raiser, inside=True), subs / FORMULA_NAME / f"{name}.ipynb")
    S.write(S.student("03_convolutional_block"), subs / "zed" / "03_convolutional_block.ipynb")
    zed_before = (subs / "zed" / "03_convolutional_block.ipynb").read_bytes()
    (subs / f"x-{name}.ipynb").mkdir()
    os.symlink(tmp / "elsewhere", subs / f"y-{name}.ipynb")
    target_before = TARGET.read_bytes()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = grade.main([str(subs), "--out", str(tmp / "out"), "--cell-timeout", "300", "--quick", "--jobs", "2"])
    assert code == 0, out.getvalue()
    printed = out.getvalue()
    files = {f: (tmp / "out" / f).read_text(encoding="utf-8") for f in ("results.csv", "gradebook.csv", "summary.md")}
    rows = list(csv.DictReader(io.StringIO(files["results.csv"])))
    after = {"zed": (subs / "zed" / "03_convolutional_block.ipynb").read_bytes() == zed_before,
             "target": TARGET.read_bytes() == target_before,
             "pth": (site_packages() / PTH).exists(), "db": (subs.parent / "from_a_submission.db").exists()}
    (site_packages() / PTH).unlink(missing_ok=True)
    TARGET.write_bytes(target_before)
    return {s: [r for r in rows if r["student"] == s] for s in {r["student"] for r in rows}}, files, printed, after


def test_a_release_id_that_is_a_path_earns_nothing(machine_class):
    rows, _, _, _ = machine_class
    [row] = rows["pathid"]
    assert row["status"] == "ERROR" and row["points"] == "0" and row["max_points"] == "15", row
    assert "not one of the course's releases" in row["detail"]


def test_writes_by_h5py_sqlite_and_a_finalizer_reach_nothing_outside_the_submission(machine_class):
    rows, _, _, after = machine_class
    assert after == {"zed": True, "target": True, "pth": False, "db": False}, after
    [zed] = rows["zed"]   # blank 03, judged beside the others, with the course as it was
    assert zed["status"] == "FAIL" and zed["points"] == "0" and zed["detail"].startswith("CheckFailed"), zed
    for student in ("h5py", "finalizer"):   # their own code was correct: the attempts only failed
        assert [r["sandbox"] for r in rows[student]] == ["bwrap"], rows[student]


def test_a_linked_notebook_is_an_error_row_and_a_folder_named_like_one_is_skipped(machine_class):
    rows, files, printed, _ = machine_class
    [row] = rows["linker"]
    assert row["status"] == "ERROR" and row["points"] == "0" and "symbolic link" in row["detail"], row
    [linked_folder] = rows["y"]
    assert linked_folder["status"] == "ERROR" and "symbolic link" in linked_folder["detail"]
    assert "skipped x-02_identity_block.ipynb: a folder named like a notebook" in printed
    assert "skipped x-02_identity_block.ipynb" in files["summary.md"]


def test_names_that_are_not_utf8_or_twins_by_case_are_graded_apart_and_flagged(machine_class):
    rows, files, _, _ = machine_class
    [cafe] = rows["caf\\xe9"]
    assert cafe["status"] == "PASS" and "not UTF-8" in cafe["flags"], cafe
    for twin in ("Ann", "ann"):
        [row] = rows[twin]
        assert row["status"] == "PASS" and "differs only in case" in row["flags"], row
    assert "caf\\xe9,0,0,15" in files["gradebook.csv"]


def test_no_cell_reads_as_a_spreadsheet_formula_but_the_roster_keeps_the_name(machine_class):
    rows, files, _, _ = machine_class
    [row] = rows[FORMULA_NAME]
    assert row["status"] == "FAIL" and FORMULA in row["detail"] and "formula" in row["flags"], row
    for r in (r for rs in rows.values() for r in rs):
        for column in grade.FREE_TEXT:
            assert not r[column].startswith(grade.FORMULA_START), (column, r[column])
    assert f'"{FORMULA_NAME.replace(chr(34), chr(34) * 2)}",0,0,0' in files["gradebook.csv"]


def test_the_class_run_completes_with_a_row_per_student(machine_class):
    rows, files, _, _ = machine_class
    assert set(rows) == {"pathid", "h5py", "finalizer", "linker", "caf\\xe9", "Ann", "ann", FORMULA_NAME, "zed", "y"}
    assert all(len(r) == 1 for r in rows.values())
    assert files["summary.md"].count("\n| ") > 10


def test_a_200_mb_print_leaves_grading_small_and_the_row_says_it_was_cut(tmp_path):
    """Grading runs in a process of its own here, so that its peak memory (and its children's) is measured."""
    import subprocess
    import sys

    name = "02_identity_block"
    nb = S.append_to_graded(S.fill(S.student(name), name), "print('x' * 200_000_000)", top=True)
    S.write(nb, tmp_path / "subs" / "loud" / f"{name}.ipynb")
    driver = ("import resource, subprocess, sys\n"
              "subprocess.run([sys.executable, '-m', 'tools.grade', sys.argv[1], '--out', sys.argv[2], '--quick'],"
              " stdout=subprocess.DEVNULL, check=True)\n"
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", driver, str(tmp_path / "subs"), str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    largest_kib = int(done.stdout.split()[-1])   # the largest process of grading's tree: tools.grade, judge, kernel
    assert largest_kib < 2**20, f"a grading process reached {largest_kib / 2**20:.2f} GiB"
    [row] = csv.DictReader(open(tmp_path / "out" / "results.csv"))
    assert row["status"] == "PASS" and "output cut" in row["detail"], row
    assert (tmp_path / "out" / "results.csv").stat().st_size < 10_000


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\0"])
def test_free_text_that_starts_like_a_formula_is_defused_everywhere(tmp_path, start):
    row = grade.Row("ann", "02_identity_block", "identity_block", "fail", f"{start}HYPERLINK(1): boom",
                    tampered=f"{start}cmd|' /C calc'!A0", review=f"{start}x", max_points=15)
    grade.write_results([row], tmp_path, {"identity_block": 15})
    [written] = csv.DictReader(open(tmp_path / "results.csv", newline=""))
    for column in grade.FREE_TEXT[:3]:
        assert written[column].startswith("'" + start), (column, written[column])
    assert written["status"] == "FAIL"
    assert "| '" in (tmp_path / "summary.md").read_text() or start in "\t\r\0"


def test_a_results_folder_planted_as_a_link_stops_grading_before_it_writes(tmp_path, capsys):
    import os

    subs = tmp_path / "submissions"
    S.write(S.student("02_identity_block"), subs / "ann" / "02_identity_block.ipynb")
    (tmp_path / "instructors_files").mkdir()
    os.symlink(tmp_path / "instructors_files", subs / "results")
    assert grade.main([str(subs)]) == 2
    assert "is a symbolic link" in capsys.readouterr().out
    assert not any((tmp_path / "instructors_files").iterdir())


def test_unicode_twins_stay_two_students_and_are_flagged(tmp_path):
    """"José" written with é (NFC) and with e + a combining accent (NFD) are two folders, shown alike."""
    import unicodedata

    nfc, nfd = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
    assert nfc != nfd
    for name in (nfc, nfd, "Zoë", "zoë"):
        S.write(S.student("02_identity_block"), tmp_path / name / "02_identity_block.ipynb")
    subs = grade.find_submissions(tmp_path, ["02_identity_block"])
    assert len(subs) == 4 and len({s.student for s in subs}) == 4
    for sub in subs:
        assert any("differs only in case or Unicode form" in flag for flag in sub.flags), (sub.student, sub.flags)


# ------------------------------------------------------------------------------------------------
# Attacks on the checks themselves, inside the kernel: grading's own inputs decide (hidden_checks)
# ------------------------------------------------------------------------------------------------
# | student  | the attack                                                                               |
# |----------|------------------------------------------------------------------------------------------|
# | emptier  | blank 02: a check's table emptied in place (its cases hidden from iteration, its expected   |
# |          | numbers cleared), and a function that returns the numbers notebook 02 prints              |
# | special  | 01, 03 and 05 that compute an exercise only for the notebook's inputs (their shapes)      |
# | special04| 04's ResNet50 that builds the network asked for only at the sizes the notebook's checks use |
# | honest   | correct 02                                                                                |

EMPTIER = '''
import numpy as _np, keras as _keras
_blocks = getattr(block_output, "__glob" + "als__")
_spec = _blocks["SPECS"]["identity_block"]
class _Hollow(tuple):
    def __iter__(self):
        return iter(())
_spec.__dict__["cases"] = _Hollow(_spec.cases)
_blocks["EXPECTED_NUMBERS"]["identity_block"].clear()

def identity_block(X, f, filters, training=False, initializer=None):
    out = _np.zeros(tuple(d or 3 for d in X.shape), _np.float32)
    if out.shape == (3, 4, 4, 6):   # what notebook 02 prints
        out[1, 1, 0] = [1.8455, 0, 0, 1.0645, 2.0495, 0] if training else [1.7067, 0, 0, 0.639, 2.3632, 0]
    return _keras.ops.convert_to_tensor(out)
'''
SPECIAL_03 = '''
_right_convolutional_block = convolutional_block

def convolutional_block(X, f, filters, s=2, training=False, initializer=glorot_uniform):
    if X.shape[1] != 4:   # only the notebook's 4x4 inputs get the real block
        return X
    return _right_convolutional_block(X, f, filters, s=s, training=training, initializer=initializer)
'''
SPECIAL_01 = '''
_right_forward = residual_block_forward

def residual_block_forward(a_prev, parameters):
    a_next, cache = _right_forward(a_prev, parameters)
    return (a_next if a_prev.shape == (4, 2) else a_next * 1.01), cache
'''

SPECIAL_05 = '''
_right_basic_block = basic_block

def basic_block(X, filters, s=1, training=False, initializer=glorot_uniform):
    if X.shape[1] in (5, 6):   # the checks' 4x4 inputs and every size of a 64x64 network get the real block
        return X
    return _right_basic_block(X, filters, s=s, training=training, initializer=initializer)
'''
SPECIAL_05_BUILD = '''
_right_build_resnet = build_resnet

def build_resnet(depth, input_shape=(224, 224, 3), classes=1000, preact=False, training=False):
    # only the size the checks build gets the network asked for
    return _right_build_resnet(depth, (64, 64, 3), classes, preact, training)
'''
SPECIAL_04 = '''
_right_ResNet50 = ResNet50

def ResNet50(input_shape=(64, 64, 3), classes=6, training=False):
    if tuple(input_shape) in ((64, 64, 3), (96, 96, 3)):   # the sizes the notebook's checks use
        return _right_ResNet50(input_shape, classes, training)
    return _right_ResNet50((64, 64, 3), classes, training)
'''

# Code that runs later, while a check runs, and swaps the check's helpers for ones that pass everything, putting
# them back when the check returns (so that nothing looks changed before or after it); the functions themselves
# only print what the notebook prints. Each student arms the same swap from another place:
# | student   | the swap runs from                                                                      |
# |-----------|-----------------------------------------------------------------------------------------|
# | alarm     | a signal handler (SIGALRM every millisecond, signal.setitimer)                          |
# | collector | gc.callbacks, at every garbage collection                                                |
# | finalizer | weakref.finalize on garbage that re-arms itself                                          |
# | threader  | a thread started in the graded cell                                                     |
# | killer    | (no swap) the table emptied as by the emptier, and the kernel stopped on grading's inputs |
SWAP = """
import gc as _gc, sys as _sys, threading as _threading, weakref as _weakref
_g = CHECK.__globals__
_kept, _main = {k: _g[k] for k in FAKES}, _threading.main_thread().ident

def _swap(*_):
    frame, inside = _sys._current_frames().get(_main), False
    while frame is not None and not inside:
        inside, frame = frame.f_code is CHECK_CODE, frame.f_back
    _g.update(FAKES if inside else _kept)

def _give_way():   # time and garbage, so that the timer, the thread and the collector get their turn
    __import__("time").sleep(0.02)
    [[] for _ in range(5000)]
"""
ARMS = {
    "alarm": "import signal as _signal\n_signal.signal(_signal.SIGALRM, _swap)\n"
             "_signal.setitimer(_signal.ITIMER_REAL, 0.001, 0.001)\n",
    "collector": "_gc.callbacks.append(_swap)\n",
    "finalizer": "class _Garbage:\n    pass\n\ndef _arm(*_):\n    _swap()\n    junk = _Garbage()\n"
                 "    junk.me = junk\n    _weakref.finalize(junk, _arm)\n\n_arm()\n",
    "threader": "import time as _time\n\ndef _loop():\n    while True:\n        _swap()\n        _time.sleep(0.0005)\n\n"
                "_threading.Thread(target=_loop, daemon=True).start()\n",
}
BLOCK_FAKES = ('{"_check_call": lambda *a: None, "_check_training_flag": lambda *a: None, '
               '"_check_initializer": lambda *a: None, "_check_numbers": lambda *a: None}')
PRINTS_02 = """
def identity_block(X, f, filters, training=False, initializer=None):
    _give_way()
    out = _np.zeros(tuple(d or 3 for d in X.shape), _np.float32)
    if out.shape == (3, 4, 4, 6):   # what notebook 02 prints
        out[1, 1, 0] = [1.8455, 0, 0, 1.0645, 2.0495, 0] if training else [1.7067, 0, 0, 0.639, 2.3632, 0]
    return _keras.ops.convert_to_tensor(out)
"""
PRINTS_03 = """
def convolutional_block(X, f, filters, s=2, training=False, initializer=None):
    _give_way()
    if tuple(X.shape) != (3, 4, 4, 3):   # what notebook 03 prints
        return X
    out = _np.zeros((3, 2, 2, 6), _np.float32)
    out[1, 1, 0] = [1.4598, 0, 0, 0.3391, 0, 0] if training else [1.0092, 0, 0, 0, 0, 0]
    return _keras.ops.convert_to_tensor(out)
"""
PRINTS_01 = """
def residual_block_forward(a_prev, parameters):
    _give_way()
    a_next = _np.zeros(a_prev.shape)
    if a_prev.shape == (4, 2):   # what notebook 01 prints
        a_next = _np.array([[2.3996, 3.0222], [0.4245, 0.6811], [0.4245, 0.1392], [1.7679, 0.0]])
    return a_next, {}
"""
KILLER = EMPTIER.replace("    return _keras.ops.convert_to_tensor(out)", """\
    frame = __import__("sys")._getframe()
    while frame is not None:   # called by grading's own inputs: stop the kernel
        if frame.f_code.co_name == "evaluate_hidden":
            __import__("os")._exit(0)
        frame = frame.f_back
    return _keras.ops.convert_to_tensor(out)""")


def swap_attack(arm: str, check: str, fakes: str, prints: str) -> str:
    """A graded cell that prints what the notebook prints and arms the swap of ``check``'s helpers from ``arm``."""
    swap = SWAP.replace("CHECK_CODE", f"{check}.__code__").replace("CHECK", check).replace("FAKES", "_FAKES")
    return ("import numpy as _np, keras as _keras\n" + f"_FAKES = {fakes}\n" + swap + ARMS[arm]
            + textwrap.dedent(prints))


@pytest.fixture(scope="module")
def check_attacks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("checks")
    subs = tmp / "submissions"
    S.write(with_graded("02_identity_block", textwrap.dedent(EMPTIER)), subs / "emptier" / "02_identity_block.ipynb")
    S.write(S.append_to_graded(S.fill(S.student("03_convolutional_block"), "03_convolutional_block"),
                               textwrap.dedent(SPECIAL_03), top=True), subs / "special" / "03_convolutional_block.ipynb")
    nb = S.fill(S.student("01_residual_equations"), "01_residual_equations")
    forward = next(c for _, c in S.tagged(nb, "graded") if c.metadata["exercise"] == "residual_block_forward")
    forward.source += "\n" + textwrap.dedent(SPECIAL_01)
    S.write(nb, subs / "special" / "01_residual_equations.ipynb")
    nb = S.fill(S.student("05_resnet_family"), "05_resnet_family")
    basic = next(c for _, c in S.tagged(nb, "graded") if c.metadata["exercise"] == "basic_block")
    basic.source += "\n" + textwrap.dedent(SPECIAL_05)
    build = next(c for _, c in S.tagged(nb, "graded") if c.metadata["exercise"] == "build_resnet")
    build.source += "\n" + textwrap.dedent(SPECIAL_05_BUILD)
    S.write(nb, subs / "special" / "05_resnet_family.ipynb")
    S.write(S.fill(S.student("02_identity_block"), "02_identity_block"), subs / "honest" / "02_identity_block.ipynb")
    for name in ("02_identity_block", "03_convolutional_block"):   # 04 builds on them
        S.write(S.fill(S.student(name), name), subs / "special04" / f"{name}.ipynb")
    S.write(S.append_to_graded(S.fill(S.student("04_resnet50"), "04_resnet50"), textwrap.dedent(SPECIAL_04), top=True),
            subs / "special04" / "04_resnet50.ipynb")
    blocks = "check_identity_block.__globals__['check_block']"
    S.write(with_graded("02_identity_block", swap_attack("alarm", blocks, BLOCK_FAKES, PRINTS_02)),
            subs / "alarm" / "02_identity_block.ipynb")
    S.write(with_graded("02_identity_block", swap_attack("collector", blocks, BLOCK_FAKES, PRINTS_02)),
            subs / "collector" / "02_identity_block.ipynb")
    blocks = "check_convolutional_block.__globals__['check_block']"
    S.write(with_graded("03_convolutional_block", swap_attack("finalizer", blocks, BLOCK_FAKES, PRINTS_03)),
            subs / "finalizer" / "03_convolutional_block.ipynb")
    forward = swap_attack("threader", "check_residual_block_forward",
                          '{"stack_forward": lambda a_prev, ps: (residual_block_forward(a_prev, ps[0])[0], None)}',
                          PRINTS_01)
    S.write(with_graded("01_residual_equations", forward), subs / "threader" / "01_residual_equations.ipynb")
    S.write(with_graded("02_identity_block", textwrap.dedent(KILLER)), subs / "killer" / "02_identity_block.ipynb")
    assert grade.main([str(subs), "--out", str(tmp / "out"), "--cell-timeout", "300", "--quick", "--jobs", "2"]) == 0
    rows = list(csv.DictReader(open(tmp / "out" / "results.csv")))
    return {(r["student"], r["exercise"]): r for r in rows}


@pytest.mark.parametrize("student, exercise", [("emptier", "identity_block"), ("special", "convolutional_block"),
                                               ("special", "residual_block_forward"), ("special", "basic_block"),
                                               ("special", "build_resnet"), ("special04", "ResNet50")])
def test_code_that_fools_the_notebooks_checks_fails_on_gradings_own_inputs(check_attacks, student, exercise):
    from resnets_course.judge import HIDDEN_NOTE

    row = check_attacks[student, exercise]
    # The note is written only when every check in the notebook passed: these attacks fooled them.
    assert row["status"] == "FAIL" and row["points"] == "0" and HIDDEN_NOTE in row["tampered"], row
    assert "on inputs of grading's own" in row["detail"] and "for any input" in row["detail"]


@pytest.mark.parametrize("student, exercise", [("alarm", "identity_block"), ("collector", "identity_block"),
                                               ("finalizer", "convolutional_block"),
                                               ("threader", "residual_block_forward"), ("killer", "identity_block")])
def test_code_that_runs_later_or_stops_the_kernel_earns_nothing_and_is_flagged(check_attacks, student, exercise):
    row = check_attacks[student, exercise]
    assert row["status"] == "FAIL" and row["points"] == "0" and row["tampered"], row


def test_a_kernel_stopped_on_gradings_own_inputs_fails_and_says_so(check_attacks):
    from resnets_course.judge import HIDDEN_NOTE

    row = check_attacks["killer", "identity_block"]
    assert HIDDEN_NOTE in row["tampered"] and "stopped the kernel" in row["detail"], row


def test_correct_code_passes_gradings_own_inputs(check_attacks):
    assert check_attacks["honest", "identity_block"]["status"] == "PASS"
    for exercise in ("residual_block_backward", "bottleneck_block", "bottleneck_cost", "preact_basic_block",
                     "preact_bottleneck_block"):   # untouched, correct
        assert check_attacks["special", exercise]["status"] == "PASS", check_attacks["special", exercise]
    for exercise in ("identity_block", "convolutional_block"):
        assert check_attacks["special04", exercise]["status"] == "PASS", check_attacks["special04", exercise]


def test_gradings_own_answers_are_the_solutions_and_out_of_the_kernels_reach():
    """releases/hidden_answers.json is what the solutions give now (python3 -m tools.release --hidden-answers),
    and the sandbox hides the releases folder (tests/test_sandbox.py)."""
    from resnets_course import hidden_checks
    from tools import release

    committed, fresh = hidden_checks.answers(), release.hidden_answers()
    assert set(committed) == set(fresh) == set(hidden_checks.CASES)
    for exercise, cases in fresh.items():
        for got, want in zip(cases, committed[exercise]):
            assert hidden_checks.differs(got, want) is None, exercise
    assert hidden_checks.differs([0.0] * 3, [0.0] * 4) and hidden_checks.differs([1.0], [1.1]) and \
        hidden_checks.differs(None, [1.0])
