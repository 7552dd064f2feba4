"""The judge: run a student's notebook against the pristine release, as a pytest plugin.

    python3 -m pytest notebooks/student/02_identity_block.ipynb      # a student checks their work
    python3 -m tools.grade submissions/                               # an instructor grades a class

Both commands judge a notebook the same way. Only the graded cells come from the student's file. Every
other code cell (its source, its expected outputs, its execution count) comes from the release the
notebook was made from, matched by cell id; the release is named by the id that ``tools.release``
stamps in the notebook's metadata (``metadata.course.release``) and stored in ``releases/<id>/``. What
the student's file stored or printed never decides anything:

- a check cell the student edited or deleted runs as released, and the edit is reported (``tampered``);
- the outputs stored in the student's file are never read (stale errors do not matter);
- what the student's code prints (inside a graded function or at the top level of a graded cell) is
  kept out of every compared output and shown beside the verdict;
- numbers in outputs are compared within the release's stated tolerance, the text around them exactly;
- quick mode (``RESNETS_QUICK=1``) is read here, outside the kernel, and enforced before every cell;
- a graded cell that replaces or patches a check function fails its exercise (``judge_kernel``);
- an exercise whose checks passed is called once more on grading's own inputs, and its numbers are compared
  here with the solution's, which the kernel never sees (``hidden_checks``).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import pytest
import zmq.asyncio
from nbclient import NotebookClient

from resnets_course import judge_kernel
from resnets_course.checks.messages import POINTS_ON

RELEASES = Path(__file__).resolve().parent / "releases"
QUICK_ENV = judge_kernel.QUICK_ENV
DEFAULT_CELL_TIMEOUT = 1800
#: Numbers in compared outputs may differ by ``abs + rel * |expected|``: the last printed digit can
#: change with the CPU's kernels (Apple silicon, other BLAS builds, oneDNN off).
TOLERANCE = {"abs": 1e-3, "rel": 1e-4}
#: An exercise that passed the notebook's checks and failed grading's own (hidden_checks).
HIDDEN_FAILED = ("CheckFailed: on inputs of grading's own (other sizes, filters and seeds than the notebook prints), "
                 "your {exercise} {problem}, although the notebook's checks passed. Your code works only for the "
                 "notebook's inputs, or it changed what the checks do: make it compute the exercise for any input.")
HIDDEN_NOTE = "failed on grading's own inputs"
#: An exercise whose checks passed in a kernel that died before grading's own inputs could be tried.
HIDDEN_NOT_RUN = ("CheckFailed: grading could not call your {exercise} on inputs of its own, because {dead}. "
                  "Points need that call: run the notebook from the top and fix the cell that stops the kernel.")
#: A check's own words (its exception's name), and the start of an output's difference.
HINTS = ("CheckFailed", "CourseError", "DatasetError")
DIFFERS = "The output differs from the expected output"
#: Seconds one of the judge's own calls into the kernel (the guard, grading's own inputs) may take.
HIDDEN_CALL_TIMEOUT = 120
SANITIZE_FILE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"   # nbval's runs of the solutions read it too


def _sanitizers() -> list:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SANITIZE_FILE)
    found = [(re.compile(parser[s]["regex"]), parser[s].get("replace", "")) for s in parser.sections()]
    return found + [(re.compile(r"\x1b\[[0-9;]*[A-Za-z]"), "")]   # terminal colours


SANITIZE = _sanitizers()
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
# Names a graded cell has no reason to touch: an instructor should look at a submission that does.
# Reaching into functions' internals, files, processes and threads too: that is how code finds the course's
# reference code or a solution on the grading machine without naming them.
SUSPICIOUS = re.compile(r"\b(?:check_\w+|block_checks|resnet_checks|family_checks|resnets_utils|resnets_course|"
                        r"judge_kernel|get_ipython|builtins|__builtins__|sys\.modules|setattr|globals|importlib|"
                        r"__import__|os\.environ|environ|RESNETS_QUICK|sys\.stdout|sys\.stderr|__globals__|__code__|"
                        r"co_filename|__closure__|__subclasses__|__dict__|f_globals|f_back|_getframe|__file__|"
                        r"subprocess|threading|_thread|Timer|signal|ctypes|inspect|os\.system|os\.kill)\b|"
                        # Python's own open, exec, eval and compile, not a method of the same name (Keras's
                        # model.compile, which notebook 06's exercise calls); files' read and write methods
                        r"(?<![\w.])(?:open|exec|eval|compile)(?=\()|\b(?:io|os)\.open(?=\()|"
                        r"\b(?:read_text|read_bytes|write_text|write_bytes)(?=\()")


#: What of the judge's environment a sandboxed kernel gets (it gets nothing else): quick mode and thread counts.
KERNEL_ENVIRONMENT = (QUICK_ENV, "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                      "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES")


class JudgeError(Exception):
    """The notebook cannot be judged (unknown release, not a notebook): the message says why and what to do."""


# ------------------------------------------------------------------------------------------------
# Releases
# ------------------------------------------------------------------------------------------------

def release_index() -> dict:
    return json.loads((RELEASES / "index.json").read_text())


RELEASE_ID = re.compile(r"[0-9a-f]{12}")


def release_id_of(nb) -> str:
    """The release a student notebook was made from; notebooks released before ids existed have none.

    A notebook's metadata is the student's to edit: the id it names must be one of the course's own
    releases (its index), never a path."""
    course = nb.get("metadata", {}).get("course", {})
    course = course if isinstance(course, dict) else {}
    named = course.get("release")
    index = release_index()
    if not named:
        return index["unstamped"]
    if not isinstance(named, str) or not RELEASE_ID.fullmatch(named) or named not in index["releases"]:
        shown = named if isinstance(named, str) and re.fullmatch(r"[\w.-]{1,40}", named) else repr(named)[:80]
        raise JudgeError(f"this notebook names release {shown}, which is not one of the course's releases "
                         f"({', '.join(index['releases'])}): its metadata (course.release) was changed. Ask your "
                         f"instructor for the student notebook of your release and copy your graded cells into it.")
    return named


def is_student_notebook(nb) -> bool:
    course = nb.get("metadata", {}).get("course", {})
    return isinstance(course, dict) and bool(course.get("release") or course.get("student_version"))


def load_release(release_id: str, notebook: str, folder: Path | None = None) -> dict:
    """The judge file of ``notebook`` (e.g. "02_identity_block") in release ``release_id``."""
    folder = Path(folder) if folder is not None else RELEASES / release_id
    path = folder / f"{notebook}.json"
    if not path.exists():
        known = sorted(p.name for p in RELEASES.iterdir() if p.is_dir()) if RELEASES.is_dir() else []
        raise JudgeError(f"this notebook comes from release {release_id}, which has no judge file {path} "
                         f"(releases here: {', '.join(known) or 'none'}). Update the course "
                         f"(git pull) or ask your instructor for the course files of that release.")
    return json.loads(path.read_text())


def course_notebook_name(path: Path, names) -> str | None:
    """The course notebook a file is a copy of: the longest course name its file name contains."""
    return next((n for n in sorted(names, key=len, reverse=True) if n in Path(path).name), None)


# ------------------------------------------------------------------------------------------------
# Comparing outputs
# ------------------------------------------------------------------------------------------------

def _sanitize(text: str) -> str:
    for pattern, replacement in SANITIZE:
        text = pattern.sub(replacement, text)
    return text


def comparable(outputs) -> list[tuple[str, str]]:
    """What is compared of a cell's outputs: stdout (joined), each result's text/plain, and errors.

    stderr is left out: TensorFlow and other libraries warn there differently on other platforms.
    """
    found: list[tuple[str, str]] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            if out.get("name") != "stdout":
                continue
            text = _sanitize("".join(out.get("text", "")))
            if found and found[-1][0] == "stdout":
                found[-1] = ("stdout", found[-1][1] + text)
            else:
                found.append(("stdout", text))
        elif kind in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain")
            if text is not None:
                found.append((kind, _sanitize("".join(text))))
        elif kind == "error":
            found.append(("error", f"{out.get('ename')}: {_sanitize(out.get('evalue', ''))}"))
    return [(k, t) for k, t in found if not (k == "stdout" and not t)]


def _split(text: str) -> tuple[str, list[str]]:
    numbers = NUMBER.findall(text)
    skeleton = " ".join(NUMBER.sub("#", text).split())
    # NumPy pads arrays to the widest number: "[0.639 ]" beside "[0.6391]"
    skeleton = re.sub(r"([\[(]) | ([\])])", lambda m: m.group(1) or m.group(2), skeleton)
    return skeleton, numbers


def _same_number(got: str, expected: str, tolerance: dict) -> bool:
    exact = not any(c in expected + got for c in ".eE")
    if exact:
        return int(got) == int(expected)
    a, b = float(got), float(expected)
    return abs(a - b) <= tolerance["abs"] + tolerance["rel"] * abs(b)


def same_text(got: str, expected: str, tolerance: dict) -> bool:
    """Equal up to runs of white space, with numbers within ``tolerance`` (integers exactly)."""
    (skeleton_a, numbers_a), (skeleton_b, numbers_b) = _split(got), _split(expected)
    return (skeleton_a == skeleton_b and len(numbers_a) == len(numbers_b)
            and all(_same_number(a, b, tolerance) for a, b in zip(numbers_a, numbers_b)))


def compare(got, expected, tolerance: dict) -> str | None:
    """None if the fresh outputs match the release's; else what differs, in words."""
    mine, theirs = comparable(got), comparable(expected)
    if len(mine) == len(theirs) and all(a[0] == b[0] and same_text(a[1], b[1], tolerance)
                                        for a, b in zip(mine, theirs)):
        return None
    show = lambda items: _capped("\n".join(text.rstrip("\n") for _, text in items) or "(nothing)", 4_000)
    return (f"{DIFFERS} (numbers may differ by {tolerance['abs']:g}"
            f" + {tolerance['rel']:g} x the number).\n--- expected ---\n{show(theirs)}\n--- got ---\n{show(mine)}")


