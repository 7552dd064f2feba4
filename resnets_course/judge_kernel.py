"""The judge's side inside the notebook's kernel: run the student's graded cells, keep their prints
out of the compared outputs, and keep the course's checks as released.

The judge (``resnets_course.judge``) calls these functions from hidden executions between the cells it
runs. Student code shares the kernel with the checks, so nothing here is a sandbox: it undoes and
reports what a graded cell changes in the course's modules, in NumPy, in the builtins, in the names the
release's cells imported, in the output streams and in IPython's input machinery, and it restores the
quick-mode setting that the judge read outside the kernel.
"""
from __future__ import annotations

import json
import linecache
import os
import sys
import threading
import types

#: Code compiled from a student's cell carries this file name; import_exercise's code carries the
#: notebook's path. A write to stdout or stderr with such a frame on the stack is the student's.
STUDENT_FILE = "<your code: {}>"
MARKER = "@@judge@@ "
QUICK_ENV = "RESNETS_QUICK"
THREAD_NOTE = "a thread left running"
FORBIDDEN_NOTE = "something grading forbids"
COURSE_PACKAGES = ("resnets_utils", "resnets_course", "block_checks", "resnet_checks", "family_checks",
                   "resnet_family", "residual_numpy", "fused_batchnorm")
WATCHED_MODULES = ("builtins", "numpy", "numpy.testing", "math")
WATCHED_PREFIXES = ("numpy.",)   # NumPy's own modules: np.allclose looks up isclose in numpy._core.numeric
#: The builtins the checks rely on (the kernel itself swaps others, such as input, on every request).
WATCHED_BUILTINS = ("print", "isinstance", "issubclass", "len", "abs", "round", "float", "int", "str", "repr",
                    "format", "any", "all", "min", "max", "sum", "zip", "range", "type", "getattr", "hasattr",
                    "callable", "sorted", "Exception", "AssertionError", "ValueError", "TypeError", "__import__")


def _is_course(name: str | None) -> bool:
    return bool(name) and name.split(".")[0] in COURSE_PACKAGES


