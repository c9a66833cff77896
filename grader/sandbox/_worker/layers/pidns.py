"""A PID namespace per submission: the submission's processes see no other process (their
``/proc``, mounted by the filesystem view, is the namespace's), cannot signal anything outside
it, and all die with it.

The worker (root; zygote.py) makes it for each submission's slot, ahead of its turn:
``unshare(CLONE_NEWPID)`` and a tiny init (pid 1, which reaps orphans), so that every child it
then forks into the namespace (``setns``) is an ordinary process there (a pid 1 would ignore its
own default signals, SIGXCPU among them). Killing the init at the end of the submission kills
whatever is left in the namespace.
"""

from __future__ import annotations

import os
import signal

from .. import linux
from .base import Layer


def start_init() -> tuple[int, int]:
    """In the worker: a new PID namespace for the next children it forks, and its init; returns
    the init's pid and the write end of a pipe that the worker keeps open (each child closes
    it). The init dies with the worker (its parent-death signal) and also leaves when that pipe
    closes; its death kills whatever is left in the namespace. (It then waits in the kernel
    until the worker has reaped the namespace's children: it is exiting, and runs no code.)"""
    alive_r, alive_w = os.pipe()
    linux.unshare(linux.CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:
        try:
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
            # A Ctrl-C is the grader's to handle; SIGCHLD ignored: the kernel reaps every orphan
            # handed to us at once, without a line of Python (which would copy pages).
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_IGN)
            os.closerange(0, alive_r)
            os.closerange(alive_r + 1, 1 << 16)
            os.read(alive_r, 1)  # until the worker closes its end (or dies: the parent-death signal)
        finally:
            os._exit(0)
    os.close(alive_r)
    return pid, alive_w


class PidNs(Layer):
    key, name, phase = "pidns", "PID namespace", "ns"

    def prepare(self, plan, info):
        plan.host["pid"] = linux.readlink("/proc/self/ns/pid")
        if self.key in plan.enabled and not plan.root:
            plan.off(self.key, "not root: a PID namespace needs an init made by the worker")

    def apply(self, plan, ctx):
        if not ctx.get("pid_init"):
            raise OSError("the worker could not make a PID namespace")
        return f"own PID namespace (this child is pid {os.getpid()} in it), its init reaps orphans"

    def held(self, plan, ctx):
        return os.getppid() == 0 and linux.readlink("/proc/self/ns/pid") not in ("", plan.host["pid"])


LAYER = PidNs()
