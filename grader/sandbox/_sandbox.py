"""The grader's side of the sandbox: one worker server process, started lazily, reused for
every submission, restarted when it dies."""

from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib.util
import io
import keyword
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import safefs
from ..errors import SandboxUnavailable
from ..submission import MAX_BYTES, Source
from . import _worker as W
from ._decode import Rejected, decode_result, escape_output, json_object, text
from .model import Call, CallOutcome, Limits, SubmissionRun

WORKER_SCRIPT = Path(W.__file__).resolve().parent  # run as a directory: python -I .../_worker
ISOLATION_MODES = ("best-effort", "strict")
STRICT = ("netns", "seccomp")  # what --isolation strict will not run code without
MAX_HELPERS, MAX_HELPER_BYTES = 32, 4 * MAX_BYTES
START_TIMEOUT = 60.0
DEFAULT_LIMITS = Limits()  # frozen, so one shared default is safe

_SIGNAL_HINTS = {
    signal.SIGSEGV: "segmentation fault; often recursion too deep for the C stack after sys.setrecursionlimit, "
                    "or a crash in native code",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "arithmetic exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGKILL: "killed",
}


def _applied(layers, key: str) -> bool:
    entry = layers.get(key) if isinstance(layers, dict) else None
    return isinstance(entry, list) and bool(entry) and entry[0] is True


class _WorkerLost(Exception):
    """The worker died or stopped answering."""


def secret_paths() -> tuple[list[str], list[str]]:
    """(deny, hide): what a child must never read (the grader package, bundled exercises, keys),
    and a source checkout holding them, hidden unless the interpreter lives inside it."""
    import grader

    pkg = Path(grader.__file__).resolve().parent
    deny, hide = {pkg}, set()
    try:
        spec = importlib.util.find_spec("grader.exercises")
        for loc in (spec.submodule_search_locations or []) if spec else []:
            deny.add(Path(loc).resolve())
    except (ImportError, ValueError):
        pass
    root = pkg.parent
    if root.name not in ("site-packages", "dist-packages"):
        hide.add(root)
    try:
        bases = {root, Path.cwd().resolve()}
    except OSError:  # the current directory was removed
        bases = {root}
    for base in bases:
        for name in ("exercises", "solutions"):
            if (base / name).is_dir():
                deny.add((base / name).resolve())
    return sorted(map(str, deny)), sorted(map(str, hide))


def _module_name(stem: str) -> str:
    ok = stem.isidentifier() and not keyword.iskeyword(stem) and stem not in sys.builtin_module_names
    ok = ok and stem not in getattr(sys, "stdlib_module_names", ()) and stem not in ("numpy", "grader")
    return stem if ok else "submission"


def _imported_names(code: str) -> set[str]:
    """Top-level module names a source imports (statically), for copying helpers beside it."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module:
                names.add(node.module.split(".")[0])
            if node.level:
                names.update(a.name for a in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("import_module", "__import__"):
                names.add(node.args[0].value.lstrip(".").split(".")[0])
    return names


def helper_files(source: Source) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The ``.py`` files beside the submission that it imports (transitively), and a note for
    each one refused (a symlink, a FIFO, …: read through :mod:`grader.safefs`, never followed).
    Only imported ones: a folder may hold other students' submissions too."""
    folder = source.path.parent
    try:  # most submissions sit alone: no need to parse anything
        if not any(p.suffix == ".py" and p.name != source.path.name for p in folder.iterdir()):
            return [], []
    except OSError:
        return [], []
    found: dict[str, bytes] = {}
    refused: list[str] = []
    todo, total = [source.code], 0
    while todo:
        for name in sorted(_imported_names(todo.pop())):
            path = folder / f"{name}.py"
            if name in found or not name.isidentifier() or path.name == source.path.name \
                    or not os.path.lexists(path) or any(r.startswith(path.name + ":") for r in refused):
                continue
            try:
                data = safefs.read_bytes(path, folder, limit=MAX_BYTES)
            except safefs.Refused as exc:
                refused.append(f"{path.name}: not used: {exc.reason}")
                continue
            if len(found) >= MAX_HELPERS or total + len(data) > MAX_HELPER_BYTES:
                return sorted((f"{n}.py", d) for n, d in found.items()), refused
            found[name] = data
            total += len(data)
            todo.append(data.decode("utf-8", "replace"))
    return sorted((f"{n}.py", d) for n, d in found.items()), refused


