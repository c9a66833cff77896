"""One submission's round trip with the worker: the calls encoded into a request, and the
worker's events decoded into a :class:`SubmissionRun`."""

from __future__ import annotations

import dataclasses
import difflib
import io
import itertools
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..errors import SandboxUnavailable
from ..submission import Source
from . import _worker as W
from ._decode import Rejected, decode_result, escape_output, json_object, text
from ._files import _module_name, helper_files
from ._missing import missing_layers
from .model import Call, CallOutcome, Limits, SubmissionRun


class _Box(Protocol):
    """What a run reads and sets of its :class:`~grader.sandbox.Sandbox` (it is the sandbox's own
    machinery, kept apart from the launch code; typed so that this module needs no import of it)."""

    _chan: Any
    _proc: Any
    _hello: dict
    _cgroup: Any
    _layers: Any
    _isolate_ms: float | None
    _unsettled: bool
    _shared: list  # the tokens of the call sets this worker process keeps (W.SHARED_CALLS at most, oldest first)

    def start(self) -> Any: ...

    def _cleaned(self, header: dict) -> None: ...

    def _kill_worker(self) -> None: ...

_NPY: dict[int, tuple[np.ndarray, bytes]] = {}  # read-only arrays (a cached exercise's) -> their .npy bytes


def _frozen(arg: np.ndarray) -> bool:
    """Read-only, and so is what it is a view of: its bytes cannot change."""
    return not arg.flags.writeable and (arg.base is None or not getattr(arg.base, "flags", arg.flags).writeable)


def _npy(arg: np.ndarray, keep: bool = True) -> bytes:
    """``.npy`` bytes of a float64 array; a read-only array (an exercise's case or probe, the
    same objects for every submission) is written once (``keep``: and remembered)."""
    hit = _NPY.get(id(arg))
    if hit is not None and hit[0] is arg:
        return hit[1]
    arr = np.ascontiguousarray(arg, dtype=np.float64) if arg.ndim else np.asarray(arg, dtype=np.float64)
    data = _npy_header(arr.shape) + arr.tobytes()
    if keep and _frozen(arg):
        if len(_NPY) > 512:
            _NPY.clear()
        _NPY[id(arg)] = (arg, data)
    return data


_HEADERS: dict[tuple[int, ...], bytes] = {}


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header of a C-ordered float64 array of ``shape``, as NumPy writes it (made by
    NumPy itself, once per shape: what follows it is the array's bytes in C order)."""
    head = _HEADERS.get(shape)
    if head is None:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float64)),
                                                  "fortran_order": False, "shape": shape})
        head = buf.getvalue()
        if len(_HEADERS) > 256:
            _HEADERS.clear()
        _HEADERS[shape] = head
    return head


def _scalar(arg: Any) -> dict:
    """The message of an argument that is not an array: a finite float or an int."""
    if isinstance(arg, bool) or not isinstance(arg, (int, float)):
        raise TypeError(f"a sandbox call argument must be a float64 ndarray, a float or an int, not {type(arg).__name__}")
    if isinstance(arg, float) and not np.isfinite(arg):
        raise ValueError("a sandbox call argument must be finite")
    return {"value": arg}


_ENCODED: dict[int, tuple[tuple, list, list[bytes], int | None, int]] = {}  # a cached exercise's calls -> their messages
_SETS: dict[tuple, tuple[list, list, list[bytes], int]] = {}  # what a kept set is made of -> (arrays, messages, blobs, token)
_TOKENS = itertools.count(1)