def _student_on_stack(frame) -> bool:
    """Whether a student's code is on the stack that ends at ``frame``."""
    while frame is not None:
        if _is_student_file(frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return False


def _from_student() -> bool:
    return _student_on_stack(sys._getframe(2))


#: What grading keeps of a student's prints per cell; the rest is counted, not kept (a 200 MB print).
PRINTED_KEPT = 20_000
CUT_NOTE = "\n[... {} more characters printed; grading keeps the first {}]\n"


class _Printed(list):
    """The student's prints since the last report: the first PRINTED_KEPT characters, and how many more."""
    kept = 0
    cut = 0

    def append(self, text: str) -> None:
        room = PRINTED_KEPT - self.kept
        if room > 0:
            super().append(text[:room])
            self.kept += min(len(text), room)
        self.cut += max(0, len(text) - max(room, 0))

    def take(self) -> tuple[str, int]:
        text, cut = "".join(self), self.cut
        self.clear()
        self.kept = self.cut = 0
        return (text + CUT_NOTE.format(cut, PRINTED_KEPT) if cut else text), cut


class _Diverted:
    """A stream that sends the student's writes to a buffer and everything else on to the notebook."""

    def __init__(self, stream, buffer: list):
        self._stream, self._buffer = stream, buffer

    def write(self, text):
        if _from_student():
            self._buffer.append(str(text))
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _Guard:
    def __init__(self, quick: bool, modules: list[str]):
        from IPython import get_ipython

        self.shell = get_ipython()
        self.quick = quick
        self.printed = _Printed()
        self.protected: dict[str, object] = {}
        self.snapshots: dict[str, dict] = {}
        self.functions: dict[int, tuple] = {}
        self.classes: dict[int, tuple] = {}
        self._set_quick()
        for name in list(modules) + list(WATCHED_MODULES):
            try:
                __import__(name)
            except Exception:   # a module the release imports but this kernel lacks: the release cell says so
                continue
        # pyplot and IPython's inline backend add post_execute hooks when the first figure loads the backend,
        # which a release cell's plot does; a figure made and closed now puts those hooks in the snapshot
        # below, so that they are not taken for a change the student's code made.
        try:
            import matplotlib.pyplot as pyplot

            pyplot.close(pyplot.figure())
        except Exception:
            pass
        self.snapshot_new_modules()
        self.streams = (_Diverted(sys.stdout, self.printed), _Diverted(sys.stderr, self.printed))
        sys.stdout, sys.stderr = self.streams
        shell = self.shell
        self.shell_lists = {
            "input transformers": (shell.input_transformers_cleanup, list(shell.input_transformers_cleanup)),
            "input transformers (post)": (shell.input_transformers_post, list(shell.input_transformers_post)),
            "AST transformers": (shell.ast_transformers, list(shell.ast_transformers)),
        }
        self.events = {event: list(callbacks) for event, callbacks in shell.events.callbacks.items()}
        self.threads = set(sys._current_frames())   # the kernel's own
        self.folder = os.path.realpath(os.getcwd())   # the notebook's: graded code may write here only
        self.forbidden: list[str] = []              # what graded code tried and was refused (_audit)

    # -- snapshots ---------------------------------------------------------------------------------
    def _watched(self, name: str) -> bool:
        return (_is_course(name) and name != __name__) or name in WATCHED_MODULES or name.startswith(WATCHED_PREFIXES)

    def snapshot_new_modules(self) -> None:
        for name, module in list(sys.modules.items()):
            if name in self.snapshots or not isinstance(module, types.ModuleType) or not self._watched(name):
                continue
            contents = dict(vars(module))
            if name == "builtins":
                contents = {key: contents[key] for key in WATCHED_BUILTINS}
            self.snapshots[name] = contents
            if not _is_course(name):
                continue
            for value in contents.values():
                if isinstance(value, types.FunctionType) and _is_course(value.__module__):
                    self.functions[id(value)] = (value, value.__code__, value.__defaults__, value.__kwdefaults__)
                elif isinstance(value, type) and _is_course(value.__module__):
                    self.classes[id(value)] = (value, dict(vars(value)))

    def protect_namespace(self) -> None:
        """Remember the names the release's cells bound to the course's functions, classes and modules."""
        for name, value in self.shell.user_ns.items():
            if name.startswith("_"):
                continue
            # Functions and modules only: a student may rebind a class (Keras's own BatchNormalization).
            owner = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(value, (types.FunctionType, types.ModuleType)) and _is_course(owner):
                self.protected[name] = value

    # -- restoring ---------------------------------------------------------------------------------
    def _set_quick(self) -> list[str]:
        wanted = "1" if self.quick else None
        if os.environ.get(QUICK_ENV) == wanted:
            return []
        if wanted is None:
            os.environ.pop(QUICK_ENV, None)
        else:
            os.environ[QUICK_ENV] = wanted
        return []   # quick mode is the judge's to set: a change is undone without consequence

    def restore(self) -> list[str]:
        """Undo what student code changed; return what was changed, in words."""
        changed = []
        for name, contents in self.snapshots.items():
            module = sys.modules.get(name)
            if module is None:
                continue
            namespace = vars(module)
            for key, value in contents.items():
                if namespace.get(key, _MISSING) is not value:
                    namespace[key] = value
                    changed.append(f"{name}.{key}")
            if _is_course(name):   # a new submodule is an import, not a change; nor is the warnings module's
                # registry, which Python adds to a module the first time a warning is raised from its code
                for key in [k for k, v in namespace.items() if k not in contents and k != "__warningregistry__"
                            and not isinstance(v, types.ModuleType)]:
                    del namespace[key]
                    changed.append(f"{name}.{key}")
        for function, code, defaults, kwdefaults in self.functions.values():
            if (function.__code__, function.__defaults__, function.__kwdefaults__) != (code, defaults, kwdefaults):
                function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
                changed.append(f"{function.__module__}.{function.__qualname__}")
        for cls, contents in self.classes.values():
            for key, value in contents.items():
                if cls.__dict__.get(key, _MISSING) is not value:
                    try:
                        setattr(cls, key, value)
                    except (AttributeError, TypeError):
                        continue
                    changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
        namespace = self.shell.user_ns
        for name, value in self.protected.items():
            if namespace.get(name, _MISSING) is not value:
                namespace[name] = value
                changed.append(name)
        if "print" in namespace:
            del namespace["print"]
            changed.append("print")
        if (sys.stdout, sys.stderr) != self.streams:
            sys.stdout, sys.stderr = self.streams
            changed.append("sys.stdout")
            # The kernel tells sys.stdout which request it answers; it told the replacement, not ours.
            parent = self.shell.kernel.get_parent()
            for stream in self.streams:
                stream._stream.set_parent(parent)
        for label, (live, saved) in self.shell_lists.items():
            if live != saved:
                live[:] = saved
                changed.append(f"IPython's {label}")
        for event, saved in self.events.items():
            if self.shell.events.callbacks.get(event) != saved:
                self.shell.events.callbacks[event] = list(saved)
                changed.append(f"IPython's {event} callbacks")
        self._set_quick()
        changed += self.forbidden
        self.forbidden = []
        return changed

    def new_threads(self, after_student_cell: bool) -> list[str]:
        """Threads that student code started: they could undo the restoring above while the checks run.

        After a graded cell every new thread is the student's (a graded cell has no reason to start one); a
        release cell may start threads of its own, so after it only those running or started by student code
        count. The threads of release cells join the kernel's own."""
        found = []
        for ident, frame in sys._current_frames().items():
            if ident in self.threads or ident == threading.get_ident():
                continue
            thread = next((t for t in threading.enumerate() if t.ident == ident), None)
            target = getattr(thread, "_target", None) or getattr(thread, "function", None)   # Timer: function
            code = getattr(target, "__code__", None) or getattr(getattr(type(thread), "run", None), "__code__", None)
            students = _student_on_stack(frame) or (code is not None and _is_student_file(code.co_filename))
            if after_student_cell or students or isinstance(thread, threading.Timer):
                found.append(f"{THREAD_NOTE} ({thread.name if thread else ident})")
            else:
                self.threads.add(ident)
        return found


def _is_student_file(name: str) -> bool:
    return name.startswith("<your code") or name.endswith(".ipynb")


_MISSING = object()
_guard: _Guard | None = None


def _report(**fields) -> None:
    sys.__stdout__.flush()
    _guard.streams[0]._stream.write(MARKER + json.dumps(fields) + "\n")
    _guard.streams[0]._stream.flush()


# What graded code may not do, seen through Python's audit hooks (PEP 578), which code cannot remove: start
# or signal processes, load native code, hook the interpreter, make code from text, or write outside the
# notebook's folder. Each is refused (PermissionError) while a student's frame is on the stack, and reported.
FORBIDDEN_EVENTS = {
    **dict.fromkeys(["os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "subprocess.Popen",
                     "pty.spawn"], "start a process"),
    **dict.fromkeys(["os.kill", "os.killpg", "signal.pthread_kill"], "send a signal to a process"),
    **dict.fromkeys(["ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle"], "load native code with ctypes"),
    "sys.addaudithook": "add an audit hook", "sys.settrace": "set a trace function",
    "sys.setprofile": "set a profile function", "compile": "compile code from text",
    "exec": "run code with exec or eval", "code.__new__": "make a code object", "os.chdir": "change folder",
}
PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.utime", "os.symlink",
               "os.link", "os.truncate", "shutil.rmtree", "shutil.copyfile", "shutil.copytree", "shutil.move"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
IMPORTING = ("<frozen importlib._bootstrap", "<frozen zipimport")   # an import's own compile: not the student's
CODE_EVENTS = ("compile", "exec", "code.__new__")


class Forbidden(PermissionError):
    """Graded code tried something grading does not allow (FORBIDDEN_EVENTS)."""


def _outside(folder: str, path) -> bool:
    if isinstance(path, int) or path is None:
        return False
    try:
        real = os.path.realpath(os.fsdecode(os.fspath(path)))
    except TypeError:
        return False
    return not (real == folder or real.startswith(folder + os.sep))


def _audit(event: str, args: tuple) -> None:
    if _guard is None or (event not in FORBIDDEN_EVENTS and event not in PATH_EVENTS and event != "open"):
        return
    what = FORBIDDEN_EVENTS.get(event)
    if event == "open":
        path, mode, flags = args
        name = os.fsdecode(path) if isinstance(path, (str, bytes)) else ""
        if name.startswith("/proc/") and name.split("/")[2].isdigit() and not name.startswith(f"/proc/{os.getpid()}/"):
            what = "read another process's files"
        elif (any(c in (mode or "") for c in "wax+") or (flags or 0) & WRITE_FLAGS) and _outside(_guard.folder, path):
            what = "write outside the notebook's folder"
    elif event in PATH_EVENTS:
        if any(_outside(_guard.folder, a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))):
            what = "change files outside the notebook's folder"
    caller = sys._getframe(1)
    if event in CODE_EVENTS and caller.f_code.co_filename.startswith(IMPORTING):
        return   # the import system compiling and running a module (whose own code is still watched)
    if what and _student_on_stack(caller):
        _guard.forbidden.append(f"{FORBIDDEN_NOTE} ({what}: {event})")
        raise Forbidden(f"grading does not let graded code {what} ({event})")


