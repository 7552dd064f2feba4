"""The sandbox a submission's kernel runs in (resnets_course/sandbox.py), tried from the inside.

Each test runs a short Python program in a sandbox made as the judge makes one for a kernel (the course's
copy read-only, the submission's folder writable) and looks at what it could do. No kernel is needed:
the confinement is the operating system's, whatever Python does inside.
"""
import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from resnets_course import grading, sandbox
from resnets_course.environment import REPO
from tests.submissions import needs_bwrap

pytestmark = needs_bwrap


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """A class folder beside a submission's private copy, as tools.grade lays them out."""
    tmp = tmp_path_factory.mktemp("sandbox")
    (tmp / "class" / "zoe").mkdir(parents=True)
    (tmp / "class" / "zoe" / "02_identity_block.ipynb").write_text("{}")
    work = tmp / "judging" / "work"
    work.mkdir(parents=True)
    course = grading.course_copy(tmp / "judging" / "course")
    return sandbox.Sandbox.beside(course, work), tmp


def inside(box, program: str, env: dict | None = None) -> dict:
    """Run ``program`` in the sandbox; it prints one JSON object, returned here."""
    sandbox_, _ = box
    cmd = sandbox_.command([sys.executable, "-c", textwrap.dedent(program)], sandbox_.environment(env))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


WRITES = """
    import ctypes, json, os, sqlite3, sys
    import h5py, numpy as np

    def attempt(write):
        try:
            write()
            return "written"
        except Exception as e:
            return f"{type(e).__name__}: {e}"

    def with_open(path):
        with open(path, "a") as f:
            f.write("import os  # a .pth line runs in every Python that starts\\n")

    def with_h5py(path):   # the HDF5 library writes in C: no Python audit event sees it
        with h5py.File(path, "a") as f:
            f.create_dataset("x", data=np.zeros(3))

    def with_h5py_external(path):   # an external dataset: HDF5 writes the raw bytes to a file it names
        with h5py.File("carrier.h5", "w") as f:
            f.create_dataset("x", shape=(4,), dtype="u1", external=[(path, 0, 4)])[:] = np.frombuffer(b"hey\\n", "u1")

    def with_sqlite(path):   # a new database beside the target
        sqlite3.connect(path + ".db").execute("create table t (x)")

    def with_ctypes(path):   # libc's open(2), as C code would call it
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.open(path.encode(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        libc.write(fd, b"x", 1)
        libc.close(fd)

    targets = json.loads(sys.argv[1]) if len(sys.argv) > 1 else TARGETS
    found = {}
    for name, path in targets.items():
        for how in (with_open, with_h5py, with_h5py_external, with_sqlite, with_ctypes):
            found[f"{name} {how.__name__}"] = attempt(lambda: how(path))
    found["own folder"] = attempt(lambda: with_open("mine.txt"))
    print(json.dumps(found))
"""


def test_writes_to_the_course_python_and_elsewhere_fail_whatever_api_makes_them(box):
    _, tmp = box
    course = box[0].course
    targets = {"course": str(course / "resnets_course" / "checks" / "blocks.py"),
               "python": os.path.join(site_packages(), "zz_from_a_submission.pth"),
               "class": str(tmp / "class" / "zoe" / "02_identity_block.ipynb"),
               "home": str(Path.home() / "from_a_submission.db")}
    targets_and_databases = [*targets.values(), *(path + ".db" for path in targets.values())]
    before = {path: Path(path).read_bytes() if Path(path).exists() else None for path in targets_and_databases}
    found = inside(box, f"TARGETS = {targets!r}\n" + textwrap.dedent(WRITES))
    assert found.pop("own folder") == "written"
    for attempt, result in found.items():
        assert result != "written" and any(word in result for word in (
            "Read-only file system", "Permission denied", "No such file or directory", "unable to", "does not exist")), \
            (attempt, result)
    for path in targets_and_databases:   # nothing changed outside, however the error was worded
        after = Path(path).read_bytes() if Path(path).exists() else None
        assert after == before[path], path
    assert (box[0].work / "mine.txt").exists()