# ------------------------------------------------------------------------------------------------
# The plan: which source runs for each release cell
# ------------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    index: int                    # the cell's number among the release's code cells (nbval's "Cell N")
    id: str
    role: str                     # graded | check | depends | setup
    exercise: str | None
    status: str = "not run"       # pass | fail | error | timeout | skipped | not run
    message: str = ""
    tampered: str = ""            # what the student's file did to this cell (edited, deleted) or its code changed
    printed: str = ""             # what the student's code printed while this cell ran (never compared)
    cut: bool = False             # its output, or what the student's code printed, was more than grading keeps

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "skipped")


@dataclass
class Step:
    cell: dict                    # the release's cell
    source: str                   # what runs: the release's source, or the student's graded source
    student: bool
    note: str = ""                # tampering seen in the student's file
    place: str = ""               # where the student's file has it, as JupyterLab counts: "cell 10 of 15"


def _marker(source: str, name: str) -> bool:
    return any(line.strip().upper().startswith(f"# {name}") or line.strip().upper().startswith(f"#{name}")
               for line in source.splitlines())


#: A line that only tells nbval how to compare a cell (``# NBVAL_IGNORE_OUTPUT`` and the like). Student notebooks
#: leave them out (they are test-suite words); the release's judge files keep them beside the source.
TEST_MARKER_LINE = re.compile(r"^[ \t]*#[ \t]*NBVAL_[A-Z_]+[^\n]*(?:\n|$)", re.M | re.I)


