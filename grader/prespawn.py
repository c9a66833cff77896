"""A sandbox worker spawned as the ``grade`` command starts (``grader/__main__.py``): for
``grade FILE`` of a code file, before Click, NumPy and the rest of the grader are imported
(about the first 70 ms of the command), so that its own Python start and NumPy import run
meanwhile.

The worker spawned here only waits for its configuration; the command's ``Sandbox`` adopts it
(:func:`adopt`) and configures it as it would a worker of its own. One that nothing adopted (the
arguments were not what they looked like) is killed and reaped before the command exits
(:func:`discard`). Nothing but ``os``, ``subprocess`` and ``sys`` is imported here.
"""

from __future__ import annotations

import os
import subprocess
import sys

WORKER = os.path.join(os.path.dirname(os.path.realpath(__file__)), "sandbox", "_worker")  # run as a directory
# check's options that take a value (the first other argument is FILE), and the other commands
_VALUED = frozenset({"-e", "--exercise", "-f", "--format", "-o", "--output", "--fail-under", "--isolation",
                     "--student", "--deadline", "--late-penalty", "--grace", "--late-cap", "--overrides",
                     "--submitted-at", "--metadata", "--exercises-dir"})
_OTHER = frozenset({"key", "validate", "batch", "figure", "sheet", "export", "doctor", "bundle",
                    "--help", "-h", "--version"})

_early: tuple[subprocess.Popen, object] | None = None


def worker_command() -> list[str]:
    return [sys.executable, "-I", WORKER]


def worker_env() -> dict[str, str]:
    """The worker's whole environment (nothing else of the grader's): single-threaded BLAS."""
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}


def code_file(args: list[str]) -> bool:
    """Whether ``args`` are ``grade [check] FILE …`` with FILE a ``.py`` or ``.ipynb`` file, read
    as the CLI will read them (a wrong guess costs a worker started for nothing, never a result)."""
    if args and args[0] == "check":
        args = args[1:]
    if not args or args[0] in _OTHER or "--help" in args or "-h" in args:
        return False
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-") and arg != "-":
            skip = arg in _VALUED
        else:
            return arg.endswith((".py", ".ipynb"))
    return False


def _log_file():
    """An anonymous file for the worker's stderr (what the grader shows if it fails to start),
    made without importing tempfile."""
    fd = os.open(os.environ.get("TMPDIR") or "/tmp", os.O_TMPFILE | os.O_RDWR, 0o600)
    return os.fdopen(fd, "w+b")


def spawn(args: list[str]) -> None:
    """Spawn the worker now if ``args`` grade a code file (where this platform can: else the
    command's Sandbox spawns it as usual)."""
    global _early
    if _early is not None or not code_file(args):
        return
    log = None
    try:
        log = _log_file()
        proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                env=worker_env(), cwd="/", close_fds=True)
    except (OSError, AttributeError, ValueError):  # no O_TMPFILE here, or no process: spawned later
        if log is not None:
            log.close()
        return
    _early = (proc, log)


def adopt() -> tuple[subprocess.Popen, object] | None:
    """The worker spawned at start (and its log file), if there is one still waiting; once."""
    global _early
    early, _early = _early, None
    if early is not None and early[0].poll() is not None:
        _close(*early)
        return None
    return early


def _close(proc: subprocess.Popen, log) -> None:
    proc.kill()  # it was given nothing yet: no scratch, no namespace, no child
    proc.wait()
    for f in (proc.stdin, proc.stdout, log):
        f.close()


def discard() -> None:
    """Stop and reap a worker spawned at start that nothing adopted."""
    early = adopt()
    if early is not None:
        _close(*early)