def test_the_kernel_cannot_remount_or_gain_privileges(box):
    found = inside(box, """
        import ctypes, json, os, resource, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        flags = 32 | 4096 | 32768   # MS_REMOUNT | MS_BIND | MS_REC: make / writable again
        status = libc.mount(b"none", b"/usr", None, flags, None)
        command = subprocess.run(["mount", "-o", "remount,bind,rw", "/usr"], capture_output=True, text=True)
        with open("/proc/self/status") as f:
            capabilities = [line.split()[1] for line in f if line.startswith(("CapEff", "CapPrm", "CapBnd"))]
        with open("/proc/self/status") as f:
            no_new_privs = [line.split()[1] for line in f if line.startswith("NoNewPrivs")]
        try:
            open("/usr/from_a_submission", "w")
            wrote = True
        except OSError:
            wrote = False
        print(json.dumps({"syscall": [status, os.strerror(ctypes.get_errno())], "command": command.returncode,
                          "capabilities": capabilities, "no_new_privs": no_new_privs, "uid": os.getuid(),
                          "processes": resource.getrlimit(resource.RLIMIT_NPROC)[0],
                          "memory": resource.getrlimit(resource.RLIMIT_AS)[0], "wrote": wrote}))
        """)
    assert found["syscall"][0] == -1 and found["command"] != 0 and not found["wrote"], found
    assert found["capabilities"] == ["0000000000000000"] * 3 and found["no_new_privs"] == ["1"], found
    assert found["uid"] != 0 and found["processes"] == sandbox.PROCESSES and found["memory"] == sandbox.ADDRESS_SPACE


def test_the_solutions_other_students_and_the_judges_files_are_not_there(box):
    sandbox_, tmp = box
    (tmp / "judging" / "judge-report.json").write_text("{}")
    paths = {"solutions": str(REPO / "notebooks" / "02_identity_block.ipynb"), "repository": str(REPO),
             "class": str(tmp / "class"), "other student": str(tmp / "class" / "zoe"),
             "judge's report": str(tmp / "judging" / "judge-report.json"),
             "releases": str(sandbox_.course / "resnets_course" / "releases"),
             "course copy": str(sandbox_.course / "resnets_course" / "judge.py")}
    found = inside(box, f"""
        import json, os
        paths = {paths!r}
        home = {str(Path.home())!r}
        print(json.dumps({{**{{name: os.path.exists(path) and (os.path.isfile(path) or bool(os.listdir(path)))
                              for name, path in paths.items()}},
                          "home": sorted(os.listdir(home)) if os.path.isdir(home) else []}}))
        """)
    # The grader's home shows only the way to a Python installed under it (pyenv's), if that.
    on_the_way = {p.relative_to(Path.home()).parts[0] for p in sandbox.python_folders() if p.is_relative_to(Path.home())}
    assert set(found.pop("home")) <= on_the_way
    assert found == {**dict.fromkeys(paths, False), "course copy": True}, found
    assert Path(paths["solutions"]).exists()   # it is there outside


def test_no_network_and_none_of_the_judges_environment(box, monkeypatch):
    monkeypatch.setenv("INSTRUCTORS_TOKEN", "secret")
    found = inside(box, """
        import json, os, socket
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=3)
            reached = True
        except OSError:
            reached = False
        print(json.dumps({"reached": reached, "token": os.environ.get("INSTRUCTORS_TOKEN"),
                          "quick": os.environ.get("RESNETS_QUICK")}))
        """, env={"RESNETS_QUICK": "1"})
    assert found == {"reached": False, "token": None, "quick": "1"}


def test_without_bubblewrap_grading_stops_and_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from tests import submissions as S

    S.write(S.student("02_identity_block"), tmp_path / "subs" / "ann" / "02_identity_block.ipynb")
    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    # A fresh memo of the sandbox probe for this test alone (monkeypatch puts the process's own back).
    monkeypatch.setattr(grading, "_sandbox_problem", functools.cache(grading._sandbox_problem.__wrapped__))
    assert grading.main([str(tmp_path / "subs"), "--out", str(tmp_path / "out")]) == 2
    said = capsys.readouterr().out
    assert "apt-get install bubblewrap" in said and "--no-sandbox" in said and not (tmp_path / "out").exists()
    # On a worker of a cluster (no main to stop): an ERROR row per exercise, never an unsandboxed grade.
    [sub] = grading.find_submissions(tmp_path / "subs", ["02_identity_block"])
    [row] = grading.grade_one(sub, 60, 120)
    assert row.status == "error" and "bwrap" in row.detail and row.points == 0 and row.sandbox == "bwrap"
