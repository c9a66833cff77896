"""The worker as zygote: it forks every submission's processes (the PID namespace's init and
the children), reaps them and kills them, on request of the one long-lived supervisor.

The worker never holds a submission: it reads only these small requests (a slot id, a scratch
path, a cgroup, the child's pipe ends passed as fds), never code, arguments or results. So a
child, a fresh fork of the worker, cannot find an earlier student's code in its memory. The
supervisor, which does hold submissions, forks nothing.

Requests (JSON over a SOCK_SEQPACKET socketpair, fds by SCM_RIGHTS), each answered in turn:

    slots {slots: [{sid, scratch, cg, fds}, ...]} + each one's fds in turn ([cmd_r, res_w, out_w,
          progress])  -> {slot, init, child} for each: a new PID namespace and its init (when
          that layer is on) and a first child in it; the children forked back to back
    fork  {sid, scratch, cg} + [the same fds]  -> {forked, child}: another child in a slot
    kill  {sid, pid}                                  -> {killed, status, maxrss}: one child
          killed, reaped, and the orphans it left killed
    end   {sid}                                       -> {ended}: all of the slot's processes
          killed now, and reaped (killing the init ends the namespace); the reply comes once
          they are, other requests are served meanwhile

and, unasked, {dead, status, maxrss} as soon as a child of a slot exits.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import signal
import socket

from . import framing
from .child import child_main
from .layers.pidns import start_init
from .linux import CLONE_NEWPID, setns
from .procs import Reaper

MAX_MSG = 1 << 16
MAX_FDS = 16  # a "slots" request passes four for each slot


def send(sock: socket.socket, msg: dict, fds=()) -> None:
    socket.send_fds(sock, [json.dumps(msg, separators=(",", ":")).encode()], list(fds))


def recv(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """(message, fds), or (None, []) when the other end is gone."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MSG, MAX_FDS)
    except OSError:
        return None, []
    for fd in fds:  # close-on-exec, as every fd of ours: a spawned init must hold none of them
        os.set_inheritable(fd, False)
    if not data:
        return None, fds
    return json.loads(data), fds


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3 / Python 3.9: the loop polls instead
        return None


class _Slot:
    def __init__(self):
        self.init: int | None = None
        self.alive_w: int | None = None  # the init leaves when this closes
        self.ns: int | None = None  # the namespace, to fork more children into
        self.children: set[int] = set()
        self.ending: set[int] = set()  # killed at "end", not reaped yet (the init last)