def install(quick: bool, modules: list[str]) -> None:
    """Start guarding: called once, before any cell of the notebook runs."""
    global _guard
    _guard = _Guard(quick, modules)
    sys.addaudithook(_audit)
    _report(installed=True)


def before_release_cell() -> None:
    changed = _guard.restore() + _guard.new_threads(after_student_cell=True)
    printed, cut = _guard.printed.take()
    _report(changed=changed, printed=printed, cut=cut)


def after_release_cell() -> None:
    """After a release cell: what student code called by it changed, and what it printed."""
    changed = _guard.restore() + _guard.new_threads(after_student_cell=False)
    _guard.snapshot_new_modules()
    _guard.protect_namespace()
    printed, cut = _guard.printed.take()
    _report(changed=changed, printed=printed, cut=cut)


def run_student_cell(source: str, label: str) -> None:
    """Run a student's cell in the notebook's namespace, compiled under a file name that marks it as theirs."""
    filename = STUDENT_FILE.format(label)
    code = _guard.shell.transform_cell(source)
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    exec(compile(code, filename, "exec"), _guard.shell.user_ns)


def evaluate_hidden(exercise: str, case: dict) -> None:
    """The student's ``exercise`` on grading's own inputs (``hidden_checks``): its numbers, or what it raised.
    The answers it is compared with stay in the judge."""
    from resnets_course import hidden_checks

    _guard.restore()
    try:
        numbers = hidden_checks.answer(_guard.shell.user_ns.get(exercise), exercise, case)
    except BaseException as e:   # anything, KeyboardInterrupt included: the judge reads it as a failure
        _report(error=f"raised {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
        return
    _report(numbers=numbers)
