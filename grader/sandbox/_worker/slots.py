"""The supervisor's side of the zygote (zygote.py): one slot per submission (its scratch
directory, cgroup, output pipe, PID namespace and children), asked for ahead of its turn, and
the deaths of the slot's children as the zygote reports them."""

from __future__ import annotations

import mmap
import os
import select
import types

from .childpipes import Child
from .layers.cgroup import CGROUP_PREFIX, cgroup_limit, cgroup_make
from .procs import grow_pipe
from .zygote import recv, send


class ZygoteGone(Exception):
    """The worker (zygote) closed its socket: it is gone."""


class ZygoteLink:
    """Requests to the zygote; its replies, and its reports of dead children, as they come."""

    def __init__(self, sock):
        self.sock = sock
        self.deaths: dict[int, tuple[int, object]] = {}  # pid -> (wait status, usage with ru_maxrss)
        self.replies: list[dict] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def request(self, msg: dict, fds=()) -> None:
        try:
            send(self.sock, msg, fds)
        except OSError:
            raise ZygoteGone() from None

    def _take(self, msg: dict) -> None:
        pid = msg.get("dead", msg.get("killed"))
        if isinstance(pid, int):  # the first report of a death is the true one
            self.deaths.setdefault(pid, (int(msg.get("status", 0)), types.SimpleNamespace(ru_maxrss=msg.get("maxrss", 0))))
        if "dead" not in msg:
            self.replies.append(msg)

    def _read(self) -> None:
        msg, fds = recv(self.sock)
        for fd in fds:
            os.close(fd)
        if msg is None:
            raise ZygoteGone()
        self._take(msg)

    def _find(self, key: str, value) -> dict | None:
        for i, msg in enumerate(self.replies):
            if msg.get(key) == value:
                return self.replies.pop(i)
        return None

    def take(self, key: str, value) -> dict | None:
        """The reply whose ``key`` is ``value`` if it has come, without waiting."""
        self.pump()
        return self._find(key, value)

    def pump(self) -> None:
        """Take every message waiting, without blocking."""
        while select.select([self.sock], [], [], 0)[0]:
            self._read()

    def reply(self, key: str, value) -> dict:
        """Wait for the reply whose ``key`` is ``value``."""
        while (msg := self._find(key, value)) is None:
            self._read()
        return msg

    def poll(self, pid: int):
        """(status, usage) once the zygote has reported ``pid`` dead, else None."""
        if pid not in self.deaths:
            self.pump()
        return self.deaths.get(pid)


