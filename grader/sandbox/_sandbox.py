"""The grader's side of the sandbox: one worker server process, started lazily, reused for
every submission, restarted when it dies."""

from __future__ import annotations

import dataclasses
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

from .. import prespawn
from ..errors import SandboxUnavailable
from ..submission import Source
from . import _verdicts
from . import _worker as W
from ._files import secret_paths
from ._missing import applied
from .model import Call, Limits, SubmissionRun

WORKER_SCRIPT = Path(W.__file__).resolve().parent  # run as a directory: python -I .../_worker
ISOLATION_MODES = ("best-effort", "strict")
STRICT = ("netns", "seccomp")  # what --isolation strict will not run code without
START_TIMEOUT = 60.0
DEFAULT_LIMITS = Limits()  # frozen, so one shared default is safe


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


def _namespace(pid: int) -> int | None:
    """An fd of the worker's own mount namespace (as root it makes one), or None. Held open, it
    keeps the namespace, and so its inode number, from being freed and given to a namespace made
    later (by another sandbox) while the worker's leftovers are looked for by that number."""
    try:
        fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.path.samestat(os.fstat(fd), os.stat("/proc/self/ns/mnt")):
            os.close(fd)
            return None
    except OSError:
        pass
    return fd


def _kill_namespace(ns: int | None, timeout: float = 2.0) -> None:
    """Kill every process left in a dead worker's mount namespace: a daemon of a submission
    that was running when its worker was killed has no supervisor left to kill it."""
    if ns is None:
        return
    try:
        want = os.fstat(ns)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = False
            for name in os.listdir("/proc"):
                try:
                    if name.isdigit() and os.path.samestat(os.stat(f"/proc/{name}/ns/mnt"), want):
                        os.kill(int(name), signal.SIGKILL)
                        found = True
                except OSError:
                    pass
            if not found:
                return
            time.sleep(0.01)
    finally:
        os.close(ns)


