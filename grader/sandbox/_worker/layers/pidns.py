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
import time

from .. import linux, tinyinit
from .base import Layer


# The init is a small program, spawned (vfork and exec: none of the worker's page tables copied,
# and its exit unmaps no NumPy interpreter) with SIGCHLD ignored, so that the kernel reaps every
# orphan handed to it at once; it blocks reading its pipe and leaves when the worker closes the
# other end or dies. The first choice is tinyinit's static program (one small exec); else
# coreutils' env sets the ignored signals and execs cat (a shell would reset SIGCHLD).
SPAWNED = ("env", "--ignore-signal=CHLD", "--ignore-signal=INT", "--ignore-signal=TERM", "--ignore-signal=HUP", "cat")
BIN_DIRS = ("/usr/bin", "/bin")
_IGNORED = (1 << (signal.SIGCHLD - 1)) | (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1)) \
    | (1 << (signal.SIGHUP - 1))


def spawnable_init() -> list[str] | None:
    """The spawned init's argv: tinyinit's program where it runs, else this system's env and cat,
    whichever passes :func:`_works` first (tried once); None if neither (the init is then a fork
    of the worker)."""
    tiny = tinyinit.install()
    if tiny is not None and _works([tiny]):
        return [tiny]
    argv = env_cat()
    return argv if argv and _works(argv) else None


def env_cat() -> list[str] | None:
    """``env --ignore-signal=... cat`` with this system's paths, or None without them."""
    found = {name: next((os.path.join(d, name) for d in BIN_DIRS if os.access(os.path.join(d, name), os.X_OK)), None)
             for name in ("env", "cat")}
    return None if None in found.values() else [found["env"], *SPAWNED[1:-1], found["cat"]]


def _works(argv: list[str]) -> bool:
    """Spawned as an init is, the program comes to ignore SIGCHLD, INT, TERM and HUP while it
    waits on its pipe, and exits 0 once the pipe closes."""
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(argv[0], argv, {}, file_actions=_files(r), setsid=True, setsigmask=())
    except (OSError, AttributeError, NotImplementedError):  # no posix_spawn, or no setsid in it
        os.close(r)
        os.close(w)
        return False
    os.close(r)
    ignored = False
    try:
        deadline = time.monotonic() + 2
        while not ignored and time.monotonic() < deadline:
            with open(f"/proc/{pid}/status") as f:
                mask = next((int(line.split()[1], 16) for line in f if line.startswith("SigIgn:")), 0)
            ignored = mask & _IGNORED == _IGNORED
            if not ignored:
                time.sleep(0.001)
    except (OSError, ValueError):
        pass
    finally:
        os.close(w)
        _, status = os.waitpid(pid, 0)
    return ignored and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _files(stdin: int) -> list:
    return [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_CLOSE, stdin),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, 1, 2)]


def start_init(argv: list[str] | None = None) -> tuple[int, int]:
    """In the worker: a new PID namespace for the next children it forks, and its init (spawned
    from ``argv`` when given, else forked); returns the init's pid and the write end of a pipe
    that the worker keeps open (each child closes it). The init leaves when that pipe closes
    (the worker's exit closes it too) and is killed at the end of the submission; its death
    kills whatever is left in the namespace. (It then waits in the kernel until the worker has
    reaped the namespace's children: it is exiting, and runs no code.)"""
    alive_r, alive_w = os.pipe()
    linux.unshare(linux.CLONE_NEWPID)
    if argv:
        try:  # every fd of the worker is close-on-exec: the init holds its pipe, and /dev/null
            return os.posix_spawn(argv[0], argv, {}, file_actions=_files(alive_r), setsid=True,
                                  setsigmask=()), alive_w
        finally:
            os.close(alive_r)
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
        plan.init_argv = None
        if self.key in plan.enabled and not plan.root:
            plan.off(self.key, "not root: a PID namespace needs an init made by the worker")
        elif self.key in plan.enabled:
            plan.init_argv = spawnable_init()

    def apply(self, plan, ctx):
        if not ctx.get("pid_init"):
            raise OSError("the worker could not make a PID namespace")
        init = ("a fork of the worker" if not plan.init_argv else "a spawned env+cat" if len(plan.init_argv) > 1
                else "a spawned static program")
        return f"own PID namespace (this child is pid {os.getpid()} in it), its init ({init}) reaps orphans"

    def held(self, plan, ctx):
        return os.getppid() == 0 and linux.readlink("/proc/self/ns/pid") not in ("", plan.host["pid"])


LAYER = PidNs()