class Slot:
    """One submission's scratch, cgroup, output pipe and processes, asked for ahead of its turn."""

    def __init__(self, plan, zygote: ZygoteLink, sid: int, limits: dict | None):
        self.plan, self.zygote, self.sid = plan, zygote, sid
        self.scratch = os.path.join(plan.scratch_root, os.urandom(8).hex())
        os.mkdir(self.scratch, 0o700)
        self.cg = None
        self.cg_limits: tuple | None = None  # (memory MB, processes) as written to the cgroup
        if "cgroup" in plan.enabled and plan.cgroup_parents:
            try:
                self.cg = cgroup_make(plan.cgroup_parents,
                                      f"{CGROUP_PREFIX}{plan.worker_pid}-{os.path.basename(self.scratch)}")
            except OSError:
                pass  # the child reports the layer missing
        if self.cg is not None and limits is not None:
            try:  # the limits of the run that asked for this slot: the next one's, most likely
                self.limit(limits)
            except OSError:
                pass  # set again, or reported, when its submission comes
        if plan.root and "user" in plan.enabled:
            os.chown(self.scratch, plan.uid, plan.gid)
        self.out_r, self.out_w = os.pipe()
        grow_pipe(self.out_r)
        os.set_blocking(self.out_r, False)
        self.progress_fd, self.progress = _progress_page()  # the submission's progress word (framing)
        self.pid_init: int | None = None
        self.first: Child | None = None
        self.children: list[int] = []  # every child forked in the slot
        self._pending: tuple[int, int] | None = None  # (cmd_w, res_r) of its first child (ask_slots)

    def limit(self, limits: dict) -> None:
        """Set the cgroup's memory and process limits (before any of the submission's code runs)."""
        want = (float(limits["memory_mb"]), int(limits["processes"]))
        if self.cg is not None and want != self.cg_limits:
            self.cg_limits = None
            cgroup_limit(self.cg, *want)
            self.cg_limits = want

    def _ends(self) -> tuple[list[int], tuple[int, int]]:
        """Pipes for a new child of the slot: the fds the zygote is passed (the child's ends of
        its command and result pipes, the slot's output pipe and progress page), and ours."""
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        grow_pipe(cmd_w)
        grow_pipe(res_r)
        os.set_blocking(res_r, False)
        os.set_blocking(cmd_w, False)
        return [cmd_r, res_w, self.out_w] + ([self.progress_fd] if self.progress_fd is not None else []), (cmd_w, res_r)

    def _ask(self, op: str) -> tuple[int, int]:
        passed, ours = self._ends()
        try:
            self.zygote.request({"op": op, "sid": self.sid, "scratch": self.scratch, "cg": self.cg}, passed)
        finally:
            os.close(passed[0])
            os.close(passed[1])
        return ours

    def ready(self) -> Child:
        """The slot's first child, forked (and isolating itself, or waiting) by now."""
        if self.first is None:
            got = self.zygote.reply("slot", self.sid)
            self.pid_init = got.get("init")
            self.first = Child(got["child"], *self._pending)
            self.children.append(self.first.pid)
        return self.first

    def fork(self) -> Child:
        """Another child in the slot (the module code run again after a call ended the last one)."""
        pending = self._ask("fork")
        child = Child(self.zygote.reply("forked", self.sid)["child"], *pending)
        self.children.append(child.pid)
        return child

    def kill(self, child: Child) -> None:
        """Kill one child, and any process it left, and reap it."""
        self.zygote.request({"op": "kill", "sid": self.sid, "pid": child.pid})
        self.zygote.reply("killed", child.pid)

    def end(self) -> None:
        """Ask for every process of the slot to be killed and reaped (its PID namespace with them);
        the zygote's "ended" reply, once they are, is taken later (Supervisor._retire)."""
        self.ready()
        self.zygote.request({"op": "end", "sid": self.sid})

    def pids(self) -> list[int]:
        return [p for p in (self.pid_init, self.first.pid if self.first else None) if p]

    def close(self) -> None:
        """After end(): the slot's pipes and page go."""
        for fd in (self.out_r, self.out_w, self.progress_fd):
            if fd is not None:
                os.close(fd)
        if self.progress is not None:
            self.progress.close()


def ask_slots(plan, zygote: ZygoteLink, sids: list[int], limits: dict | None) -> list[Slot]:
    """Slots for the next submissions (one or a few) in one request: the zygote forks their
    children back to back (zygote.py: fewer of its own pages copied than a request each)."""
    slots = [Slot(plan, zygote, sid, limits) for sid in sids]
    asks, passed = [], []
    try:
        for slot in slots:
            fds, slot._pending = slot._ends()
            passed.append(fds)
            asks.append({"sid": slot.sid, "scratch": slot.scratch, "cg": slot.cg, "fds": len(fds)})
        zygote.request({"op": "slots", "slots": asks}, [fd for fds in passed for fd in fds])
    finally:
        for fds in passed:
            os.close(fds[0])
            os.close(fds[1])
    return slots


def _progress_page() -> tuple[int | None, mmap.mmap | None]:
    """A page of shared memory of this submission's alone (a memfd, mapped here and, by the
    zygote, in each of its children), or (None, None) where there is no memfd_create."""
    try:
        fd = os.memfd_create("grader-progress", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None, None
    os.ftruncate(fd, mmap.PAGESIZE)
    return fd, mmap.mmap(fd, mmap.PAGESIZE)
