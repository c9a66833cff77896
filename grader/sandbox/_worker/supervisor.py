"""The supervisor: runs one submission, forking its children, feeding them calls, enforcing
CPU and wall time and the framing, and streaming events to the grader."""

from __future__ import annotations

import json
import os
import select
import signal
import time

from . import framing
from .batches import Batches
from .child import child_main
from .childpipes import Child
from .framing import CMD_HEAD, FRAME_HEAD, FRAME_MAGIC, K_ERROR, K_EXIT, K_FATAL, K_LOADED, K_RESULT, \
    K_SETUP, LOAD_SEQ, LOADED_FRAME, EXIT_FATAL, EXIT_GONE, EXIT_QUIT, Channel, ChannelClosed, \
    ProtocolError, new_progress, write_all
from .layers.cgroup import cgroup_limit, cgroup_ooms, cgroup_readback
from .linux import PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, prctl
from .layers.pidns import start_init
from .procs import Reaper, grow_pipe

class Supervisor:
    """Runs one submission: forks children, feeds them calls, streams events to the parent."""

    def __init__(self, chan: Channel, plan, scratch: str, go_r: int, got_w: int, cg: dict | None = None):
        self.chan, self.plan, self.scratch = chan, plan, scratch
        self.go_r, self.got_w = go_r, got_w
        self.cg, self.ooms, self.cg_error = cg, 0, ""
        self.reaper = Reaper()
        self.pid = os.getpid()

    def emit(self, header: dict, blobs=()) -> None:
        try:
            self.chan.send(header, blobs)
        except OSError:
            self.abort()

    def abort(self) -> None:
        """The parent is gone: kill everything and leave."""
        self.reaper.sweep(self.pid)
        os._exit(1)

    def run(self) -> None:
        """Prepare (scratch, a pre-isolated child) before the submission arrives, so that
        forking and isolating are off the grader's critical path; then run the submission."""
        try:
            prctl(PR_SET_CHILD_SUBREAPER, 1)
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        self.out_r, self.out_w = os.pipe()
        grow_pipe(self.out_r)
        os.set_blocking(self.out_r, False)
        self.out_kept, self.out_total = bytearray(), 0
        self.pid_init = None  # the init of the submission's PID namespace (layers/pidns.py)
        if "pidns" in self.plan.enabled:
            try:
                self.pid_init, self.init_alive = start_init()  # the pipe is closed by each child
            except OSError:
                pass  # the child reports the layer missing
        self.progress = framing.PROGRESS = new_progress()  # shared with the children forked from here on
        child = self._fork()
        self._warm_up()
        # Wait for our turn: the supervisor before us may still be running its submission.
        if not os.read(self.go_r, 1):
            self.reaper.sweep(self.pid)
            os._exit(EXIT_GONE)
        try:
            req, blobs = self.chan.recv(max_blob=1 << 30)
        except (ChannelClosed, ProtocolError, OSError):
            self.reaper.sweep(self.pid)
            os._exit(EXIT_GONE)
        if req.get("op") != "run":
            self.reaper.sweep(self.pid)
            os._exit(EXIT_QUIT)
        os.write(self.got_w, b"r")  # the worker may now prepare the next supervisor
        os.close(self.got_w)
        if self.reaper.poll(child.pid) is not None:  # killed while waiting: start another
            self._close_child(child)
            child = self._fork()
        self.req, self.blobs = req, blobs
        self.limits = req["limits"]
        self.out_cap = int(self.limits["output_bytes"])
        if self.cg is not None:  # before the child runs any of the submission's code
            try:
                cgroup_limit(self.cg, float(self.limits["memory_mb"]), int(self.limits["processes"]))
                self.ooms = cgroup_ooms(self.cg)
            except OSError as exc:
                self.cg_error = f"limits could not be set: {exc}"
        self._write_files()
        calls = req["calls"]
        child, header, blobs = self._start(child, len(calls))
        self.emit(dict(header, event="load"), blobs)
        batches = Batches(self, self.progress)
        if child is not None and calls:
            child = batches.run(child, calls)
        if child is not None:
            self._end_child(child)
        self._end_namespace()
        self.reaper.sweep(self.pid)
        self._drain_output()
        self.emit({"event": "done", "output_total": self.out_total, "round_trips": batches.round_trips},
                  [bytes(self.out_kept)])
        os._exit(0)

    def _warm_up(self) -> None:
        """Take, while waiting, the page copies that the first use of each path costs after a
        fork (see _warm_up in the child)."""
        try:
            dummy = {"event": "call", "index": 0, "status": "frame", "kind": "R", "limits": {"wall_seconds": 1.0}}
            json.loads(json.dumps(dummy).encode())
            FRAME_HEAD.unpack_from(FRAME_HEAD.pack(FRAME_MAGIC, K_RESULT, 0, 0))
            poller = select.poll()
            poller.register(self.out_r, select.POLLIN)
            poller.poll(0)
            Child(0, -1, -1).take(K_RESULT, 0, {K_RESULT: 1})
            self.reaper.reap()
        except Exception:  # noqa: BLE001 - only an optimisation
            pass

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

    def _fork(self) -> Child:
        """A child that isolates itself and waits for the submission."""
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        grow_pipe(cmd_w)
        grow_pipe(res_r)
        pid = os.fork()
        if pid == 0:
            try:
                os.close(cmd_w)
                os.close(res_r)
                os.close(self.out_r)
            finally:
                child_main(self.plan, self.pid, self.scratch, self.out_w, cmd_r, res_w, self.cg, self.pid_init)
        os.close(cmd_r)
        os.close(res_w)
        os.set_blocking(res_r, False)
        os.set_blocking(cmd_w, False)
        return Child(pid, cmd_w, res_r)

    def _start(self, child: Child, calls_left: int):
        """Send the submission to a waiting child; (child or None if it did not load, event
        header, blobs)."""
        req = self.req
        load = {k: req.get(k) for k in ("code", "filename", "display_name", "module", "notebook", "limits")}
        load["cpu_total"] = float(self.limits["cpu_seconds"]) * (calls_left + 1) + 1
        data = json.dumps(load).encode()
        child.pending = memoryview(CMD_HEAD.pack(len(data)) + data)
        base = child.cpu()  # a child forked ahead has already spent some CPU isolating itself
        setup = self._wait(child, K_SETUP + K_FATAL, LOAD_SEQ, base)
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
            self.reaper.sweep(self.pid)
            os._exit(EXIT_FATAL)
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
        count = cgroup_ooms(self.cg)
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
        while True:
            frame = child.take(kinds, seq, caps)
            if frame == "garbage":
                return ("garbage",)
            if frame is not None:
                return ("frame", frame)
            if child.pending and not registered_cmd:
                poller.register(child.cmd_w, select.POLLOUT)
                registered_cmd = True
            dead = self.reaper.poll(child.pid)
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
                        child.pending = b""
                    else:
                        try:
                            child.pending = child.pending[os.write(child.cmd_w, child.pending):]
                        except BlockingIOError:
                            pass
                        except OSError:
                            child.pending = b""
                    if not child.pending:
                        poller.unregister(child.cmd_w)
                        registered_cmd = False

    def _end_child(self, child: Child) -> None:
        for fn in (lambda: os.killpg(child.pid, signal.SIGKILL), lambda: os.kill(child.pid, signal.SIGKILL)):
            try:
                fn()
            except OSError:
                pass
        self.reaper.reap(block_pid=child.pid)
        self.reaper.sweep(self.pid, spare=self.pid_init)  # the namespace's init lives on, for the next child
        if self.pid_init is not None:
            self.reaper.sweep(self.pid_init, reaper=True)  # and the orphans it adopted go
        self._close_child(child)
        if self.cg is not None:  # kills while its processes died count against no later code
            self.ooms = cgroup_ooms(self.cg)

    def _end_namespace(self, timeout: float = 2.0) -> None:
        """Kill the PID namespace's init (the kernel kills what is left in the namespace) and
        reap it; never a blocking wait: the init waits in turn for our dead children to be reaped."""
        if self.pid_init is None:
            return
        try:
            os.kill(self.pid_init, signal.SIGKILL)
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        while self.reaper.poll(self.pid_init) is None and time.monotonic() < deadline:
            self.reaper.reap()
            time.sleep(0.0005)
        self.pid_init = None

    def _close_child(self, child: Child) -> None:
        for fd in (child.cmd_w, child.res_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def _drain_output(self, rounds: int = 16) -> None:
        for _ in range(rounds):  # bounded, so that a flood cannot starve the deadline checks
            try:
                chunk = os.read(self.out_r, 1 << 20)
            except (BlockingIOError, InterruptedError):
                return
            if not chunk:
                return
            self.out_total += len(chunk)
            room = self.out_cap - len(self.out_kept)
            if room > 0:
                self.out_kept += chunk[:room]