_NPY: dict[int, tuple[np.ndarray, bytes]] = {}  # read-only arrays (a cached exercise's) -> their .npy bytes


def _npy(arg: np.ndarray) -> bytes:
    """``.npy`` bytes of a float64 array; a read-only array (an exercise's case or probe, the
    same objects for every submission) is written once."""
    hit = _NPY.get(id(arg))
    if hit is not None and hit[0] is arg:
        return hit[1]
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arg, dtype=np.float64)
                              if arg.ndim else np.asarray(arg, dtype=np.float64), allow_pickle=False)
    data = buf.getvalue()
    if not arg.flags.writeable and (arg.base is None or not getattr(arg.base, "flags", arg.flags).writeable):
        if len(_NPY) > 512:
            _NPY.clear()
        _NPY[id(arg)] = (arg, data)
    return data


def _encode_arg(arg, blobs: list, seen: dict) -> dict:
    if isinstance(arg, np.ndarray):
        if id(arg) in seen:  # the same array in several calls is sent once (each call still gets a copy)
            return {"blob": seen[id(arg)]}
        blobs.append(_npy(arg))
        seen[id(arg)] = len(blobs) - 1
        return {"blob": len(blobs) - 1}
    if isinstance(arg, bool) or not isinstance(arg, (int, float)):
        raise TypeError(f"a sandbox call argument must be a float64 ndarray, a float or an int, not {type(arg).__name__}")
    if isinstance(arg, float) and not np.isfinite(arg):
        raise ValueError("a sandbox call argument must be finite")
    return {"value": arg}


def _rmtree(path: str) -> None:
    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            if not os.path.islink(p) and os.path.isdir(p):
                os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=fix)
    else:
        shutil.rmtree(path, onerror=fix)


def _namespace(pid: int) -> str | None:
    """The worker's own mount namespace (as root it makes one), or None."""
    try:
        ns = os.readlink(f"/proc/{pid}/ns/mnt")
        return ns if ns != os.readlink("/proc/self/ns/mnt") else None
    except OSError:
        return None


def _kill_namespace(ns: str | None, timeout: float = 2.0) -> None:
    """Kill every process left in a dead worker's mount namespace: a daemon of a submission
    that was running when its worker was killed has no supervisor left to kill it."""
    deadline = time.monotonic() + timeout
    while ns is not None and time.monotonic() < deadline:
        found = False
        for name in os.listdir("/proc"):
            try:
                if name.isdigit() and os.readlink(f"/proc/{name}/ns/mnt") == ns:
                    os.kill(int(name), signal.SIGKILL)
                    found = True
            except OSError:
                pass
        if not found:
            return
        time.sleep(0.01)


def _stop(proc: subprocess.Popen | None, scratch: str | None, ns: str | None = None) -> None:
    """Stop a worker (killing it if it does not leave), whatever it left, and its scratch root."""
    if proc is not None:
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _kill_namespace(ns)
    if scratch and os.path.isdir(scratch):
        _rmtree(scratch)