def _encode_calls(calls: Sequence[Call]) -> tuple[list, list[bytes], int | None, int]:
    """The call messages and argument blobs, a token naming the messages and the first ``count``
    blobs, and ``count``. The read-only arrays of the calls that are not ``own`` come first and
    are the kept set: for the same arrays (the same objects: a cached exercise's, or the random
    cases that every student's variant shares) and the same layout of the messages, the same
    token, so that a worker is sent them once. A call's ``own`` arrays (a student's values)
    follow, sent each time; the kept messages name them by position (token None: nothing kept)."""
    hit = _ENCODED.get(id(calls))
    if hit is not None and hit[0] is calls:
        return hit[1], hit[2], hit[3], hit[4]
    kept: list[np.ndarray] = []
    own: list[np.ndarray] = []
    seen: dict[int, tuple[bool, int]] = {}  # an array sent once, however many calls take it
    rows: list[list] = []  # per call, per argument: (own?, position) of an array, or a scalar's message
    for call in calls:
        if not isinstance(call.function, str) or not call.function.isidentifier():
            raise ValueError(f"not a function name: {call.function!r}")
        row = []
        for arg in call.args:
            if isinstance(arg, np.ndarray):
                at = seen.get(id(arg))
                if at is None:
                    into = own if call.own else kept
                    into.append(arg)
                    at = seen[id(arg)] = (call.own, len(into) - 1)
                row.append(at)
            else:
                row.append(_scalar(arg))
        rows.append(row)
    # the messages' layout: each call's function and arguments, arrays by position (a scalar by
    # type and value: 1 and 1.0 are written differently; NaN never gets this far)
    layout = tuple((call.function, call.own, *(a if isinstance(a, tuple) else (type(a["value"]), a["value"]) for a in row))
                   for call, row in zip(calls, rows, strict=True))
    shape = (tuple(map(id, kept)), layout)
    found = _SETS.get(shape)
    if found is not None and all(a is b for a, b in zip(found[0], kept, strict=True)):
        call_msgs, kept_blobs, token = found[1], found[2], found[3]
    else:
        call_msgs = [{"index": i, "function": call.function,
                      "args": [a if isinstance(a, dict) else {"blob": len(kept) + a[1] if a[0] else a[1]} for a in row]}
                     for i, (call, row) in enumerate(zip(calls, rows, strict=True))]
        kept_blobs = [_npy(a) for a in kept]
        token = None
        if isinstance(calls, tuple) and kept and all(_frozen(a) for a in kept):
            token = next(_TOKENS)
            if len(_SETS) > 16:
                _SETS.clear()
            _SETS[shape] = (kept, call_msgs, kept_blobs, token)
    blobs = kept_blobs + [_npy(a, keep=False) for a in own]
    if token is not None and not own:
        if len(_ENCODED) > 16:
            _ENCODED.clear()
        _ENCODED[id(calls)] = (calls, call_msgs, blobs, token, len(kept))
    return call_msgs, blobs, token, len(kept)


def encode_request(source: Source, calls: Sequence[Call], limits: Limits, require: list[str],
                   last: bool = False) -> tuple[dict, list, list[bytes], list[str], tuple[int, int] | None]:
    """(request, call messages, blobs, refused helper notes, shared) for running ``calls`` on
    ``source``; ``last``: the worker leaves after it. ``shared``: (token, count) when the call
    messages and the first ``count`` blobs are the same for every submission of the exercise,
    so that a worker that keeps them is sent the token instead (:meth:`_Run._attempt`)."""
    call_msgs, blobs, token, count = _encode_calls(calls)
    shared = (token, count) if token is not None else None
    blobs = list(blobs)
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
           "limits": dataclasses.asdict(limits), "require": require}
    if source.compiled is not None:  # the child runs it as compiled here, if it is the same Python
        req["compiled"] = {"blob": len(blobs), "python": sys.version}
        blobs.append(source.compiled)
    if last:
        req["last"] = True
    return req, call_msgs, blobs, refused, shared


_SIGNAL_HINTS = {
    signal.SIGSEGV: "segmentation fault; often recursion too deep for the C stack after sys.setrecursionlimit, "
                    "or a crash in native code",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "arithmetic exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGKILL: "killed",
}



class _WorkerLost(Exception):
    """The worker died or stopped answering."""