def _stop(proc: subprocess.Popen | None, scratch: str | None, ns: int | None = None) -> None:
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
    isolated. ``single=True`` (one ``grade FILE``): the worker prepares no supervisor for a next
    submission and leaves after the first (a later run starts a new worker). ``_disable``
    (internal, for the benchmark) switches child layers off.
    """

    def __init__(self, isolation: str = "best-effort", *, single: bool = False, _disable: Sequence[str] = ()):
        if isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATION_MODES)}, not {isolation!r}")
        self.isolation = isolation
        self.single = single
        self._disable = tuple(_disable)
        self._proc: subprocess.Popen | None = None
        self._chan: W.Channel | None = None
        self._scratch: str | None = None
        self._log = None
        self._hello: dict = {}
        self._ns: int | None = None  # an fd of the worker's mount namespace
        self._spare: tuple[int, ...] = ()  # the supervisor, and the next submissions' inits and children, forked ahead
        self._next: tuple[int, ...] = ()  # the next submission's init and child
        self._ahead_scratch: tuple[str, ...] = ()  # the scratch directories of the slots prepared ahead
        self._unsettled = False  # a run is done, and the worker may still be cleaning up after it
        self._isolate_ms: float | None = None  # time the last child spent isolating itself
        self._shared: list[int] = []  # the call sets the worker process keeps (see _calls._Run._request)
        self._cgroup: dict | None = None  # the last submission's cgroup as read back (for doctor)
        self._layers: dict = {}  # the last submission's child's layers
        self._lock = threading.RLock()
        self._finalizer = None
        self._greeting = False  # launched, its hello not read yet
        self._leaving: list[tuple] = []  # single runs' workers on their way out, with their finalizers

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

    def settle(self) -> None:
        """Wait until the worker has cleaned up after the last run: a run returns as soon as its
        results are in, while the worker kills and reaps the submission's processes and removes
        its scratch directory and cgroup (during the next run, in a batch)."""
        with self._lock:
            if self._unsettled and self._chan is not None and self.worker_pid is not None:
                try:
                    self._chan.send({"op": "settle"})
                    while True:
                        header, _ = self._chan.recv(deadline=time.monotonic() + START_TIMEOUT)
                        if header.get("event") == "settled":
                            break
                        if header.get("event") == "clean":
                            self._cleaned(header)
                except (OSError, W.ChannelClosed, W.ChannelTimeout, W.ProtocolError):
                    self._kill_worker()
            self._unsettled = False

    def _cleaned(self, header: dict) -> None:
        """A clean event: what the worker runs now besides the supervisor (an init and an idle
        child for each of the next submissions, forked ahead) and their scratch directories."""
        ints = (lambda v: tuple(p for p in v if isinstance(p, int)) if isinstance(v, list) else ())
        self._spare, self._next = ints(header.get("spare")), ints(header.get("next"))
        scratch = header.get("ahead_scratch")
        self._ahead_scratch = tuple(n for n in scratch if isinstance(n, str)) if isinstance(scratch, list) else ()

    def _shutdown(self, wait: bool = True) -> None:
        """Stop the worker. ``wait=False`` (after a single run, whose worker leaves by itself): it
        is reaped, with what it leaves, by :meth:`close`, so the report need not wait for its exit."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._chan is not None and self._proc is not None and self._proc.poll() is None:
            try:
                self._chan.send({"op": "quit"})
            except OSError:
                pass
        if wait:
            _stop(self._proc, self._scratch, self._ns)
            for left, finalizer in self._leaving:
                finalizer.detach()
                _stop(*left)
            self._leaving = []
        elif self._proc is not None:
            left = (self._proc, self._scratch, self._ns)
            self._leaving.append((left, weakref.finalize(self, _stop, *left)))
        if self._log is not None:
            self._log.close()
        self._proc = self._chan = self._scratch = self._log = self._ns = None
        self._greeting = False
        self._shared = []  # a next worker keeps nothing

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
        early = prespawn.adopt()  # the worker `grade FILE` spawned as the process started, if any
        if early is not None:
            self._proc, self._log = early
        else:
            self._log = tempfile.TemporaryFile()
        try:
            if early is None:
                self._proc = subprocess.Popen(prespawn.worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=self._log, env=prespawn.worker_env(), cwd="/", close_fds=True)
        except OSError as exc:
            self._shutdown()
            raise SandboxUnavailable(f"the sandbox worker could not be started: {exc}") from None
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._scratch)
        self._chan = W.Channel(self._proc.stdout.fileno(), self._proc.stdin.fileno(), buffered=True)
        config = {"op": "config", "deny": deny, "hide": hide, "scratch_root": self._scratch,
                  "disable": list(self._disable), "strict": self.isolation == "strict",
                  "probes": _verdicts.remembered() if self.single else []}  # one grade FILE: no probe child
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
        _verdicts.remember(hello.get("probe"))  # a fresh probe's verdict, for the next grade FILE
        self._ns = _namespace(self._proc.pid)
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._scratch, self._ns)
        if self.isolation == "strict":
            layers = hello.get("layers", {})
            missing = [f"{W.LAYERS[key]} ({layers.get(key, [False, 'unknown'])[1]})" for key in STRICT
                       if not applied(layers, key)]
            if missing:
                self._shutdown()
                raise SandboxUnavailable(f"--isolation strict: cannot be applied here: {'; '.join(missing)}")

    def _kill_worker(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._shutdown()

    # -- running
    def run(self, source: Source, calls: Sequence[Call], limits: Limits = DEFAULT_LIMITS) -> SubmissionRun:
        from ._calls import _Run, encode_request  # NumPy: imported after the worker was launched

        req, call_msgs, blobs, refused, shared = encode_request(
            source, calls, limits, list(STRICT) if self.isolation == "strict" else [], last=self.single)
        with self._lock:
            try:
                run = _Run(self, req, call_msgs, blobs, limits, shared).go()
            finally:
                if self.single:  # the worker leaves after this run (a next run starts another); close() reaps it
                    self._shutdown(wait=False)
        return dataclasses.replace(run, notes=tuple(refused)) if refused else run
