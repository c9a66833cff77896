"""The supervisor: one long-lived process that runs every submission in turn, each in a slot
the zygote (the worker) prepared ahead of its turn; it feeds the slot's children their calls,
enforces CPU and wall time and the framing, and streams events to the grader. It forks nothing:
the worker, which never holds a submission, forks every child."""

from __future__ import annotations

import itertools
import json
import os
import select
import signal
import time

from .batches import Batches
from .childpipes import Child
from .framing import CMD_HEAD, K_ERROR, K_EXIT, K_FATAL, K_LOADED, K_SETUP, LOAD_SEQ, \
    LOADED_FRAME, READ_CHUNK, Channel, ChannelClosed, ProtocolError, write_all
from .kept import KeptCalls
from .layers.cgroup import OomCount, cgroup_readback, cgroup_remove
from .linux import PR_SET_PDEATHSIG, prctl
from .procs import remove
from .slots import Slot, ZygoteGone, ZygoteLink, ask_slots


_HELD = ("setup", "load", "calls", "fatal")
HOLD_SECONDS = 0.05  # a submission still running after this streams its events
AHEAD = 2  # slots prepared for the next submissions, at least
PAIR = 2  # asked for together when fewer are ready: so at most AHEAD + PAIR - 1


class _Fatal(Exception):
    """The submission cannot be run isolated as required (reported to the grader as fatal)."""


