"""Grade a folder of submitted student notebooks against the release they came from.

    python -m tools.grade SUBMISSIONS/ [--out RESULTS/] [--cell-timeout 1800] [--timeout 2400] [--jobs N] [--quick]

A submission is any ``*.ipynb`` under SUBMISSIONS/ whose name contains a course notebook's name,
e.g. ``alice/02_identity_block.ipynb`` or ``bob-03_convolutional_block.ipynb``; the student is the
sub-folder's name, or else what precedes the course notebook's name. Each submission is judged by
``resnets_course.judge`` (the same judge as README's student check) in its own pytest process, so
its own kernel, with a per-cell and an overall timeout: an infinite loop or a crash in one cannot
stop the others. Only the graded cells come from the submission; every other cell runs as released.
With ``--jobs N``, N submissions run side by side on an embedded Dask ``LocalCluster`` (N worker
processes), each with its share of the cores (TensorFlow's threads) and timeouts stretched by as much
as that share is slower; ``--scheduler tcp://HOST:8786`` sends them to an existing Dask cluster whose
workers have the course installed. A task carries the notebooks themselves, not paths, and a worker
that dies has its submission run again elsewhere. Results come in the same order as one by one.
With ``--quick`` (or ``RESNETS_QUICK=1`` in the environment), notebook 04 trains for one epoch on 64
images: its ResNet50 check is graded, its accuracy is not, and its rows say so.

Writes RESULTS/results.csv (one row per student and exercise), RESULTS/gradebook.csv (one row per
student, the points of each exercise and the total: the shape a learning-management system
imports) and RESULTS/summary.md.
"""
from __future__ import annotations

import argparse
import csv
import functools
import hmac
import json
import os
import re
import secrets
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from resnets_course.environment import REPO
from resnets_course.sandbox import COURSE_FILES, SandboxUnavailable, check_available
from resnets_course.judge import (DEFAULT_CELL_TIMEOUT, POINTS_ON, QUICK_ENV, RELEASES, JudgeError,
                                  course_notebook_name, load_release, read_notebook, release_id_of, release_index,
                                  report_signature)

STATUSES = ("pass", "fail", "missing", "error", "timeout")
SUBMISSION_TIMEOUT = 2400   # seconds one submission may run in all: notebook 04's cell and the rest
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Row:
    student: str
    notebook: str
    exercise: str
    status: str      # pass | fail | missing | error | timeout
    detail: str
    tampered: str = ""   # what the submission did to the checks: a check cell edited or deleted, checks changed
    review: str = ""     # graded code that uses names a solution never needs (worth a look, not a verdict)
    points: int = 0
    max_points: int = 0
    release: str = ""
    sandbox: str = ""    # how the kernel ran: "bwrap" (resnets_course/sandbox.py) or "unsandboxed" (--no-sandbox)
    flags: str = ""      # notes for the instructor on the student's name (a formula, twins, not UTF-8)
    judged: tuple = field(default=(), compare=False)   # (start, end) of the judging, in seconds since the epoch


def current_release() -> tuple[str, dict[str, dict]]:
    """The newest release (the last one in releases/index.json): its id and {notebook: judge file}."""
    rid = list(release_index()["releases"])[-1]
    return rid, {p.stem: load_release(rid, p.stem) for p in sorted((RELEASES / rid).glob("*.json"))}


def exercises(release: dict) -> dict[str, int]:
    """Exercise -> points in this notebook (0 for exercises it only checks, such as 04's blocks), in order."""
    found: dict[str, int] = {}
    for cell in release["cells"]:
        name = cell.get("exercise")
        if name and cell["role"] in ("check", "graded"):
            found[name] = max(found.get(name, 0), cell.get("points", 0))
    return found


@dataclass
class Submission:
    """One student's notebook, with the same student's other notebooks (later notebooks import earlier ones).

    It carries the files' bytes, not paths, so that a worker on another machine can grade it. ``student`` is
    the name as shown (``shown``: escapes for what is not printable UTF-8); ``problem`` says why the file
    cannot be judged (a link, not a regular file); ``flags`` are notes for the instructor about the name."""
    student: str
    course: str
    filename: str
    data: bytes
    siblings: dict = field(default_factory=dict)   # course name -> bytes
    problem: str = ""
    flags: list = field(default_factory=list)