def without_test_markers(source: str) -> str:
    """``source`` without its nbval marker lines: what a student's notebook shows of a released cell."""
    return TEST_MARKER_LINE.sub("", source)


def _student_code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _find_graded(cells, release_cell: dict):
    """The student's version of a graded cell: by id, else by its tags, else by the function it defines."""
    by_id = [c for c in cells if c.get("id") == release_cell["id"]]
    if by_id:
        return by_id[0]
    exercise = release_cell.get("exercise")
    tagged = [c for c in cells if "graded" in c.metadata.get("tags", []) and c.metadata.get("exercise") == exercise]
    if tagged:
        return tagged[0]
    defining = [c for c in cells if re.search(rf"^def {re.escape(exercise or '')}\(", c.source, re.M)]
    return defining[0] if defining else None


def plan(nb, release: dict) -> tuple[list[Step], list[str], dict[str, str]]:
    """(steps, notes for the student, {exercise: problem}) for judging notebook ``nb`` by ``release``."""
    cells = _student_code_cells(nb)
    by_id = {c.get("id"): c for c in cells if c.get("id")}
    release_ids = {c["id"] for c in release["cells"]}
    steps, notes, missing = [], [], {}
    numbers = {id(c): k for k, c in enumerate(nb.cells, start=1)}

    def place(mine) -> str:
        return f"cell {numbers[id(mine)]} of {len(nb.cells)}" if mine is not None else ""

    for cell in release["cells"]:
        if cell["role"] == "graded":
            mine = _find_graded(cells, cell)
            if mine is None:
                missing[cell["exercise"]] = f"the graded cell of {cell['exercise']} was deleted"
                steps.append(Step(cell, cell["source"], True, "deleted"))
                continue
            steps.append(Step(cell, mine.source, True, _suspicious(mine.source), place(mine)))
            release_ids.add(mine.get("id"))
            continue
        mine = by_id.get(cell["id"])
        note = ""
        if mine is None:
            note = "deleted" if cell["role"] == "check" else ""
        elif without_test_markers(mine.source).strip() != without_test_markers(cell["source"]).strip():
            note = "edited"
        if note:
            notes.append(f"Cell {cell['index']} ({cell['role']}) was {note} in your notebook: it ran as released.")
        steps.append(Step(cell, cell["source"], False, note, place(mine)))
    extra = [c for c in cells if c.get("id") not in release_ids]
    if extra:
        notes.append(f"{len(extra)} code cell(s) of your own were not run: only the graded cells are judged.")
    return steps, notes, missing


