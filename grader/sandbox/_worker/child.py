"""The child: isolates itself layer by layer (the table's order), waits for its submission,
sets the late layers (rlimits, then seccomp, last) and hands over to the harness."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time

from . import layers, linux
from .framing import CLOSED_BELOW, CMD_FD, CMD_HEAD, EXIT_HARNESS, EXIT_SETUP_FAILED, K_FATAL, K_SETUP, LOAD_SEQ, \
    RESULT_FD, frame, read_exact
from .harness import Harness


def isolate(plan, scratch: str, cg: dict | None = None, pid_init: int | None = None) -> dict:
    """Apply every layer but the late ones (they depend on the submission) to this (child)
    process; returns {layer: [applied, detail]}."""
    rep: dict[str, list] = {}
    ctx = {"scratch": scratch, "cg": cg, "rep": rep, "pid_init": pid_init}
    os.setsid()
    dropped = False
    for layer in plan.early:
        if layer.phase == "drop" and not dropped:
            dropped = True
            _drop_privileges(plan)
        rep[layer.key] = layers.run(layer, plan, ctx)
    if not dropped:
        _drop_privileges(plan)
    return rep


def late_layers(plan, rep: dict, ctx: dict) -> None:
    """The layers that wait for the submission's limits; seccomp is the last thing before its code."""
    ctx["rep"] = rep
    for layer in plan.late:
        rep[layer.key] = layers.run(layer, plan, ctx)


def _drop_privileges(plan) -> None:
    """After the namespace layers: no capability left in any namespace, and no way back
    (no_new_privs, also what seccomp without CAP_SYS_ADMIN requires)."""
    if not plan.root or "user" in plan.enabled:
        try:
            linux.drop_capabilities()
        except OSError:
            pass
    try:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    except OSError:
        pass


def _install_fds(out_w: int, cmd_r: int, res_w: int) -> None:
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (out_w, cmd_r, res_w)]
    os.dup2(moved[0], 1)
    os.dup2(moved[0], 2)
    os.dup2(moved[1], CMD_FD, inheritable=False)
    os.dup2(moved[2], RESULT_FD, inheritable=False)
    for fd in moved:
        os.close(fd)


def child_main(plan, parent: int, scratch: str, out_w: int, cmd_r: int, res_w: int,
               cg: dict | None = None, pid_init: int | None = None) -> None:
    """Runs in the forked child; never returns. The child isolates itself as soon as it exists
    (the worker forks it before a submission arrives), then waits for the submission."""
    code = EXIT_SETUP_FAILED
    try:
        _install_fds(out_w, cmd_r, res_w)
        started = time.perf_counter()
        rep = isolate(plan, scratch, cg, pid_init)
        isolate_ms = (time.perf_counter() - started) * 1000
        if os.getppid() not in (parent, 0):  # 0: the worker is outside our PID namespace
            os._exit(EXIT_SETUP_FAILED)  # the worker died before pdeathsig was set
        os.closerange(5, CLOSED_BELOW)
        os.chdir(scratch)
        if dict(os.environ) != plan.env:  # the zygote set it already (Zygote.__init__)
            os.environ.clear()
            os.environ.update(plan.env)
        os.environ["HOME"] = os.environ["TMPDIR"] = scratch
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file is an OSError, not a death
        sys.path[:] = [scratch] + plan.path
        sys.meta_path.insert(0, _NoGrader)
        sys.dont_write_bytecode = True
        if "tempfile" in sys.modules:
            sys.modules["tempfile"].tempdir = None
        (size,) = CMD_HEAD.unpack(read_exact(CMD_FD, CMD_HEAD.size))
        load = json.loads(read_exact(CMD_FD, size))
        if load.get("compiled"):
            load["compiled_code"] = read_exact(CMD_FD, int(load["compiled"]["bytes"]))
        late_layers(plan, rep, {"scratch": scratch, "cg": cg, "limits": load["limits"],
                                "cpu_total": load["cpu_total"]})
        frame(K_SETUP, LOAD_SEQ, {"layers": rep, "isolate_ms": round(isolate_ms, 3)})
        code = EXIT_HARNESS
        Harness(load, scratch).serve()
        code = 0
    except BaseException as exc:  # noqa: BLE001 - the child must never fall back into the server loop
        if code == EXIT_SETUP_FAILED:
            try:
                frame(K_FATAL, LOAD_SEQ, {"error": f"{type(exc).__name__}: {exc}"})
            except BaseException:  # noqa: BLE001
                pass
    os._exit(code)


class _NoGrader:
    """First on sys.meta_path in a child. The grader's files are unreadable there anyway (Landlock,
    masks); without this, a directory seen but not readable would import as an empty namespace
    package instead of failing."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "grader" or name.startswith("grader."):
            raise ModuleNotFoundError(f"No module named {name!r} (the grader cannot be imported by a submission)",
                                      name=name)
        return None