#: A submission larger than this is not read (a notebook with all its outputs is a few MB).
LARGEST_SUBMISSION = 64 * 2**20
#: What a spreadsheet takes for the start of a formula (OWASP's list for CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def shown(name: bytes | str) -> str:
    """A file or folder name as text that prints and encodes anywhere: bytes that are not UTF-8 and
    control characters become escapes (\\xNN)."""
    text = name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else name
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")   # lone surrogates from os.fsdecode
    return "".join(c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
                   for c in text)


def _read_regular(path: bytes) -> tuple[bytes, str]:
    """(the file's bytes, '') or (b'', why not): links are not followed, and only regular files are read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        if os.path.islink(path):
            return b"", ("this submission is a symbolic link, and grading does not follow links (it could point "
                         "at anyone's file). Hand in the notebook file itself.")
        return b"", f"this submission could not be read ({e.strerror})."
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return b"", "this submission is not a regular file (a device, a pipe or a socket): hand in the notebook file."
        if st.st_size > LARGEST_SUBMISSION:
            return b"", (f"this submission is {st.st_size / 2**20:.0f} MB, more than a notebook is "
                         f"({LARGEST_SUBMISSION // 2**20} MB at most): clear its outputs and hand it in again.")
        return f.read(LARGEST_SUBMISSION + 1), ""


def find_submissions(folder: Path, names, notes: list | None = None) -> list[Submission]:
    """Every submission in ``folder``: ``*.ipynb`` files whose names contain a course notebook's name.

    Names are read as bytes (a name that is not UTF-8 is graded and shown with escapes). Links are not
    followed: a linked notebook gets a row saying so. A folder named like a notebook is skipped, and
    ``notes`` (if given) says so."""
    notes = [] if notes is None else notes
    root = os.fsencode(folder)
    found = []   # (student's name in bytes, course, file name in bytes, data, problem)
    for here, subfolders, files in os.walk(root, followlinks=False):
        subfolders.sort()
        relative = os.path.relpath(here, root)
        parts = [] if relative == b"." else relative.split(os.sep.encode())
        if b".ipynb_checkpoints" in parts:
            continue
        for name in sorted(files + subfolders):
            course = course_notebook_name(os.fsdecode(name), names)   # course names are ASCII: bytes match alike
            if course is None or not name.endswith(b".ipynb"):
                continue
            path = os.path.join(here, name)
            shown_path = shown(os.path.join(relative, name) if parts else name)
            if os.path.isdir(path) and not os.path.islink(path):
                notes.append(f"skipped {shown_path}: a folder named like a notebook, not a notebook file")
                continue
            student = parts[0] if parts else (name.split(course.encode())[0].strip(b"-_ .") or name[:-len(b".ipynb")])
            data, problem = _read_regular(path)
            found.append((student, course, name, data, problem))
    shown_names = _shown_student_names([s for s, *_ in found])
    return [Submission(shown_names[student][0], course, shown(name), data,
                       {c: d for s, c, _, d, p in found if s == student and c != course and not p},
                       problem, shown_names[student][1])
            for student, course, name, data, problem in found]


def _shown_student_names(students: list[bytes]) -> dict[bytes, tuple[str, list[str]]]:
    """Each student's name as shown, and notes on it for the instructor. Folders are students as bytes:
    twins that differ only in case or Unicode form stay two students, and are flagged."""
    import unicodedata

    result, seen, families = {}, {}, {}
    for student in dict.fromkeys(students):
        name = shown(student)
        if name in seen:   # two byte names shown alike (an escape written out as text)
            seen[name] += 1
            name = f"{name} (twin {seen[name]})"
        seen.setdefault(name, 1)
        flags = []
        try:
            student.decode("utf-8")
        except UnicodeDecodeError:
            flags.append("the student's folder name is not UTF-8: shown with \\x escapes")
        if name.startswith(FORMULA_START):
            flags.append(f"the student's name starts with {name[0]!r}: kept as it is, but a spreadsheet may read "
                         "it as a formula")
        family = unicodedata.normalize("NFC", name).casefold()
        families.setdefault(family, []).append(student)
        result[student] = (name, flags)
    for family, members in families.items():
        if len(members) > 1:
            for student in members:
                others = ", ".join(result[m][0] for m in members if m != student)
                result[student][1].append(f"another folder's name differs only in case or Unicode form: {others}")
    return result


@dataclass
class Share:
    """What one of ``jobs`` side-by-side submissions gets of this machine."""
    jobs: int = 1
    cores: int = os.cpu_count() or 1

    @property
    def threads(self) -> int:
        return max(1, self.cores // self.jobs)

    @property
    def slowdown(self) -> float:
        """How much longer a submission may take than alone on the whole machine."""
        return self.cores / min(self.threads, self.cores / self.jobs)

    def environment(self) -> dict:
        if self.jobs == 1:
            return {}   # alone: TensorFlow's own defaults, as a student's run has them
        threads = str(self.threads)
        return {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": threads}


# The judge's process starts in about 1 s instead of 4 s: pytest loads only the judge (not hypothesis,
# nbval and the other installed plugins), and jsonschema does not build its IRI grammar (2 s at import, for
# a format check that reading notebooks never uses). Each submission still has its own process and kernel.
# The first line on stdin is the key that signs the judge's report (read before pytest replaces stdin).
FAST_PYTEST = ("import sys; sys.modules['rfc3987_syntax'] = None; from resnets_course import judge; "
               "judge.REPORT_KEY = sys.stdin.readline().strip(); import pytest; sys.exit(pytest.main())")


def judge_submission(sub: Submission, cell_timeout: int, timeout: int, env: dict | None = None,
                     sandboxed: bool = True, hidden: bool = True):
    """The judge's report for one notebook, run in a fresh process: (report, None) or (None, problem).

    The notebook runs under its course name beside the same student's other submissions, because
    later notebooks import earlier ones' graded cells. Only that folder (``work``) and the course's copy
    are in the kernel's sandbox; the judge's settings and its report lie beside them, out of its sight.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        work.mkdir()
        for other, data in sub.siblings.items():
            (work / f"{other}.ipynb").write_bytes(data)
        copy = work / f"{sub.course}.ipynb"
        copy.write_bytes(sub.data)
        (tmp / "pytest.ini").write_text("[pytest]\n")   # the course's own pytest settings stay out
        course = course_copy(tmp / "course")   # what the judge and the kernel import
        report = tmp / "judge-report.json"
        cmd = [sys.executable, "-c", FAST_PYTEST, "-p", "resnets_course.judge", "-p", "no:cacheprovider", "-q",
               "--rootdir", str(tmp), "-c", str(tmp / "pytest.ini"), f"--judge-report={report}",
               f"--judge-cell-timeout={cell_timeout}"] + (["--judge-sandbox"] if sandboxed else []) + \
              ([] if hidden else ["--judge-skip-hidden"]) + [str(copy)]
        key = secrets.token_hex(32)
        # The judge's output goes to a file, of which only the end is read: a submission that printed
        # hundreds of megabytes cannot fill this process's memory.
        with tempfile.TemporaryFile() as log:
            try:
                proc = subprocess.run(cmd, cwd=tmp, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                      input=(key + "\n").encode(),
                                      env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {}),
                                           "PYTHONPATH": os.pathsep.join(filter(None, [str(course),
                                                                                       os.environ.get("PYTHONPATH")]))})
            except subprocess.TimeoutExpired:
                return None, f"did not finish within {timeout} s"
            log.seek(max(0, log.seek(0, os.SEEK_END) - 300))
            output = log.read().decode("utf-8", "replace").strip()
        if proc.returncode not in (0, 1):   # pytest's codes for "all passed" and "some failed"
            return None, f"the judge stopped abnormally (exit status {proc.returncode}): {output}"
        if not report.exists():
            return None, "the judge could not run this notebook: " + output
        reports = _signed_reports(report, key)
        if reports is None:
            return None, FORGED
        if not reports:
            return None, "the judge found nothing to judge in this notebook"
        return reports[0], None