class Supervisor:
    """Runs submissions in turn: feeds each slot's children calls, streams events to the parent."""

    def __init__(self, chan: Channel, plan, zygote: ZygoteLink):
        self.chan, self.plan, self.zygote = chan, plan, zygote
        self.pid = os.getpid()
        self.sids = itertools.count()
        self.stale: list[dict] = []  # cgroups that could not be removed yet
        self.retiring: list[Slot] = []  # ended slots whose processes the zygote is reaping
        self.held: list[tuple[dict, list]] = []  # the current submission's events, sent with its "done"
        self.started = 0.0  # when the current submission began (monotonic)
        self.slot: Slot | None = None
        self.ahead: list[Slot] = []  # the next submissions' slots, prepared in turn
        self.upcoming: Slot | None = None  # between runs: the slot the next one runs in
        self.kept = KeptCalls()  # the class's calls, sent once (kept.py)
        self.commands: dict | None = None  # this run's kept set's commands (Batches._command)
        self.kept_blobs = 0  # how many of this run's blobs are its kept set's

    def emit(self, header: dict, blobs=()) -> None:
        """An event for the grader. A submission's own (setup, load, calls, fatal) are held and
        go with its "done", in one message: the grader needs them all before it goes on, and
        each message would wake it (and put it in the way of the child on a busy CPU)."""
        if header.get("event") in _HELD:
            self.held.append((header, list(blobs)))
            return
        if header.get("event") == "done":
            self.held.append((header, list(blobs)))
            self.flush()
            return
        self._send(header, blobs)

    def flush(self) -> None:
        """Send the held events now (a submission that runs for long streams them: what it has
        answered is then kept if the worker dies before it is done)."""
        if self.held:
            held, self.held = self.held, []
            self._send({"event": "events", "events": [dict(h, blobs=len(b)) for h, b in held]},
                       [blob for _, b in held for blob in b])

    def _send(self, header: dict, blobs) -> None:
        try:
            self.chan.send(header, blobs)
        except OSError:
            self.abort()

    def abort(self) -> None:
        """The parent (or the worker) is gone: leave; the worker kills every slot's processes."""
        os._exit(1)

    def serve(self) -> None:
        try:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.upcoming = self._new_slot(None)
            while True:
                try:
                    self._idle()
                    req, blobs = self.chan.recv(max_blob=1 << 30)
                except (ChannelClosed, ProtocolError, OSError):
                    return
                if req.get("op") == "settle":  # the grader waits until the last submission is cleaned up
                    self._retire(block=True)
                    self.emit({"event": "settled"})
                    continue
                if req.get("op") != "run":
                    return
                try:
                    req, blobs, commands = self.kept.expand(req, blobs)
                except ProtocolError:
                    return  # the grader sees the worker gone, and starts another
                slot, self.upcoming = self.upcoming, None
                self.upcoming = self.run(slot, req, blobs, commands)
                if self.upcoming is None:  # that was the last submission (one `grade FILE`)
                    return
        except ZygoteGone:
            return

    def _prepare(self) -> None:
        """Slots for the next AHEAD submissions at least, asked for PAIR at a time once this one's
        module is on its way (their cgroups limited as this submission's is): each child has the
        time of that many submissions to fork and isolate itself (joining a cgroup v1 alone takes
        two RCU grace periods, several milliseconds) before its submission comes."""
        if len(self.ahead) < AHEAD:
            self.ahead += ask_slots(self.plan, self.zygote, [next(self.sids) for _ in range(PAIR)], self.limits)

    def _next(self) -> Slot:
        """The slot for the next submission (prepared ahead, or made now)."""
        return self.ahead.pop(0) if self.ahead else self._new_slot(self.limits)

    def _new_slot(self, limits: dict | None) -> Slot:
        return ask_slots(self.plan, self.zygote, [next(self.sids)], limits)[0]

    def run(self, slot: Slot, req: dict, blobs: list, commands: dict | None = None) -> Slot | None:
        """Run one submission in its slot; returns the next submission's slot (None after the
        last one: ``req["last"]``). ``commands``: those made from its kept set of calls (kept.py)."""
        self.slot = slot
        self.started = time.monotonic()
        self.out_r, self.out_w, self.scratch = slot.out_r, slot.out_w, slot.scratch
        self.out_kept, self.out_total = bytearray(), 0
        self.cg, self.ooms, self.cg_error = slot.cg, 0, ""
        self.oom_count = OomCount(self.cg) if self.cg is not None else None
        child = slot.ready()
        if self.zygote.poll(child.pid) is not None:  # killed while waiting: start another
            self._end_child(child)
            child = slot.fork()
        self.req, self.blobs = req, blobs
        self.commands = commands
        self.kept_blobs = req["shared"]["blobs"] if commands is not None else 0
        self.limits = req["limits"]
        self.out_cap = int(self.limits["output_bytes"])
        if self.cg is not None:  # before the child runs any of the submission's code
            try:
                slot.limit(self.limits)  # set when the slot was made, unless this run's differ
                self.ooms = self.oom_count()
            except OSError as exc:
                self.cg_error = f"limits could not be set: {exc}"
        fatal = False
        calls = req["calls"]
        batches = Batches(self, slot.progress)
        try:
            self._write_files()
            child, header, blobs = self._start(child, len(calls), ahead=lambda c: batches.ahead(c, calls))
            self.emit(dict(header, event="load"), blobs)
            if child is not None and calls:
                child = batches.run(child, calls)
        except _Fatal:
            fatal = True
            child = None
        if not fatal:
            self._drain_output()  # the harness flushed the child's streams before its last frame
        # The zygote kills the slot's processes now and reaps them while the next submission runs;
        # its scratch and cgroup go once it has (_retire).
        slot.end()
        if child is not None:
            self._close_child(child)
        if self.oom_count is not None:
            self.oom_count.close()
        self.retiring.append(slot)
        self.emit({"event": "done", "output_total": self.out_total, "round_trips": batches.round_trips},
                  [bytes(self.out_kept)])
        if req.get("last") is True:  # nothing prepared for a next submission: the worker leaves
            return None
        self.upcoming = self._next()
        self.upcoming.ready()
        self._retire()
        return self.upcoming

    def _retire(self, block: bool = False) -> None:
        """Finish the ended slots the zygote has reaped (all of them with ``block``): their
        scratch, cgroup and pipes go, and a clean event each names what runs now (the supervisor
        and the slots prepared for the next submissions: an init and one idle child each)."""
        while self.retiring:
            slot = self.retiring[0]
            if (self.zygote.reply if block else self.zygote.take)("ended", slot.sid) is None:
                return
            self.retiring.pop(0)
            for pid in slot.children:  # reaped: each pid may be a new process's soon
                self.zygote.deaths.pop(pid, None)
            remove(slot.scratch)
            if slot.cg is not None and not cgroup_remove(slot.cg):
                self.stale.append(slot.cg)
            self.stale[:] = [cg for cg in self.stale if not cgroup_remove(cg, timeout=0)]
            slot.close()
            # between runs the serve loop holds the next slot (self.slot is the last run's)
            ready = [s for s in (self.upcoming, *self.ahead) if s is not None]
            for prepared in ready:
                prepared.ready()  # asked for long ago: its child's pid is in by now
            self.emit({"event": "clean", "spare": [self.pid, *(p for r in ready for p in r.pids())],
                       "next": ready[0].pids() if ready else [],
                       "ahead_scratch": [os.path.basename(r.scratch) for r in ready]})

    def _idle(self) -> None:
        """Until the grader sends something: slots are retired as the zygote reaps them."""
        while True:
            ready = select.select([self.chan.rfd, self.zygote.fileno()], [], [])[0]
            if self.zygote.fileno() in ready:
                self.zygote.pump()
                self._retire()
            if self.chan.rfd in ready:
                return

    def _fork(self) -> Child:
        """A fresh child for the current submission (the zygote forks it into its slot)."""
        return self.slot.fork()

    def _write_files(self) -> None:
        files = [(self.req["filename"], self.req["code"].encode())]
        files += [(h["name"], self.blobs[h["blob"]]) for h in self.req.get("helpers", ())]
        for name, data in files:
            if "/" in name or name.startswith(".") or not name.endswith(".py"):
                continue
            path = os.path.join(self.scratch, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
            if self.plan.root and "user" in self.plan.enabled:
                os.chown(path, self.plan.uid, self.plan.gid)

    def _start(self, child: Child, calls_left: int, retried: bool = False, ahead=None):
        """Send the submission to a waiting child, and behind it the commands ``ahead(child)``
        gives (if any); (child or None if it did not load, event header, blobs)."""
        req = self.req
        load = {k: req.get(k) for k in ("code", "filename", "display_name", "module", "notebook", "limits")}
        load["cpu_total"] = float(self.limits["cpu_seconds"]) * (calls_left + 1) + 1
        compiled, code = req.get("compiled"), b""
        if isinstance(compiled, dict) and type(compiled.get("blob")) is int and 0 <= compiled["blob"] < len(self.blobs):
            code = bytes(self.blobs[compiled["blob"]])  # the module as the grader compiled it, behind the JSON
            load["compiled"] = {"bytes": len(code), "python": compiled.get("python")}
        data = json.dumps(load).encode()
        child.pending = memoryview(CMD_HEAD.pack(len(data)) + data + code + (ahead(child) if ahead else b""))
        child.push()
        # The zygote forks the next submission's slot while this one runs (after the last one,
        # a single `grade FILE`, the worker leaves instead).
        if req.get("last") is not True:
            self._prepare()
        base = child.cpu()  # a child forked ahead has already spent some CPU isolating itself
        setup = self._wait(child, K_SETUP + K_FATAL, LOAD_SEQ, base)
        if setup[0] == "dead" and not retried:  # it died idle, before any student code: once more
            self._end_child(child)
            return self._start(self._fork(), calls_left, retried=True, ahead=ahead)
        missing = []
        if setup[0] == "frame" and setup[1][0] == K_SETUP:
            # Written before any student code ran: the child's own account can be trusted.
            layers = json.loads(setup[1][1]).get("layers", {})
            missing = [k for k in req.get("require", ()) if not layers.get(k, [False])[0]]
        if setup[0] != "frame" or setup[1][0] != K_SETUP or missing:
            self._end_child(child)
            detail = (f"required isolation missing: {', '.join(missing)}" if missing else
                      setup[1][1].decode(errors="replace")[:2000] if setup[0] == "frame" else repr(setup[:2]))
            self.emit({"event": "fatal", "message": f"the sandbox could not isolate the submission: {detail}"})
            raise _Fatal()
        extra = {}
        if self.cg is not None:  # the limits as the kernel holds them, for missing_layers and doctor()
            extra["cgroup"] = cgroup_readback(self.cg, child.pid)
            if self.cg_error:
                extra["cgroup"]["error"] = self.cg_error
        self.emit(dict(extra, event="setup"), [setup[1][1]])
        load = self._wait(child, K_LOADED + K_ERROR + K_EXIT, LOAD_SEQ, base)
        header, blobs, _ = self._oom_judged(self._judge(child, load, "load"))
        if header.get("kind") != "L":  # an exception or an exit at import: that child is done
            self._end_child(child)
            return None, header, blobs
        return child, header, blobs

    def _oom_judged(self, judged: tuple):
        """A kill by the cgroup's OOM killer (of the child or of any process it forked) while the
        submission's code ran ends that code: memory_limit, whatever the child itself sent."""
        if self.cg is None:
            return judged
        count = self.oom_count()
        if count <= self.ooms:
            return judged
        self.ooms = count
        mb = float(self.limits["memory_mb"])
        return ({"status": "memory_limit", "message": f"ran out of memory (limit {mb:g} MB for all its processes "
                 "together): the kernel's OOM killer ended one of them"}, [], False)

    def _judge(self, child: Child, got, phase: str):
        """(event header, blobs, keep the child?) from what a wait produced."""
        what = got[0]
        if what == "frame":
            kind, payload = got[1]
            return {"status": "frame", "kind": kind.decode()}, [payload], True
        if what == "garbage":
            return {"status": "invalid_output",
                    "message": f"the submission wrote {child.garbage} (not a result the grader sent for)"}, [], False
        if what == "timeout":
            limit = self.limits["cpu_seconds"] if got[1] == "cpu" else self.limits["wall_seconds"]
            kind = "CPU time" if got[1] == "cpu" else "wall-clock time"
            more = "" if got[1] == "cpu" else " (sleeping, waiting or blocked)"
            return {"status": "timeout", "message": f"exceeded the {kind} limit of {limit:g} s{more}"}, [], False
        # dead without a complete frame
        status, usage = got[1]
        maxrss_mb = usage.ru_maxrss / 1024 if usage else 0
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            return {"status": "signal", "signal": sig, "maxrss_mb": maxrss_mb}, [], False
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        return {"status": "exit", "code": code}, [], False

    def _wait(self, child: Child, kinds: bytes, seq: int, base_cpu: float, caps: dict | None = None,
              progress=None, calls: int = 1):
        """A frame of ``kinds`` and ``seq``, or why none came. With ``progress`` (a batch of
        ``calls``), each call gets its own CPU and wall-clock limit from the moment the progress
        word says it started."""
        caps = caps or {K_LOADED: LOADED_FRAME}
        wall = float(self.limits["wall_seconds"])
        cpu = float(self.limits["cpu_seconds"])
        deadline = time.monotonic() + wall
        batch_end = deadline + (calls - 1) * wall  # however the word moves
        word = progress() if progress is not None else 0
        next_cpu_check = time.monotonic() + 0.02
        poller = select.poll()
        registered_cmd = False
        poller.register(self.out_r, select.POLLIN)
        poller.register(child.res_r, select.POLLIN)
        poller.register(self.chan.rfd, select.POLLIN)
        poller.register(self.zygote.fileno(), select.POLLIN)  # a death, reported by the zygote
        while True:
            frame = child.take(kinds, seq, caps)
            if frame == "garbage":
                return ("garbage",)
            if frame is not None:
                return ("frame", frame)
            if child.pending and not registered_cmd:
                poller.register(child.cmd_w, select.POLLOUT)
                registered_cmd = True
            dead = self.zygote.poll(child.pid)
            if dead is not None:
                child.read_result()
                frame = child.take(kinds, seq, caps)
                if frame == "garbage":
                    return ("garbage",)
                if frame is not None:
                    return ("frame", frame)
                return ("dead", dead)
            now = time.monotonic()
            if now >= deadline:
                return ("timeout", "wall")
            if self.held and now - self.started > HOLD_SECONDS:
                self.flush()
            if now >= next_cpu_check:  # reading /proc costs; 20 ms granularity is plenty
                next_cpu_check = now + 0.02
                used = child.cpu()
                if progress is not None and progress() != word:  # the next call of the batch began
                    word, base_cpu, deadline = progress(), used, min(now + wall, batch_end)
                elif used - base_cpu > cpu:
                    return ("timeout", "cpu")
            for fd, ev in poller.poll(max(1, min(20, int((deadline - now) * 1000) + 1))):
                if fd == self.out_r:
                    self._drain_output()
                elif fd == child.res_r:
                    child.read_result()
                    if child.res_eof:
                        poller.unregister(child.res_r)
                elif fd == self.chan.rfd:
                    self.abort()
                elif fd == child.cmd_w:
                    if ev & (select.POLLERR | select.POLLHUP):
                        child.pending = memoryview(b"")
                    else:
                        child.push()
                    if not child.pending:
                        poller.unregister(child.cmd_w)
                        registered_cmd = False

    def _end_child(self, child: Child) -> None:
        self.slot.kill(child)  # and whatever it left; the namespace's init lives on, for the next child
        self._close_child(child)
        if self.cg is not None:  # kills while its processes died count against no later code
            self.ooms = self.oom_count()

    def _close_child(self, child: Child) -> None:
        for fd in (child.cmd_w, child.res_r, child.stat_fd):
            if fd >= 0:
                os.close(fd)
        child.cmd_w = child.res_r = child.stat_fd = -1
        self.zygote.deaths.pop(child.pid, None)  # reaped: its pid may be a new process's soon

    def _drain_output(self, rounds: int = 16) -> None:
        for _ in range(rounds):  # bounded, so that a flood cannot starve the deadline checks
            try:
                chunk = os.read(self.out_r, READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            if not chunk:
                return
            self.out_total += len(chunk)
            room = self.out_cap - len(self.out_kept)
            if room > 0:
                self.out_kept += chunk[:room]