def _suspicious(source: str) -> str:
    found = sorted(set(SUSPICIOUS.findall(source)))
    return f"graded code uses {', '.join(found)}" if found else ""


# ------------------------------------------------------------------------------------------------
# Running a plan in a kernel
# ------------------------------------------------------------------------------------------------

def _course_modules(release: dict) -> list[str]:
    """The course modules the release's cells import: imported by the guard before any student code runs."""
    found = []
    for cell in release["cells"]:
        if cell["role"] == "graded":
            continue
        for match in re.finditer(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", cell["source"], re.M):
            name = match.group(1) or match.group(2)
            if judge_kernel._is_course(name) and name not in found:
                found.append(name)
    return found


class Judge:
    """Runs one notebook's plan in a fresh kernel, cell by cell, and gives each cell its verdict."""

    def __init__(self, nb, release: dict, workdir: Path, quick: bool, cell_timeout: int = DEFAULT_CELL_TIMEOUT,
                 sandboxed: bool = False):
        self.release = release
        self.sandboxed = sandboxed
        self.tolerance = release.get("tolerance", TOLERANCE)
        self.steps, self.notes, self.missing = plan(nb, release)
        self.workdir, self.quick, self.cell_timeout = Path(workdir), quick, cell_timeout
        self.client = None
        self.kernel_log = None
        self.dead = ""
        self.changed_by: dict[str, list[str]] = {}     # exercise -> what its code changed in the checks
        self.last_student_exercise: str | None = None
        self.verdicts: list[Verdict] = [Verdict(s.cell["index"], s.cell["id"], s.cell["role"], s.cell.get("exercise"))
                                        for s in self.steps]

    # -- the kernel ----------------------------------------------------------------------------------
    def start(self) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager
        import ipykernel.kernelspec

        spec = ipykernel.kernelspec.get_kernel_dict()
        connection = {}
        if self.sandboxed:
            from resnets_course import environment, sandbox

            box = sandbox.Sandbox.beside(environment.REPO, self.workdir)
            env = box.environment({name: os.environ.get(name) for name in KERNEL_ENVIRONMENT})
            spec = {**spec, "argv": box.command(spec["argv"], env), "interrupt_mode": "message"}
            # Unix sockets in a folder the sandbox shares: a TCP kernel in its own network could not be reached.
            connection = {"transport": "ipc", "ip": str(box.sockets / "kernel"),
                          "connection_file": str(box.sockets / "connection.json")}

        class CurrentEnvironment(KernelSpecManager):
            def get_kernel_spec(self, kernel_name):
                return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES, **spec)

        owner = box.uid if self.sandboxed and os.geteuid() == 0 else None   # the kernel's own user, as root

        class Manager(AsyncKernelManager):
            def write_connection_file(self, **kwargs):
                super().write_connection_file(**kwargs)
                if owner is not None:   # the kernel's user reads it (it stays 0600)
                    os.chown(self.connection_file, owner, owner)

        # A message larger than this from the kernel is refused (its connection dropped) before it is read.
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, LARGEST_MESSAGE)
        km = Manager(kernel_name="resnets-judge", kernel_spec_manager=CurrentEnvironment(), context=context,
                     **connection)
        # nbclient runs cells of a notebook: one slot, refilled for each cell the judge sends.
        slot = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
        # The kernel is thrown away once judged: killing it spares TensorFlow's 2 s of graceful exit.
        self.client = _CappedClient(slot, km=km, timeout=self.cell_timeout, shutdown_kernel="immediate",
                                    allow_errors=True, interrupt_on_timeout=False, startup_timeout=120)
        # What the kernel writes to its own stdout and stderr goes to a file, of which a report keeps the end.
        self.kernel_log = tempfile.TemporaryFile()
        try:
            self.client.start_new_kernel(cwd=str(self.workdir), stdout=self.kernel_log, stderr=self.kernel_log)
            self.client.start_new_kernel_client()
        except RuntimeError as e:   # the kernel died as it started
            raise JudgeError(f"the kernel did not start ({e}): {_tail(self.kernel_log)}") from None
        report = self._hidden(f"install({self.quick!r}, {_course_modules(self.release)!r})")
        if not report.get("installed"):
            raise JudgeError(f"the judge could not start its guard in the kernel: {report}")

    def stop(self) -> None:
        if self.client is not None and self.client.km is not None:
            try:
                self.client._cleanup_kernel()
            except Exception:
                pass
        self.client = None
        if self.kernel_log is not None:
            self.kernel_log.close()

    def _execute(self, source: str, store_history: bool, timeout: int | None = None):
        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells[0] = cell
        self.client.timeout = timeout or self.cell_timeout
        self.client.kept, self.client.cut = 0, False
        self.client.execute_cell(cell, 0, store_history=store_history)
        return cell.outputs

    def _hidden(self, call: str) -> dict:
        outputs = self._execute(f"__import__('resnets_course.judge_kernel', fromlist=['_']).{call}",
                                store_history=False, timeout=HIDDEN_CALL_TIMEOUT)
        reports = [line[len(judge_kernel.MARKER):] for out in outputs if out.get("output_type") == "stream"
                   for line in "".join(out.get("text", "")).splitlines() if line.startswith(judge_kernel.MARKER)]
        if len(reports) == 1:
            return json.loads(reports[0])
        if len(reports) > 1:   # the guard writes one: code of the student's wrote the others
            return {"error": f"{len(reports)} reports came back from one call of the guard"}
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
        return {"error": "; ".join(errors) or "no report"}

    # -- one cell ------------------------------------------------------------------------------------
    def run(self, k: int) -> Verdict:
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        step, verdict = self.steps[k], self.verdicts[k]
        verdict.tampered = step.note
        if self.dead:
            verdict.status, verdict.message = "error", f"not run: {self.dead}"
            return verdict
        if _marker(step.source, "NBVAL_SKIP") and not step.student:
            verdict.status = "skipped"
            return verdict
        try:
            if step.student:
                outputs = self._run_student(step, verdict)
            else:
                outputs = self._run_release(step, verdict)
        except CellTimeoutError:
            verdict.status = "timeout"
            verdict.message = f"Timeout: the cell did not finish within {self.cell_timeout} s."
            self._interrupt()
            return verdict
        except DeadKernelError:
            self.dead = "the kernel died (your code may have crashed Python or used too much memory)"
            verdict.status, verdict.message = "error", self.dead
            return verdict
        verdict.cut = verdict.cut or self.client.cut
        self._judge(step, verdict, outputs)
        verdict.message, verdict.printed = _capped(verdict.message), _capped(verdict.printed)
        return verdict

    def verify_hidden(self) -> None:
        """Each exercise whose checks passed is called once more, on grading's own inputs, and its numbers are
        compared here with the solution's, which the kernel never had (``hidden_checks``)."""
        from nbclient.exceptions import CellTimeoutError

        from resnets_course import hidden_checks

        answers = hidden_checks.answers()
        graded = dict.fromkeys(s.cell.get("exercise") for s in self.steps if s.cell["role"] == "graded")
        for exercise in (e for e in graded if e in answers and e in hidden_checks.CASES):
            checks = [v for v in self.verdicts if v.exercise == exercise and v.role == "check"]
            if not checks or not all(v.passed for v in checks):
                continue   # a failing exercise already says why
            for case, want in zip(hidden_checks.CASES[exercise], answers[exercise]):
                if self.dead:   # points need this call's answer: a kernel killed on purpose earns nothing
                    self._fail_hidden(checks[-1], HIDDEN_NOT_RUN.format(exercise=exercise, dead=self.dead))
                    break
                try:
                    report = self._hidden(f"evaluate_hidden({exercise!r}, {case!r})")
                except CellTimeoutError:
                    self._interrupt()
                    report = {"error": f"did not finish within {HIDDEN_CALL_TIMEOUT} s"}
                except Exception as e:   # the kernel died or its connection broke
                    self.dead = f"the kernel stopped on grading's own inputs ({type(e).__name__})"
                    report = {"error": "stopped the kernel"}
                problem = report.get("error") or hidden_checks.differs(report.get("numbers"), want, exercise)
                if problem:
                    self._fail_hidden(checks[-1], HIDDEN_FAILED.format(exercise=exercise, problem=problem))
                    break

    @staticmethod
    def _fail_hidden(verdict: Verdict, message: str) -> None:
        verdict.status, verdict.message = "fail", message
        verdict.tampered = ", ".join(filter(None, [verdict.tampered, HIDDEN_NOTE]))

    def lead_with_hints(self) -> None:
        """Where an exercise's printed output differs and its check failed with a hint, the hint comes first
        in the output's verdict too, and the difference follows: the hint says why, the numbers only that."""
        for exercise in {v.exercise for v in self.verdicts if v.exercise}:
            mine = [v for v in self.verdicts if v.exercise == exercise and v.status == "fail"]
            hints = [v.message for v in mine if v.message.startswith(HINTS)]
            if not hints:
                continue
            # the check's own hint, rather than a cell's that points on to it ("The check below says more")
            hint = next((h for h in hints if POINTS_ON not in h), hints[0])
            for verdict in mine:
                if verdict.message.startswith(DIFFERS):
                    verdict.message = f"{hint}\n\n{verdict.message}"

    def _interrupt(self) -> None:
        """Stop the cell that ran out of time (a KeyboardInterrupt in the kernel), so the next cells can run."""
        from jupyter_core.utils import run_sync

        try:
            run_sync(self.client.km.interrupt_kernel)()   # the manager is asynchronous
            time.sleep(1)
            self._hidden("before_release_cell()")
        except Exception:
            self.dead = "the kernel stopped answering after a timeout"

    def _run_student(self, step: Step, verdict: Verdict):
        exercise = step.cell.get("exercise")
        self.last_student_exercise = exercise
        label = f"{exercise} (cell {step.cell['index']})"
        return self._execute(f"__import__('resnets_course.judge_kernel', fromlist=['_'])"
                             f".run_student_cell({step.source!r}, {label!r})", store_history=True)

    def _run_release(self, step: Step, verdict: Verdict):
        before = self._hidden("before_release_cell()")
        self._blame(before, self.last_student_exercise)
        self._attach_print(before)
        outputs = self._execute(step.source, store_history=True)
        after = self._hidden("after_release_cell()")
        exercise = step.cell.get("exercise") if step.cell["role"] in ("check", "depends") else None
        self._blame(after, exercise)
        verdict.printed = _capped(verdict.printed + after.get("printed", ""))
        verdict.cut = verdict.cut or bool(after.get("cut"))
        return outputs

    def _attach_print(self, report: dict) -> None:
        """What a graded cell printed at its top level goes with that cell's verdict."""
        printed = report.get("printed", "")
        if printed:
            for verdict, step in zip(reversed(self.verdicts), reversed(self.steps)):
                if step.student and verdict.status != "not run":
                    verdict.printed = _capped(verdict.printed + printed)
                    verdict.cut = verdict.cut or bool(report.get("cut"))
                    break

    def _blame(self, report: dict, exercise: str | None) -> None:
        if "error" in report:
            self.dead = f"the judge lost track of the kernel ({report['error']})"
            return
        if report.get("changed") and exercise:
            self.changed_by.setdefault(exercise, []).extend(report["changed"])

    def _judge(self, step: Step, verdict: Verdict, outputs) -> None:
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if step.student:
            if errors:
                verdict.status, verdict.message = "fail", _error_message(errors[0])
            elif verdict.exercise in self.missing:
                verdict.status, verdict.message = "fail", self.missing[verdict.exercise]
            else:
                verdict.status = "pass"
            return
        changed = self.changed_by.get(verdict.exercise or "", [])
        if changed and step.cell["role"] == "check":
            names = ", ".join(sorted(set(changed)))
            verdict.status = "fail"
            verdict.tampered = ", ".join(filter(None, [verdict.tampered, f"code changed {names}"]))
            refused = [name for name in changed if name.startswith(judge_kernel.FORBIDDEN_NOTE)]
            if refused:
                what, _, event = refused[0][len(judge_kernel.FORBIDDEN_NOTE):].strip(" ()").partition(": ")
                verdict.message = (f"Your code tried to {what} ({event}), which grading does not allow: it was refused. This "
                                   "exercise cannot pass while your code does that: remove that code.")
            elif any(name.startswith(judge_kernel.THREAD_NOTE) for name in changed):
                verdict.message = ("Your code started a thread that keeps running beside the checks, where it could "
                                   "change what they use. This exercise cannot pass while it runs: remove that code.")
            else:
                verdict.message = (f"Your code changed {names}, which the checks use. The checks ran as released, "
                                   f"and this exercise cannot pass while your code changes them: remove that code.")
            return
        expects_error = _marker(step.source, "NBVAL_RAISES_EXCEPTION")
        if errors and not expects_error:
            verdict.status, verdict.message = "fail", _error_message(errors[0])
            return
        if not _marker(step.source, "NBVAL_IGNORE_OUTPUT"):
            difference = compare(outputs, step.cell["outputs"], self.tolerance)
            if difference:
                verdict.status, verdict.message = "fail", difference
                return
        verdict.status = "pass"