FORGED = ("the judge's report of this notebook is not the one the judge signed: code in this submission "
          "tampered with grading. Look at its graded cells.")


def _signed_reports(path: Path, key: str) -> list | None:
    """The reports in the judge's file, or None if the judge did not sign them with ``key``."""
    try:
        content = json.loads(path.read_text())
        reports, signature = content["reports"], content["signature"]
    except (ValueError, TypeError, KeyError, OSError):
        return None
    if not hmac.compare_digest(str(signature), report_signature(reports, key)):
        return None
    return reports


def _status(verdicts: list[dict]) -> tuple[str, str]:
    failed = [v for v in verdicts if v["status"] not in ("pass", "skipped")]
    if not failed:
        return "pass", ""
    # A check's own hint says more than an error in a cell that only prints (e.g. None * 0.5), and more than a
    # cell that only shows the block's output and points on to it ("The check below says more").
    hints = [v for v in failed if v["message"].startswith(("CheckFailed", "CourseError"))]
    first = next((v for v in hints if POINTS_ON not in v["message"]), hints[0] if hints else failed[0])
    if first["status"] == "timeout":
        return "timeout", first["message"]
    if first["status"] == "error" or first["status"] == "not run":
        return "error", first["message"] or "not run"
    return "fail", first["message"]


