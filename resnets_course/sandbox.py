"""The sandbox a submission's kernel runs in when ``tools.grade`` judges it (Linux, bubblewrap).

Guards inside the student's own Python process (``judge_kernel``) can be got round by code written to
get round them. So grading runs each kernel where the operating system, not Python, says what it may
touch; the judge (pytest, nbclient), the key that signs its report and the report stay outside:

- it sees an allowlist of folders, not the machine: /usr and the system's libraries, Python and its
  packages, the course's copy (read-only) and the submission's own folder (read-write), plus a private
  /tmp and home. The repository, the solutions, other students' folders and the judge's files are not
  there at all;
- it runs as a user of its own (not root), with no capabilities and ``no_new_privs``, so it cannot
  remount anything writable, and in new namespaces: no network (its own loopback only), its own process
  ids, a new session; it dies with the judge;
- it has limits: address space, processes, file size, no core files.

The kernel talks to the judge over Unix sockets in a folder bound into the sandbox (``transport="ipc"``):
a TCP kernel in its own network namespace could not be reached. bwrap does not pass SIGINT on, so the
judge interrupts a cell with a message (``interrupt_mode="message"``).
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Where the manual says how to grade in a container.
IN_A_CONTAINER = "the manual's 'What grading guards against', book/manual/instructors.md"
INSTALL_HINT = ("grading runs each submission's kernel in a bubblewrap sandbox, and `bwrap` was not found on "
                "this machine. Install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install "
                f"bubblewrap), or grade inside a Linux container that has it ({IN_A_CONTAINER}). "
                "`--no-sandbox` grades without it, and every row then says 'unsandboxed'.")
#: What of the course a kernel needs: the package, the helpers students import, data and images.
COURSE_FILES = ("resnets_course", "resnets_utils.py", "reference", "datasets", "images")
#: Files of /etc that Python, TensorFlow and matplotlib read; the rest of /etc stays out.
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime", "timezone",
       "fonts", "mime.types", "host.conf", "hosts", "resolv.conf", "os-release")
#: Address space: ResNet-50's training in notebook 04 needs about 3.8 GB of it.
ADDRESS_SPACE = 6 * 2**30
#: Processes and threads of the kernel's user: TensorFlow starts a few threads per core.
PROCESSES = 1024
#: The largest file the kernel may write (notebook 04 saves a model of about 100 MB).
FILE_SIZE = 2**30
#: The private /tmp is memory: this much at most.
TMP_SIZE = 512 * 2**20
#: The kernel's users: one per judge process, so that two submissions judged side by side share no limit.
FIRST_UID = 200_000


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot make a sandbox here: the message says why and what to do."""


def bwrap() -> str | None:
    return shutil.which("bwrap")


def python_folders() -> list[Path]:
    """Python and the packages it imports: the prefixes and the user's site-packages, where they exist."""
    found = []
    for folder in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                   Path(os.path.realpath(sys.executable)).parent.parent, site.getusersitepackages()):
        folder = Path(os.path.realpath(folder))
        if folder.is_dir() and not any(folder == f or folder.is_relative_to(f) for f in found):
            found = [f for f in found if not f.is_relative_to(folder)] + [folder]
    return found