class _Run:
    """The state of one submission while its events come in."""

    def __init__(self, box: _Box, req: dict, call_msgs: list, blobs: list, limits: Limits,
                 shared: tuple[int, int] | None = None):
        self.box, self.req, self.call_msgs, self.blobs, self.limits = box, req, call_msgs, blobs, limits
        self.shared = shared
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
        self.round_trips = 0

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

    def _request(self, pending: list) -> tuple[dict, list]:
        """The run command and its blobs. The exercise's calls and their argument arrays go to a
        worker process once (``store``); after that its supervisor is sent their token and keeps
        the rest (about 100 KB and 90 arrays a tutorial-4 submission, written, read and parsed
        again each time otherwise). Both ends keep the last W.SHARED_CALLS sets, dropping the
        oldest first, so they always agree on what is kept; a new worker keeps nothing."""
        req = dict(self.req, op="run", calls=pending)
        if self.shared is None or len(pending) != len(self.call_msgs):  # after a crash: the calls left, in full
            return req, self.blobs
        token, count = self.shared
        kept = self.box._shared
        if token in kept:
            del req["calls"]
            req["shared"] = {"id": token, "blobs": count}
            return req, self.blobs[count:]
        req["shared"] = {"id": token, "blobs": count, "store": True}
        kept.append(token)
        del kept[:-W.SHARED_CALLS]
        return req, self.blobs

    def _attempt(self, pending: list) -> None:
        box = self.box
        req, blobs = self._request(pending)
        # The supervisor enforces the limits and answers once, when the submission is done; this
        # is only a backstop for a hung worker: every call and a fresh load of the module per call
        # (after crashes) at their wall-clock limit, twice over.
        backstop = 2 * (2 * len(pending) + 1) * float(self.limits.wall_seconds) + 30
        try:
            box._chan.send(req, blobs)
            while True:
                header, blobs = box._chan.recv(deadline=time.monotonic() + backstop,
                                               max_blob=int(self.limits.result_bytes) + (4 << 20))
                if self._events(header, blobs):
                    return
        except W.ChannelTimeout:
            raise _WorkerLost("it stopped answering") from None
        except (OSError, W.ChannelClosed) as exc:
            code = box._proc.poll() if box._proc is not None else None
            raise _WorkerLost(f"exit status {code}" if code is not None else type(exc).__name__) from None
        except W.ProtocolError as exc:
            raise _WorkerLost(f"protocol error: {exc}") from None

    def _events(self, header: dict, blobs: list) -> bool:
        """A message of the worker: one event, or a submission's events together ("events", each
        with the count of its blobs); True once the run is done."""
        if header.get("event") != "events":
            return self._event(header, blobs)
        events, pos = header.get("events"), 0
        for event in events if isinstance(events, list) else []:
            count = event.get("blobs") if isinstance(event, dict) else None
            if not isinstance(count, int) or count < 0 or pos + count > len(blobs):
                raise W.ProtocolError("malformed events message")
            pos += count
            if self._event(event, blobs[pos - count:pos]):
                return True
        return False

    def _event(self, header: dict, blobs: list) -> bool:
        """Handle one event; True at the run's last ("done"; its clean-up is reported later)."""
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
        elif event == "calls":  # the calls resolved together, one item (and one blob) each
            items = header.get("items")
            if isinstance(items, list) and len(items) == len(blobs):
                for item, data in zip(items, blobs, strict=True):
                    if isinstance(item, dict):
                        self._call(item, data)
        elif event == "fatal":
            self.fatal = text(header.get("message")) or "the sandbox failed"
        elif event == "done":  # the last event of a run: the worker cleans up while the grader goes on
            self.output += blob
            total = header.get("output_total")
            self.output_total += total if isinstance(total, int) else len(blob)
            trips = header.get("round_trips")
            self.round_trips += trips if isinstance(trips, int) else 0
            if self.load is None and self.fatal is None:
                self.load = ("crashed", "internal sandbox error: the submission was not run")
            for i, outcome in enumerate(self.outcomes):
                if outcome is None and self.load is not None and self.load[0] == "ok":
                    self.outcomes[i] = CallOutcome("crashed", (), "internal sandbox error: this call was not run")
            self.box._unsettled = True
            return True
        elif event == "clean":  # an earlier submission's processes, scratch and cgroup are gone
            self.box._cleaned(header)
        return False

    def _call(self, item: dict, blob: bytes) -> None:
        index = item.get("index")
        if isinstance(index, int) and 0 <= index < len(self.outcomes) and self.outcomes[index] is None:
            status, message, values = self._interpret_call(item, blob, index)
            if item.get("reload"):
                message = ("not run: the module code, run again in a fresh process after an earlier call "
                           f"ended its process, failed: {message}")
            self.outcomes[index] = CallOutcome(status, values, message)

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
                             outcomes=tuple(outcomes), output=output, missing_layers=missing_layers(
                                 self.box._hello, self.layers, self.cgroup, self.limits),
                             round_trips=self.round_trips)