QUICK_NOTE = "(quick mode: the notebook's training was cut short and its accuracy not checked)"


# ------------------------------------------------------------------------------------------------
# The files a submission must leave alone
# ------------------------------------------------------------------------------------------------
# A submission's code runs with the grader's permissions. Code that rewrote the judge, a check, a release
# or NumPy on disk would change how every later submission is graded. So each submission is judged with
# its own copy of the course's files, written from the copy this process read before it judged anything,
# and between two fingerprints of the course's files and Python's packages: a change is reported, never
# undone (it may be the instructor's own edit). This finds what it looks for; it is not a sandbox
# (book/manual/instructors.md).

PYTHON_PACKAGES = ("numpy", "keras", "tensorflow", "h5py", "PIL", "matplotlib", "IPython", "ipykernel", "jupyter_client",
                   "nbclient", "nbformat", "traitlets", "zmq", "tornado", "pytest", "_pytest", "pluggy")
STARTUP_FILES = ("sitecustomize.py", "usercustomize.py")
_PRISTINE: dict[str, bytes] = {}   # the course's files as this process first read them: relative path -> bytes


def _python_roots() -> list[Path]:
    """The packages the judge and the notebooks import, and the places whose files every Python or
    IPython start runs (.pth files, sitecustomize, IPython's startup scripts and kernel config)."""
    import importlib.util
    import site

    roots = []
    for package in PYTHON_PACKAGES:
        spec = importlib.util.find_spec(package)
        roots += [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for folder in {*site.getsitepackages(), site.getusersitepackages()}:
        folder = Path(folder)
        if folder.is_dir():
            roots += [p for p in folder.iterdir() if p.suffix == ".pth" or p.name in STARTUP_FILES]
    ipython = Path(os.environ.get("IPYTHONDIR", Path.home() / ".ipython"))
    roots += [p for p in ipython.glob("profile_*/startup")] + [p for p in ipython.glob("profile_*/*.py")]
    return roots


def _files(root: Path):
    if root.is_file():
        yield root
        return
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]   # Python writes these on import
        for name in names:
            yield Path(folder) / name


def fingerprint(roots) -> dict:
    """{file: (size, modification time, change time, inode)}: a rewrite changes one of them even when
    the size and the modification time are put back."""
    found = {}
    for root in roots:
        for path in _files(Path(root)):
            try:
                st = path.lstat()
            except OSError:
                continue
            found[str(path)] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    return found


def course_copy(folder: Path) -> Path:
    """Write the course's files, as this process first read them, into ``folder``; return it."""
    if not _PRISTINE:
        for root in COURSE_FILES:
            for path in _files(REPO / root):
                _PRISTINE[str(path.relative_to(REPO))] = path.read_bytes()
    for relative, data in _PRISTINE.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


class Watch:
    """The course's files and Python's, before a submission is judged; ``changed()`` says what differs after."""

    def __init__(self):
        self.roots = [REPO / name for name in COURSE_FILES] + _python_roots()
        self.before = fingerprint(self.roots)

    def changed(self) -> str:
        after = fingerprint(self.roots)
        paths = sorted(p for p in self.before.keys() | after.keys() if self.before.get(p) != after.get(p))
        if not paths:
            return ""
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        return (f"while this submission was judged, files on the grading machine changed: {shown}. If you did not "
                "change them, code in this submission (or in one judged at the same time) did: look at its graded "
                "cells, and put the files back (git checkout; pip install --force-reinstall for Python's). "
                "Submissions are judged with a copy of the course read when grading started.")