#: The most a judge keeps of one cell's outputs (text and images), of a message and of a student's prints:
#: the rest is cut, and the verdict says so. A notebook's largest output, a plot, is about 100 kB.
OUTPUT_KEPT = 4 * 2**20
TEXT_KEPT = 20_000
#: A single message from the kernel larger than this is refused by ZeroMQ before the judge reads it.
LARGEST_MESSAGE = 64 * 2**20


def _capped(text: str, kept: int = TEXT_KEPT) -> str:
    return text if len(text) <= kept else text[:kept] + f"\n[... {len(text) - kept} more characters cut by grading]"


def _tail(log, size: int = 600) -> str:
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode("utf-8", "replace").strip() or "(it wrote nothing)"


def _size(content: dict) -> int:
    text = content.get("text")
    if isinstance(text, str):
        return len(text)
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else 1_000 for v in data.values()) + sum(
        len(line) for line in content.get("traceback") or [] if isinstance(line, str))


class _CappedClient(NotebookClient):
    """nbclient's client, keeping at most OUTPUT_KEPT of a cell's outputs (``cut`` says whether it dropped any)."""
    kept = 0
    cut = False

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = _size(content)
        if self.kept + size > OUTPUT_KEPT:
            self.cut = True
            room = OUTPUT_KEPT - self.kept
            if msg.get("msg_type") != "stream" or room <= 0:
                return None
            content["text"] = content["text"][:room]
            size = room
        self.kept += size
        return super().output(outs, msg, display_id, cell_index)