class Sandbox:
    """Runs submissions in isolated children of one worker server process.

    ``isolation="strict"`` refuses to run code (SandboxUnavailable) where the network cannot be
    isolated. ``_disable`` (internal, for the benchmark) switches child layers off.
    """

    def __init__(self, isolation: str = "best-effort", *, _disable: Sequence[str] = ()):
        if isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATION_MODES)}, not {isolation!r}")
        self.isolation = isolation
        self._disable = tuple(_disable)
        self._proc: subprocess.Popen | None = None
        self._chan: W.Channel | None = None
        self._scratch: str | None = None
        self._log = None
        self._hello: dict = {}
        self._ns: str | None = None  # the worker's mount namespace
        self._next_supervisor: int | None = None  # forked ahead, waiting for the next submission
        self._next_scratch: str | None = None  # and its scratch directory
        self._isolate_ms: float | None = None  # time the last child spent isolating itself
        self._cgroup: dict | None = None  # the last submission's cgroup as read back (for doctor)
        self._layers: dict = {}  # the last submission's child's layers
        self._lock = threading.RLock()
        self._finalizer = None
        self._greeting = False  # launched, its hello not read yet

    # -- lifecycle
    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        """The worker's pid while it runs (tests check that nothing outlives a submission)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        """Start the worker now (it is otherwise started by the first run), so that it is forked
        before any exercise or key is in this process; wait until it is ready."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._launch()
            if self._greeting:
                self._await_hello()

    def launch(self) -> None:
        """Start the worker without waiting for it: its Python start and NumPy import run while
        this process loads the rest of the grader and the exercise; ``start`` (or the first run)
        waits for it to be ready."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._launch()

    def close(self) -> None:
        with self._lock:
            self._shutdown()

    def _shutdown(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._chan is not None and self._proc is not None and self._proc.poll() is None:
            try:
                self._chan.send({"op": "quit"})
            except OSError:
                pass
        _stop(self._proc, self._scratch, self._ns)
        if self._log is not None:
            self._log.close()
        self._proc = self._chan = self._scratch = self._log = self._ns = None
        self._greeting = False

    def _worker_log(self) -> str:
        try:
            self._log.seek(0)
            return self._log.read()[-2000:].decode("utf-8", "replace").strip()
        except (OSError, AttributeError, ValueError):
            return ""

    def _launch(self) -> None:
        self._shutdown()
        deny, hide = secret_paths()
        self._scratch = tempfile.mkdtemp(prefix="grader-sandbox-")
        os.chmod(self._scratch, 0o711)
        self._log = tempfile.TemporaryFile()
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
               "LANG": os.environ.get("LANG", "C.UTF-8"),
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
        try:
            self._proc = subprocess.Popen([sys.executable, "-I", str(WORKER_SCRIPT)], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=self._log, env=env, cwd="/",
                                          close_fds=True)
        except OSError as exc:
            self._shutdown()
            raise SandboxUnavailable(f"the sandbox worker could not be started: {exc}") from None
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._scratch)
        self._chan = W.Channel(self._proc.stdout.fileno(), self._proc.stdin.fileno(), buffered=True)
        config = {"op": "config", "deny": deny, "hide": hide, "scratch_root": self._scratch,
                  "disable": list(self._disable), "strict": self.isolation == "strict"}
        try:
            self._chan.send(config)
        except OSError as exc:
            log = self._worker_log()
            self._shutdown()
            raise SandboxUnavailable(f"the sandbox worker did not start ({type(exc).__name__})"
                                     + (f": {log}" if log else "")) from None
        self._greeting = True

    def _await_hello(self) -> None:
        self._greeting = False
        try:
            hello, _ = self._chan.recv(deadline=time.monotonic() + START_TIMEOUT)
        except (OSError, W.ChannelClosed, W.ChannelTimeout, W.ProtocolError) as exc:
            log = self._worker_log()
            self._shutdown()
            raise SandboxUnavailable(f"the sandbox worker did not start ({type(exc).__name__})"
                                     + (f": {log}" if log else "")) from None
        if hello.get("event") != "hello" or "error" in hello:
            self._shutdown()
            raise SandboxUnavailable(str(hello.get("error", "the sandbox worker answered nonsense")))
        self._hello = hello
        self._ns = _namespace(self._proc.pid)
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._scratch, self._ns)
        if self.isolation == "strict":
            layers = hello.get("layers", {})
            missing = [f"{W.LAYERS[key]} ({layers.get(key, [False, 'unknown'])[1]})" for key in STRICT
                       if not _applied(layers, key)]
            if missing:
                self._shutdown()
                raise SandboxUnavailable(f"--isolation strict: cannot be applied here: {'; '.join(missing)}")

    def _kill_worker(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._shutdown()

    # -- running
    def run(self, source: Source, calls: Sequence[Call], limits: Limits = DEFAULT_LIMITS) -> SubmissionRun:
        calls = list(calls)
        blobs: list[bytes] = []
        seen: dict[int, int] = {}
        call_msgs = []
        for i, call in enumerate(calls):
            if not isinstance(call.function, str) or not call.function.isidentifier():
                raise ValueError(f"not a function name: {call.function!r}")
            call_msgs.append({"index": i, "function": call.function,
                              "args": [_encode_arg(a, blobs, seen) for a in call.args]})
        helpers, refused = helper_files(source)
        notebook = source.path.suffix.lower() == ".ipynb"
        stem = source.path.stem
        filename = f"{stem}.py" if stem.isidentifier() else "submission.py"
        if any(name == filename for name, _ in helpers):
            filename = "_submission.py"
        helper_msgs = []
        for name, data in helpers:
            helper_msgs.append({"name": name, "blob": len(blobs)})
            blobs.append(data)
        req = {"filename": filename, "display_name": source.path.name, "module": _module_name(stem),
               "notebook": notebook, "code": source.code, "helpers": helper_msgs,
               "limits": dataclasses.asdict(limits), "require": list(STRICT) if self.isolation == "strict" else []}
        with self._lock:
            run = _Run(self, req, call_msgs, blobs, limits).go()
        return dataclasses.replace(run, notes=tuple(refused)) if refused else run


class _Run:
    """The state of one submission while its events come in."""

    def __init__(self, box: Sandbox, req: dict, call_msgs: list, blobs: list, limits: Limits):
        self.box, self.req, self.call_msgs, self.blobs, self.limits = box, req, call_msgs, blobs, limits
        self.names = [c["function"] for c in call_msgs]
        self.outcomes: list[CallOutcome | None] = [None] * len(call_msgs)
        self.load: tuple[str, str] | None = None
        self.defined: tuple[str, ...] = ()
        self.answers: str | None = None
        self.layers: dict | None = None
        self.cgroup: dict | None = None  # the supervisor's read-back of the submission's cgroup
        self.output = bytearray()
        self.output_total = 0
        self.lost_output = False
        self.fatal: str | None = None

    def go(self) -> SubmissionRun:
        attempts = 0
        while True:
            attempts += 1
            pending = [m for m in self.call_msgs if self.outcomes[m["index"]] is None]
            try:
                self.box.start()
                self._attempt(pending)
                break
            except _WorkerLost as exc:
                self.box._kill_worker()
                self.lost_output = True
                if self.load is None:
                    if attempts >= 2:
                        self.load = ("crashed", f"the sandbox worker died while loading the submission ({exc})")
                        break
                    continue
                waiting = [m["index"] for m in pending if self.outcomes[m["index"]] is None]
                if waiting:
                    self.outcomes[waiting[0]] = CallOutcome(
                        "crashed", (), f"the sandbox worker died while running this call ({exc}); it was restarted")
                if len(waiting) <= 1:
                    break
                if attempts >= 4:
                    for i in waiting[1:]:
                        self.outcomes[i] = CallOutcome("crashed", (), "not run: the sandbox worker kept dying")
                    break
        if self.fatal is not None:
            raise SandboxUnavailable(self.fatal)
        return self._result()

    def _attempt(self, pending: list) -> None:
        box = self.box
        req = dict(self.req, op="run", calls=pending)
        wall = float(self.limits.wall_seconds)
        try:
            box._chan.send(req, self.blobs)
            while True:
                # The supervisor enforces the limits; this is only a backstop for a hung worker.
                header, blobs = box._chan.recv(deadline=time.monotonic() + 2 * wall + 30,
                                               max_blob=int(self.limits.result_bytes) + (4 << 20))
                if self._event(header, blobs):
                    return
        except W.ChannelTimeout:
            raise _WorkerLost("it stopped answering") from None
        except (OSError, W.ChannelClosed) as exc:
            code = box._proc.poll() if box._proc is not None else None
            raise _WorkerLost(f"exit status {code}" if code is not None else type(exc).__name__) from None
        except W.ProtocolError as exc:
            raise _WorkerLost(f"protocol error: {exc}") from None

    def _event(self, header: dict, blobs: list) -> bool:
        """Handle one event; True once the worker has cleaned up after the submission."""
        event = header.get("event")
        blob = blobs[0] if blobs else b""
        if event == "setup":
            if self.layers is None:
                info = json_object(blob)
                layers = info.get("layers")
                self.layers = layers if isinstance(layers, dict) else {}
                cgroup = header.get("cgroup")
                self.cgroup = cgroup if isinstance(cgroup, dict) else None
                self.box._cgroup = self.cgroup
                self.box._layers = self.layers  # what the last submission's child applied (for doctor)
                cost = info.get("isolate_ms")  # for the benchmark: isolation work, done ahead of time
                self.box._isolate_ms = cost if isinstance(cost, (int, float)) else None
        elif event == "load":
            status, message = self._interpret(header, blob, None)
            if self.load is None:
                self.load = (status, message)
        elif event == "call":
            index = header.get("index")
            if isinstance(index, int) and 0 <= index < len(self.outcomes) and self.outcomes[index] is None:
                status, message, values = self._interpret_call(header, blob, index)
                if header.get("reload"):
                    message = ("not run: the module code, run again in a fresh process after an earlier call "
                               f"ended its process, failed: {message}")
                self.outcomes[index] = CallOutcome(status, values, message)
        elif event == "fatal":
            self.fatal = text(header.get("message")) or "the sandbox failed"
        elif event == "done":
            self.output += blob
            total = header.get("output_total")
            self.output_total += total if isinstance(total, int) else len(blob)
        elif event == "clean":
            nxt, scratch = header.get("next"), header.get("next_scratch")
            self.box._next_supervisor = nxt if isinstance(nxt, int) else None
            self.box._next_scratch = scratch if isinstance(scratch, str) else None
            if self.load is None and self.fatal is None:
                self.load = ("crashed", "internal sandbox error: the submission was not run")
            for i, outcome in enumerate(self.outcomes):
                if outcome is None and self.load is not None and self.load[0] == "ok":
                    self.outcomes[i] = CallOutcome("crashed", (), "internal sandbox error: this call was not run")
            return True
        return False

    # -- turning events into statuses
    def _interpret(self, header: dict, blob: bytes, function: str | None) -> tuple[str, str]:
        status = header.get("status")
        if status == "frame":
            kind = header.get("kind")
            if kind == "L" and function is None:
                info = json_object(blob)
                defined = info.get("defined")
                if isinstance(defined, list):
                    self.defined = tuple(n for n in defined if isinstance(n, str) and n.isidentifier())[:1000]
                answers = info.get("answers_json")
                if isinstance(answers, str) and len(answers.encode("utf-8", "replace")) <= W.ANSWERS_BYTES:
                    self.answers = answers
                return "ok", text(info.get("answers_note"), 500)
            if kind == "E":
                info = json_object(blob)
                message = text(info.get("traceback"), 8000) + text(info.get("message"))
                if info.get("memory") is True:
                    return "memory_limit", f"ran out of memory (limit {self.limits.memory_mb:g} MB): " + message
                return "error", message or "an exception was raised"
            if kind == "X":
                code = text(json_object(blob).get("code"), 200)
                where = f"in {function}()" if function else "while its module code ran"
                return "no_result", f"the submission exited before returning a result (sys.exit({code}) {where})"
            return "invalid_output", "the submission sent an unexpected reply"
        if status in ("timeout", "invalid_output", "memory_limit"):
            return status, text(header.get("message")) or status
        if status == "signal":
            sig = header.get("signal")
            sig = sig if isinstance(sig, int) else 0
            maxrss = header.get("maxrss_mb")
            maxrss = maxrss if isinstance(maxrss, (int, float)) else 0
            if sig == signal.SIGXCPU:
                return "timeout", f"exceeded the CPU time limit of {self.limits.cpu_seconds:g} s"
            if sig == signal.SIGXFSZ:
                return "crashed", f"wrote a file larger than the limit of {self.limits.file_size_mb:g} MB"
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            if maxrss >= 0.8 * self.limits.memory_mb:
                return "memory_limit", (f"ran out of memory (limit {self.limits.memory_mb:g} MB): "
                                        f"the process was killed by {name}")
            hint = _SIGNAL_HINTS.get(sig)
            return "crashed", f"the process was killed by {name}" + (f" ({hint})" if hint else "")
        if status == "exit":
            code = header.get("code")
            if code == W.EXIT_CHANNEL:
                return "no_result", "the submission closed or broke the grader's result channel"
            if code == W.EXIT_HARNESS:
                return "no_result", ("the submission's process failed outside its own code "
                                     "(it interfered with the grader's harness)")
            more = f" (exit status {code})" if code not in (0, None) else ""
            return "no_result", "the submission exited before returning a result" + more
        return "crashed", "internal sandbox error: unknown outcome"

    def _interpret_call(self, header: dict, blob: bytes, index: int) -> tuple[str, str, tuple]:
        function = self.names[index]
        if header.get("status") == "frame":
            kind = header.get("kind")
            if kind == "R":
                try:
                    return "ok", "", decode_result(blob, int(self.limits.result_bytes))
                except Rejected as exc:
                    return "invalid_output", f"{function}(): {exc}", ()
            if kind == "M":
                info = json_object(blob)
                if info.get("reason") == "not callable":
                    return "missing", f"{function!r} is defined but is not a function", ()
                return "missing", self._missing_message(function), ()
        status, message = self._interpret(header, blob, function)
        return status, message, ()

    def _missing_message(self, function: str) -> str:
        message = f"the submission does not define a function named {function!r}"
        near = difflib.get_close_matches(function, self.defined, n=1, cutoff=0.6)
        if not near:
            near = [n for n in self.defined if n.lower() == function.lower()]
        if near:
            return message + f"; did you mean {near[0]!r}?"
        if self.defined:
            return message + f" (it defines: {', '.join(self.defined[:10])})"
        return message

    def _missing_layers(self) -> tuple[str, ...]:
        hello = self.box._hello
        missing = []
        if not hello.get("isolated", False) or hello.get("grader_imported"):
            missing.append(W.LAYERS["isolated"])
        layers = self.layers if self.layers is not None else hello.get("layers", {})
        for key in W.CHILD_LAYERS:
            if not _applied(layers, key) or key == "cgroup" and not self._cgroup_limited():
                missing.append(W.LAYERS[key])
        mountns = hello.get("mountns", [False, ""])
        if os.geteuid() == 0 and not mountns[0]:
            missing.append(W.LAYERS["mountns"])
        if not hello.get("subreaper", [False])[0]:
            missing.append(W.LAYERS["subreaper"])
        masked = mountns[0] and "masked" in str(mountns[1])
        landlock_hides = _applied(layers, "landlock") and W.layers.landlock.LISTABLE not in str(layers.get("landlock", ""))
        if not landlock_hides and not masked:
            missing.append(W.LAYERS["hidden"])
        return tuple(missing)

    def _cgroup_limited(self) -> bool:
        """The child said it joined its cgroup (and checked); the supervisor read back the limits
        and found it in (unless it had already exited)."""
        cg = self.cgroup or {}
        want = int(self.limits.memory_mb * 1024 * 1024)
        try:
            memory = int(cg.get("memory"))
        except (TypeError, ValueError):
            return False
        return (not cg.get("error") and cg.get("member") in (True, None) and want - 65536 < memory <= want
                and cg.get("pids") in (str(int(self.limits.processes)), None))

    def _result(self) -> SubmissionRun:
        load_status, load_message = self.load or ("crashed", "internal sandbox error")
        outcomes = []
        for outcome in self.outcomes:
            if outcome is None:
                reason = load_message.strip().splitlines()[-1] if load_message.strip() else load_status
                outcome = CallOutcome(load_status if load_status != "ok" else "crashed", (),
                                      f"not run: the submission could not be loaded ({load_status}: {reason})")
            outcomes.append(outcome)
        output = escape_output(bytes(self.output), self.output_total - len(self.output))
        if self.lost_output:
            output += "[output of a run lost: the sandbox worker died]\n"
        return SubmissionRun(load_status=load_status, load_message=load_message, defined=self.defined,
                             answers_json=self.answers if load_status == "ok" else None,
                             outcomes=tuple(outcomes), output=output, missing_layers=self._missing_layers())