def grade_one(sub: Submission, cell_timeout: int, timeout: int, share: Share = Share(), quick: bool = False,
              sandboxed: bool = True, hidden: bool = True) -> list[Row]:
    """The rows of one submission; whatever goes wrong, an ERROR row per exercise, never an exception.
    ``hidden=False`` (bench.grading --hidden-cost only) leaves out grading's own inputs (hidden_checks)."""
    try:
        return _grade_one(sub, cell_timeout, timeout, share, quick, sandboxed, hidden)
    except Exception as e:   # a bug of grading's, or an input nobody foresaw: this student's rows only
        return _rows_for(sub, "error", f"grading could not judge this submission ({type(e).__name__}: "
                                       f"{str(e)[:300]}); the other submissions were graded.", sandboxed)


def _rows_for(sub: Submission, status: str, detail: str, sandboxed: bool) -> list[Row]:
    """One row per exercise of the newest release (a file that could not be read names no release)."""
    try:
        latest = exercises(load_release(current_release()[0], sub.course))
    except Exception:
        latest = {"(notebook)": 0}
    return [_row(sub, ex, pts, sandboxed, status=status, detail=detail) for ex, pts in latest.items()]


def _row(sub: Submission, exercise: str, points: int, sandboxed: bool, **fields) -> Row:
    """A row of ``sub`` for ``exercise``, an ERROR until ``fields`` (or the caller) say otherwise."""
    fields = {"status": "error", "detail": "", **fields}
    return Row(sub.student, sub.course, exercise, max_points=points, flags="; ".join(sub.flags),
               sandbox="bwrap" if sandboxed else "unsandboxed", **fields)


def _grade_one(sub: Submission, cell_timeout: int, timeout: int, share: Share, quick: bool, sandboxed: bool,
               hidden: bool = True) -> list[Row]:
    student, course = sub.student, sub.course
    if sub.problem:
        return _rows_for(sub, "error", sub.problem, sandboxed)
    if sandboxed:
        try:
            sandbox_available()
        except SandboxUnavailable as e:   # a Dask worker without bwrap: never a silent unsandboxed grade
            return _rows_for(sub, "error", f"not graded on this machine: {e}", sandboxed)
    cell_timeout, timeout = round(cell_timeout * share.slowdown), round(timeout * share.slowdown)
    try:
        nb = read_notebook(sub.data)
        rid = release_id_of(nb)
        release = load_release(rid, course)
    except JudgeError as e:   # rows for the exercises of the newest release, since the file names none
        return _rows_for(sub, "error", str(e), sandboxed)
    reads_quick_mode = release.get("reads_quick_mode",   # releases before 2026-12 have no flag: their source says
                                   any("quick_run()" in c["source"] for c in release["cells"]))
    env = {**share.environment(), QUICK_ENV: "1" if quick else ""}
    watch = None if sandboxed else Watch()   # in the sandbox, the course and Python's packages are read-only
    started = time.time()
    report, problem = judge_submission(sub, cell_timeout, timeout, env, sandboxed, hidden)
    judged = (started, time.time())
    problem = (watch.changed() if watch else "") or problem
    rows = []
    for exercise, points in exercises(release).items():
        row = _row(sub, exercise, points, sandboxed, release=rid, judged=judged)
        if problem or report.get("problem"):
            row.status = "timeout" if problem and problem.startswith("did not finish") else "error"
            row.detail = problem or report["problem"]
        else:
            verdicts = [v for v in report["verdicts"] if v["exercise"] == exercise and v["role"] == "check"]
            graded = [v for v in report["verdicts"] if v["exercise"] == exercise and v["role"] == "graded"]
            row.status, row.detail = _status(verdicts)
            if exercise in report["missing"]:
                row.status, row.detail = "missing", report["missing"][exercise]
            row.tampered = "; ".join(sorted({v["tampered"] for v in verdicts if v["tampered"]}))
            row.review = "; ".join(sorted({v["tampered"] for v in graded if v["tampered"]}))
        row.detail = ANSI.sub("", row.detail).replace(POINTS_ON, "").strip()
        if report and any(v.get("cut") for v in report["verdicts"] if v["exercise"] == exercise):
            row.detail = " ".join(filter(None, [row.detail, CUT_NOTE]))
        if quick and reads_quick_mode:
            row.detail = " ".join(filter(None, [row.detail, QUICK_NOTE]))
        row.points = points if row.status == "pass" else 0
        rows.append(row)
    return rows