class Zygote:
    def __init__(self, plan, sock: socket.socket, supervisor: int):
        self.plan, self.sock, self.supervisor = plan, sock, supervisor
        self.reaper = Reaper()
        self.slots: dict[int, _Slot] = {}
        self.owner: dict[int, int] = {}  # child pid -> sid
        self.pidfds: dict[int, int] = {}  # fd -> pid (children and the supervisor)
        self.own_ns = None
        if "pidns" in plan.enabled:
            try:
                self.own_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                pass
        self._watch(supervisor)
        # A child's environment is the plan's (and its own HOME, TMPDIR): set here once, so that
        # each child does not clear the grader's variables one by one (Python code, pages copied).
        os.environ.clear()
        os.environ.update(plan.env)

    def _watch(self, pid: int) -> None:
        fd = _pidfd(pid)
        if fd is not None:
            self.pidfds[fd] = pid

    def serve(self) -> None:
        """Until the supervisor is gone (it leaves when the grader closes the channel)."""
        while True:
            fds = [self.sock.fileno(), *self.pidfds]
            try:
                # without pidfds (before Linux 5.3) a child's death is only seen by polling
                ready = select.select(fds, [], [], 1.0 if self.pidfds else 0.005)[0]
            except InterruptedError:
                continue
            if self.sock.fileno() in ready:
                msg, passed = recv(self.sock)
                if msg is None:
                    return
                try:
                    self._handle(msg, passed)
                finally:
                    for fd in passed:
                        os.close(fd)
            self._reap()
            if self.reaper.poll(self.supervisor) is not None:
                return

    def _reap(self) -> None:
        self.reaper.reap()
        # A reaped process's pidfd stays readable: watched until its slot ended, it turned the
        # select above into a busy loop while the init tore its namespace down (41 wake-ups a
        # submission). Its status is kept; only the watch goes.
        for fd in [fd for fd, pid in self.pidfds.items() if pid in self.reaper.statuses]:
            os.close(fd)
            del self.pidfds[fd]
        for pid in [p for p in self.owner if p in self.reaper.statuses]:
            self._report(pid, "dead")
        self._ended()
        # orphans handed to us (no PID namespace): nobody asks for their status
        keep = {self.supervisor, *(slot.init for slot in self.slots.values() if slot.init)}
        for slot in self.slots.values():
            keep |= slot.ending
        for pid in [p for p in self.reaper.statuses if p not in keep]:
            del self.reaper.statuses[pid]

    def _forget(self, pid: int) -> tuple:
        """The status of a reaped child, no longer watched."""
        for fd in [fd for fd, p in self.pidfds.items() if p == pid]:
            os.close(fd)
            del self.pidfds[fd]
        return self.reaper.statuses.pop(pid, (0, None))

    def _report(self, pid: int, key: str) -> None:
        sid = self.owner.pop(pid, None)
        if sid in self.slots:
            self.slots[sid].children.discard(pid)
        status, usage = self._forget(pid)
        try:
            send(self.sock, {key: pid, "status": status, "maxrss": usage.ru_maxrss if usage else 0})
        except OSError:
            pass

    def _handle(self, msg: dict, passed: list[int]) -> None:
        op, sid = msg.get("op"), msg.get("sid")
        if op == "slots":
            asks, at = [], 0
            for ask in msg["slots"]:
                asks.append((ask, passed[at:at + int(ask["fds"])]))
                at += int(ask["fds"])
            self._new_slots(asks)
        elif op == "fork":
            send(self.sock, {"forked": sid, "child": self._fork([(msg, passed)])[0]})
        elif op == "kill":
            self._kill(msg["pid"])
            self._sweep(self.slots.get(sid))
            self._report(msg["pid"], "killed")
        elif op == "end":
            if self._end(sid):
                send(self.sock, {"ended": sid})

    def _new_slots(self, asks: list[tuple[dict, list[int]]]) -> None:
        """Each asked-for slot: its PID namespace and init, then the first children of all of
        them (forked back to back), then a reply for each."""
        for ask, _ in asks:
            slot = self.slots[ask["sid"]] = _Slot()
            if self.own_ns is not None:
                try:
                    setns(self.own_ns, CLONE_NEWPID)  # back to our own, to make a new one from it
                    slot.init, slot.alive_w = start_init(self.plan.init_argv)
                    self._watch(slot.init)  # its exit, at the end, wakes us (_ended)
                    slot.ns = os.open(f"/proc/{slot.init}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
                except OSError:  # the child reports the layer missing
                    slot.init = slot.ns = None
        for (ask, _), child in zip(asks, self._fork(asks), strict=True):
            send(self.sock, {"slot": ask["sid"], "init": self.slots[ask["sid"]].init, "child": child})

    def _fork(self, asks: list[tuple[dict, list[int]]]) -> list[int]:
        """A child in each asked-for slot (``ask["sid"]``), forked back to back and only then
        recorded: every page this process writes after a fork is copied (it is shared with the
        child), and the pages written between two forks are copied once more, so forking a
        second child before the bookkeeping of the first spares most of those copies."""
        me = os.getpid()
        pids = []
        for ask, passed in asks:
            slot = self.slots[ask["sid"]]
            target = slot.ns if slot.ns is not None else self.own_ns
            if target is not None:
                setns(target, CLONE_NEWPID)  # the child is born in the slot's namespace (or ours)
            pid = os.fork()
            if pid == 0:
                self._child(ask, passed, slot, me, [fd for _, other in asks if other is not passed for fd in other])
            pids.append(pid)
        for (ask, _), pid in zip(asks, pids, strict=True):
            self.slots[ask["sid"]].children.add(pid)
            self.owner[pid] = ask["sid"]
            self._watch(pid)
        return pids

    def _child(self, ask: dict, passed: list[int], slot: _Slot, me: int, others: list[int]) -> None:
        """In a new child: never returns (never falls back into the zygote's loop)."""
        try:
            for fd in [self.sock.fileno(), *others]:  # the other slots' pipes are not this child's
                os.close(fd)
            cmd_r, res_w, out_w = passed[:3]
            if len(passed) > 3:  # the slot's progress page, shared with the supervisor alone
                framing.PROGRESS = mmap.mmap(passed[3], mmap.PAGESIZE)
            child_main(self.plan, me, ask["scratch"], out_w, cmd_r, res_w, ask.get("cg"), slot.init)
        finally:
            os._exit(framing.EXIT_SETUP_FAILED)

    def _kill(self, pid: int) -> None:
        if pid not in self.owner or pid in self.reaper.statuses:
            return  # reaped already: its pid (and group) may be another process's by now
        for fn in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                fn()
            except OSError:
                pass
        if pid not in self.reaper.statuses:
            try:
                got, status, usage = os.wait4(pid, 0)
                self.reaper.statuses[got] = (status, usage)
            except ChildProcessError:
                pass

    def _protected(self) -> set[int]:
        """The supervisor and every process of the other slots (the next submission's)."""
        keep = {self.supervisor}
        for slot in self.slots.values():
            keep |= slot.children | slot.ending | ({slot.init} if slot.init else set())
        return keep

    def _sweep(self, slot: _Slot | None) -> None:
        """Kill the orphans a killed child left: in a PID namespace they are its init's, else ours."""
        if slot is not None and slot.init is not None:
            self.reaper.sweep(slot.init, reaper=True)
        else:
            self.reaper.sweep(os.getpid(), spare=self._protected())

    def _end(self, sid: int) -> bool:
        """Kill all of a slot's processes; True once they are reaped (then the slot is gone).
        In a PID namespace that is answered later (``_ended``): the processes exit (their memory
        and mount namespace torn down, which takes a while) while we serve the other slots."""
        slot = self.slots.get(sid)
        if slot is None:
            return True
        if slot.init is None:  # no namespace: kill, reap and sweep the orphans now
            for pid in list(slot.children):
                self._kill(pid)
                self.owner.pop(pid, None)
                self._forget(pid)
            del self.slots[sid]  # not protected any more
            self._sweep(None)
            self._close(slot)
            return True
        if slot.init not in self.reaper.statuses:  # its death ends the namespace, and all in it
            try:
                os.kill(slot.init, signal.SIGKILL)
            except OSError:
                pass
        for pid in slot.children:
            if pid not in self.reaper.statuses:  # reaped already: its pid may be another's by now
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.owner.pop(pid, None)  # no "dead" report: the slot's "ended" says it
        slot.ending = slot.children | {slot.init}
        slot.children = set()
        self._ended()
        return False

    def _ended(self) -> None:
        """Answer "ended" for each ending slot whose processes are all reaped."""
        for sid, slot in list(self.slots.items()):
            if slot.ending and all(p in self.reaper.statuses for p in slot.ending):
                for pid in slot.ending:
                    self._forget(pid)
                del self.slots[sid]
                self._close(slot)
                try:
                    send(self.sock, {"ended": sid})
                except OSError:
                    pass

    @staticmethod
    def _close(slot: _Slot) -> None:
        for fd in (slot.alive_w, slot.ns):
            if fd is not None:
                os.close(fd)