def _error_message(error) -> str:
    """A check's own words when it failed; else the error, with where it happened in the student's code."""
    ename, evalue = error.get("ename", "Error"), error.get("evalue", "")
    text = f"{ename}: {evalue}"
    if ename in HINTS:
        return text
    trace = _sanitize("\n".join(error.get("traceback", [])))
    where = re.findall(r"<your code: ([^>]*)>", trace)
    return f"{text} (raised in your code: {where[-1]})" if where else text


# ------------------------------------------------------------------------------------------------
# Judging a file (what tools.grade runs in a subprocess)
# ------------------------------------------------------------------------------------------------

@dataclass
class NotebookReport:
    path: str
    notebook: str | None
    release: str | None
    verdicts: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    missing: dict = field(default_factory=dict)
    problem: str = ""             # the notebook could not be judged at all


def read_notebook(source: Path | bytes):
    """A notebook from a file, or from a file's bytes; a clear JudgeError if it is none."""
    try:
        if isinstance(source, bytes):
            return nbformat.reads(source.decode("utf-8"), as_version=4)
        return nbformat.read(source, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as e:
        raise JudgeError(f"not a valid notebook file (not JSON: {str(e)[:120]})") from None
    except Exception as e:   # JSON that is not a notebook
        raise JudgeError(f"not a valid notebook: {str(e)[:160]}") from None


def quick_from_environment() -> bool:
    return os.environ.get(QUICK_ENV, "") == "1"


# ------------------------------------------------------------------------------------------------
# The pytest plugin
# ------------------------------------------------------------------------------------------------

def pytest_addoption(parser):
    group = parser.getgroup("resnets judge", "judge student notebooks against the course release")
    group.addoption("--judge-report", default=None, help="write each judged cell's verdict to this JSON file")
    group.addoption("--judge-cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT, help="seconds one cell may run")
    group.addoption("--judge-sandbox", action="store_true", default=False,
                    help="run the kernel in a bubblewrap sandbox (resnets_course/sandbox.py), as tools.grade does")
    group.addoption("--judge-skip-hidden", action="store_true", default=False,
                    help="leave out grading's own inputs (hidden_checks): for bench.grading --hidden-cost only")
    group.addoption("--judge-release", default=None,
                    help="a folder of judge files to use instead of the notebook's own release")


def _judged(file_path: Path):
    """(notebook, release judge file) if pytest should judge this file, else None."""
    if file_path.suffix != ".ipynb" or ".ipynb_checkpoints" in file_path.parts:
        return None
    try:
        nb = nbformat.read(file_path, as_version=4)
    except Exception:
        return None
    return nb if is_student_notebook(nb) else None


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    collected = yield
    nb = _judged(Path(file_path))
    if nb is None:
        return collected
    # nbval would compare the student's file with its own stored outputs: the judge replaces it.
    kept = [c for c in collected if type(c).__module__.split(".")[0] != "nbval"]
    node = JudgedNotebook.from_parent(parent, path=Path(file_path))
    node.nb = nb
    return kept + [node]


class JudgedNotebook(pytest.File):
    nb = None   # the student's notebook, read once when it was collected

    def collect(self):
        self.report = NotebookReport(str(self.path), None, None)
        self.config.stash.setdefault(_REPORTS, []).append(self.report)
        self.judge = None
        nb = self.nb
        try:
            folder = self.config.getoption("--judge-release")
            if folder:   # the caller's judge files: the id the notebook names only labels the report
                release_id = str(nb.metadata.get("course", {}).get("release", "custom"))[:40]
                names = [p.stem for p in Path(folder).glob("*.json")]
            else:
                release_id = release_id_of(nb)
                names = [p.stem for p in (RELEASES / release_id).glob("*.json")] or [self.path.stem]
            name = course_notebook_name(self.path, names)
            if name is None:
                raise JudgeError(f"{self.path.name} is not named after a course notebook "
                                 f"({', '.join(sorted(names))}): keep the course's file names.")
            release = load_release(release_id, name, Path(folder) if folder else None)
        except JudgeError as e:
            self.report.problem = str(e)
            yield JudgeProblem.from_parent(self, name="notebook", problem=str(e))
            return
        self.report.notebook, self.report.release = name, release_id
        self.judge = Judge(nb, release, self.path.parent, quick_from_environment(),
                           self.config.getoption("--judge-cell-timeout"), self.config.getoption("--judge-sandbox"))
        self.report.notes, self.report.missing = self.judge.notes, self.judge.missing
        for k, step in enumerate(self.judge.steps):
            cell = step.cell
            # Named as JupyterLab counts the student's cells ("cell 10 of 15"), with the line a student can search
            # for; a cell deleted from the file by the release's count of code cells.
            where = step.place or f"code cell {cell['index'] + 1} of the release (not in your file)"
            first = next((line.strip() for line in cell["source"].splitlines() if line.strip()), "")[:60]
            label = where + (f" [{cell['role']} {cell['exercise']}]" if cell.get("exercise") else "") + \
                (f": {first}" if first else "")
            yield JudgedCell.from_parent(self, name=label, k=k)

    def setup(self):
        """The whole notebook is judged here, before its cells are reported: an exercise's check may
        explain a difference in an output printed above it, and its hint then leads that cell's report too."""
        if self.judge is not None:
            self.judge.start()
            for k in range(len(self.judge.steps)):
                try:
                    self.judge.run(k)
                except Exception as e:   # the kernel's connection broke: this cell and the rest are errors
                    verdict = self.judge.verdicts[k]
                    verdict.status = "error"
                    verdict.message = self.judge.dead = f"the judge lost the kernel ({type(e).__name__}: {str(e)[:200]})"
            if not self.config.getoption("--judge-skip-hidden"):
                self.judge.verify_hidden()
            self.judge.lead_with_hints()

    def teardown(self):
        if self.judge is not None:
            self.report.verdicts = [asdict(v) for v in self.judge.verdicts]
            self.judge.stop()


class JudgedCell(pytest.Item):
    def __init__(self, *, k: int, **kwargs):
        super().__init__(**kwargs)
        self.k = k

    def runtest(self):
        verdict = self.parent.judge.verdicts[self.k]
        if not verdict.passed:
            raise JudgedCellFailed(verdict)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, JudgedCellFailed):
            verdict = excinfo.value.verdict
            lines = [verdict.message]
            if verdict.tampered:
                lines.append(f"(tampered: {verdict.tampered})")
            if verdict.printed.strip():
                lines.append("Your code printed (not compared):\n" + verdict.printed.rstrip())
            return "\n".join(lines)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"


class JudgedCellFailed(Exception):
    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict


class JudgeProblem(pytest.Item):
    def __init__(self, *, problem: str, **kwargs):
        super().__init__(**kwargs)
        self.problem = problem

    def runtest(self):
        raise JudgeError(self.problem)

    def repr_failure(self, excinfo, style=None):
        return f"{self.path.name} cannot be judged: {self.problem}"


_REPORTS = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter):
    for report in terminalreporter.config.stash.get(_REPORTS, []):
        for note in report.notes:
            terminalreporter.write_line(f"{Path(report.path).name}: {note}")


#: Set by the grading process (``grading.FAST_PYTEST``, read from stdin before any kernel starts): the report
#: is then signed with it, so that a student's code, which runs in a kernel started by this process, cannot
#: forge the report that grading reads.
REPORT_KEY = ""


def report_signature(reports: list, key: str) -> str:
    canonical = json.dumps(reports, sort_keys=True).encode()
    return hmac.new(key.encode(), canonical, hashlib.sha256).hexdigest()


def pytest_sessionfinish(session):
    target = session.config.getoption("--judge-report", None)
    if target:
        reports = [asdict(r) for r in session.config.stash.get(_REPORTS, [])]
        content = {"reports": reports, "signature": report_signature(reports, REPORT_KEY)} if REPORT_KEY else reports
        target = Path(target)
        fresh = target.with_name(f".{target.name}.{os.getpid()}")
        fresh.write_text(json.dumps(content, indent=1))
        os.replace(fresh, target)   # whatever stood at the target (a student's file) is replaced