CUT_NOTE = "(output cut: this exercise's code printed more than grading keeps)"


@functools.cache
def _sandbox_problem() -> SandboxUnavailable | None:
    try:
        check_available()
    except SandboxUnavailable as e:
        return e
    return None


def sandbox_available() -> None:
    """Raise SandboxUnavailable unless this machine can sandbox a kernel (asked once per process)."""
    problem = _sandbox_problem()
    if problem is not None:
        raise problem


COLUMNS = ["student", "notebook", "exercise", "status", "detail", "tampered", "review", "points", "max_points", "release",
           "sandbox", "flags"]
FREE_TEXT = ("detail", "tampered", "review", "flags")   # what a submission's code or files can put words in


def cell(row: Row, column: str):
    """A row's value as results.csv holds it: status words in capitals, and free text that a spreadsheet
    would take for a formula (``=``, ``+``, ``-``, ``@``, tab, CR, NUL first) behind a ``'`` (OWASP)."""
    value = getattr(row, column)
    if column == "status":
        return value.upper()
    if column in FREE_TEXT and isinstance(value, str):
        return _defused(value)
    return value


def _defused(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


RESULT_FILES = ("results.csv", "gradebook.csv", "summary.md")


def write_results(rows: list[Row], out: Path, graded: dict[str, int], notes: list[str] = ()) -> None:
    """results.csv, gradebook.csv and summary.md; ``graded`` is every graded exercise -> its points;
    ``notes``: lines for the instructor (files skipped, how the kernels ran)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([cell(r, c) for c in COLUMNS])
    students = list(dict.fromkeys(r.student for r in rows))
    earned = {(r.student, r.exercise): r.points for r in rows if r.max_points}
    with open(out / "gradebook.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student"] + [f"{ex} ({pts})" for ex, pts in graded.items()] + [f"total ({sum(graded.values())})"])
        for s in students:
            points = [earned.get((s, ex), 0) for ex in graded]
            writer.writerow([s] + points + [sum(points)])
    md = lambda text: " ".join(str(text).split()).replace("|", "/")
    lines = ["# Grading summary", "", "| student | notebook | exercise | result | points | tampered | detail |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {md(r.student)} | {r.notebook} | {r.exercise} | {r.status.upper()} | "
                     f"{r.points}/{r.max_points} | {md(_defused(r.tampered))} | {md(_defused(r.detail))} |")
    passed = sum(r.status == "pass" for r in rows)
    lines += ["", f"{passed} of {len(rows)} exercises passed.", "", "| student | points |", "|---|---|"]
    for s in students:
        lines.append(f"| {md(s)} | {sum(earned.get((s, ex), 0) for ex in graded)} of {sum(graded.values())} |")
    flagged = {(r.student, r.flags) for r in rows if r.flags}
    notes = list(notes) + [f"{student}: {flags}" for student, flags in sorted(flagged)]
    if any(r.sandbox == "unsandboxed" for r in rows):
        notes.append("graded without the sandbox (--no-sandbox): the submissions' code ran with your permissions")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {md(note)}" for note in notes]
    (out / "summary.md").write_text(ANSI.sub("", "\n".join(lines)) + "\n", encoding="utf-8")


def grade_all(subs: list[Submission], cell_timeout: int, timeout: int, jobs: int = 1, quick: bool = False,
              scheduler: str | None = None, client=None, sandboxed: bool = True) -> list[list[Row]]:
    """Each submission's rows, in order: one by one here, or side by side on Dask.

    ``client``: a ``dask.distributed.Client`` to use as it is; else ``scheduler``'s cluster, else (jobs > 1)
    a LocalCluster of ``jobs`` worker processes, one submission at a time each.
    """
    if client is None and scheduler is None and jobs <= 1:
        results = []
        for sub in subs:
            results.append(grade_one(sub, cell_timeout, timeout, Share(1), quick, sandboxed))
            print(f"checked {sub.student}: {sub.filename}", flush=True)
        return results
    from dask.distributed import Client, LocalCluster, as_completed

    # On a cluster of other machines each worker runs alone on its own share; here, jobs share this machine.
    share = Share(1) if scheduler else Share(min(jobs, max(1, len(subs))))
    cluster, own_client = None, client is None
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            # The scheduler serves HTTP even without a dashboard, on port 8787 unless told otherwise (and then warns
            # "Port 8787 is already in use" when another cluster has it): any free port, on this machine only.
            cluster = LocalCluster(n_workers=share.jobs, threads_per_worker=1, processes=True,
                                   dashboard_address="127.0.0.1:0")
            client = Client(cluster)
    try:
        futures = [client.submit(grade_one, sub, cell_timeout, timeout, share, quick, sandboxed, pure=False)
                   for sub in subs]
        index = {future.key: k for k, future in enumerate(futures)}
        results: list = [None] * len(subs)
        for future in as_completed(futures):
            k = index[future.key]
            sub = subs[k]
            try:
                results[k] = future.result()
            except Exception as e:   # the task itself was lost (its workers died again and again)
                results[k] = _rows_for(sub, "error", f"grading lost this submission on the cluster "
                                                     f"({type(e).__name__}: {str(e)[:200]})", sandboxed)
            print(f"checked {sub.student}: {sub.filename}", flush=True)
        return results
    finally:
        if own_client:   # a client left open keeps reconnecting to a cluster that may be gone
            client.close()
        if cluster is not None:
            cluster.close()


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Grade submitted student notebooks against their release.")
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="folder for results.csv, gradebook.csv and summary.md")
    parser.add_argument("--cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT,
                        help="seconds one cell may run (notebook 04 trains ResNet-50 in one cell, about 10 minutes)")
    parser.add_argument("--timeout", type=int, default=SUBMISSION_TIMEOUT, help="seconds one submission may run in all")
    parser.add_argument("--jobs", type=int, default=1,
                        help="submissions judged side by side, on a Dask LocalCluster of this many workers (default 1)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                        help="judge on this existing Dask cluster instead (its workers need the course installed)")
    parser.add_argument("--quick", action="store_true", default=os.environ.get(QUICK_ENV) == "1",
                        help="notebook 04: grade the ResNet50 check with a one-epoch training run, not the accuracy")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run the kernels without bubblewrap (every row then says 'unsandboxed'): only where "
                             "the whole grading machine is a throwaway container")
    return parser


def main(argv=None) -> int:
    parser = argument_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if not args.submissions.is_dir():
        print(f"{args.submissions} is not a folder of submissions")
        return 2
    out = args.out or args.submissions / "results"
    linked = [p for p in (out, *(out / name for name in RESULT_FILES)) if p.is_symlink()]
    if linked:   # a link planted in the class folder would send the results (and their writes) elsewhere
        print(f"Grading stopped before any submission ran: {linked[0]} is a symbolic link. Remove it, or name "
              "another folder with --out.")
        return 2
    sandboxed = not args.no_sandbox
    if sandboxed and not args.scheduler:   # a cluster's workers check for themselves: ERROR rows where they cannot
        try:
            sandbox_available()
        except SandboxUnavailable as e:
            print(f"Grading stopped before any submission ran: {e}")
            return 2
    _, latest = current_release()
    notes: list[str] = []
    found = find_submissions(args.submissions, latest, notes)
    for note in notes:
        print(note)
    rows = [row for rows_of_one in grade_all(found, args.cell_timeout, args.timeout, args.jobs, args.quick,
                                             args.scheduler, sandboxed=sandboxed) for row in rows_of_one]
    if not rows:
        print("no submissions found: file names must contain a course notebook's name, e.g. 02_identity_block")
        return 2
    graded = {c["exercise"]: c.get("points", 0) for name in sorted(latest) for c in latest[name]["cells"]
              if c["role"] == "graded"}
    write_results(rows, out, graded, notes)
    print((out / "summary.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