@dataclass
class Sandbox:
    """How one kernel is confined: ``course`` read-only, ``work`` (the submission's folder) read-write,
    ``sockets`` for the kernel's connection, ``home`` for its caches (both read-write)."""
    course: Path
    work: Path
    sockets: Path
    home: Path
    uid: int = 0

    @classmethod
    def beside(cls, course: Path, work: Path) -> "Sandbox":
        """A sandbox whose sockets and home are new folders beside ``work``."""
        uid = FIRST_UID + os.getpid() % 100_000 if os.geteuid() == 0 else os.geteuid()
        made = []
        for name in ("sockets", "home"):
            folder = work.parent / f".{work.name}-{name}"
            folder.mkdir(exist_ok=True)
            made.append(folder)
        box = cls(Path(course), Path(work), *made, uid=uid)
        box._matplotlib_cache()
        box.hand_over()
        return box

    def hand_over(self) -> None:
        """The kernel's user owns its folders (as root, the kernel runs as ``uid``)."""
        if os.geteuid() != 0:
            return
        for root in (self.work, self.sockets, self.home):
            os.chown(root, self.uid, self.uid)
            for folder, subfolders, names in os.walk(root):
                for name in subfolders + names:
                    os.chown(os.path.join(folder, name), self.uid, self.uid, follow_symlinks=False)

    def _matplotlib_cache(self) -> None:
        """matplotlib's font list, copied in: building it again costs each kernel about a second.
        (Where matplotlib keeps it, found without importing matplotlib into the judge.)"""
        cache = Path(os.environ.get("MPLCONFIGDIR") or Path(os.environ.get("XDG_CACHE_HOME") or
                                                           Path.home() / ".cache") / "matplotlib")
        target = self.home / ".cache" / "matplotlib"
        for found in cache.glob("fontlist-*.json"):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, target / found.name)

    def environment(self, extra: dict | None = None) -> dict[str, str]:
        """The kernel's whole environment: nothing of the judge's (keys, tokens, paths) goes in."""
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8",
               "PYTHONPATH": str(self.course), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
               "KERAS_HOME": str(self.home / ".keras"),
               "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        for name, value in (extra or {}).items():
            if value is not None:
                env[name] = str(value)
        return env

    def command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """``argv`` (the kernel's command), run inside the sandbox with environment ``env``."""
        cmd = [bwrap() or "bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
               "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--clearenv"]
        if os.geteuid() != 0:
            cmd += ["--unshare-user", "--cap-drop", "ALL"]
        for name, value in env.items():
            cmd += ["--setenv", name, value]
        cmd += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/") / name
            if path.is_symlink():
                cmd += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                cmd += ["--ro-bind", str(path), str(path)]
        for name in ETC:
            cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        # The course's files one by one, not the folder: were it the repository, its solutions would show.
        course = [self.course / name for name in COURSE_FILES if (self.course / name).exists()]
        binds = [("--ro-bind", folder) for folder in python_folders()] + [("--ro-bind", path) for path in course]
        binds += [("--bind", folder) for folder in (self.work, self.sockets, self.home)]
        made = {Path("/"), Path("/tmp")}
        for how, folder in binds:
            # The folders above a bound one are made here, open to the kernel's user (bwrap would copy
            # their modes: /root's 0700 hides a Python installed under it).
            for parent in reversed(Path(folder).parents):
                if parent not in made:
                    cmd += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            cmd += [how, str(folder), str(folder)]
            made.add(Path(folder))
        # The releases (expected outputs, grading's own answers) stay with the judge.
        hidden = self.course / "resnets_course" / "releases"
        if hidden.is_dir():
            cmd += ["--perms", "0555", "--size", "4096", "--tmpfs", str(hidden)]
        cmd += ["--chdir", str(self.work), "--"]
        cmd += ["prlimit", f"--as={ADDRESS_SPACE}", f"--nproc={PROCESSES}", f"--fsize={FILE_SIZE}", "--core=0", "--"]
        if os.geteuid() == 0:   # root's processes are not counted against RLIMIT_NPROC: the kernel gets a user
            cmd += ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--no-new-privs",
                    "--bounding-set=-all", "--inh-caps=-all", "--"]
        return cmd + list(argv)


def check_available() -> None:
    """Raise SandboxUnavailable, saying why and what to do, unless a sandbox can be made here."""
    if sys.platform != "linux":
        raise SandboxUnavailable(f"grading's sandbox needs Linux (this is {sys.platform}): grade inside a Linux "
                                 f"container ({IN_A_CONTAINER}), or pass --no-sandbox.")
    if bwrap() is None:
        raise SandboxUnavailable(INSTALL_HINT)
    probe = Path(os.environ.get("TMPDIR", "/tmp"))
    box = Sandbox(probe, probe, probe, probe, uid=FIRST_UID if os.geteuid() == 0 else os.geteuid())
    try:
        done = subprocess.run(_without_binds(box.command([sys.executable, "-c", "pass"], box.environment())),
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SandboxUnavailable(f"bwrap could not start a sandbox here ({e}). {INSTALL_HINT}") from None
    if done.returncode != 0:
        raise SandboxUnavailable(f"bwrap could not start a sandbox here: {done.stderr.strip()[-300:]}. On a machine "
                                 "that forbids user namespaces, grade as root or inside a Linux container "
                                 f"({IN_A_CONTAINER}), or pass --no-sandbox.")


def _without_binds(cmd: list[str]) -> list[str]:
    """``cmd`` without its writable binds (``--bind SOURCE TARGET``): the probe needs none."""
    out, parts = [], iter(cmd)
    for part in parts:
        if part == "--bind":
            next(parts), next(parts)
        else:
            out.append(part)
    return out
