"""A submission's calls, sent to its child in batches: every run of consecutive calls of one
function is one command and one reply (see :mod:`framing`), and each call still ends exactly as
if it had been sent alone.

What one call at a time would do, and how a batch keeps it:

- an exception, ``sys.exit`` or a missing function is an entry of that call in the reply;
- a death (a signal, ``os._exit``, a broken channel) or a timeout ends the child in the call the
  progress word names; the calls before it in the batch ran in that child and are run again in a
  fresh one, which is then ended, so that the calls after it start in a fresh child, as they did;
- after a timeout the later calls of that function are not run;
- what cannot be attributed from the progress word (garbage on the result channel, an OOM kill
  of another process of the submission, a reply that does not parse) runs the batch again one
  call per command in a fresh child, which is the old protocol exactly.
"""

from __future__ import annotations

import json
import signal

from .framing import BATCH_FRAME_SLACK, CMD_HEAD, K_BATCH, MAX_BATCH, PROGRESS_WORD, parse_batch


def groups(calls: list[dict]) -> list[list[dict]]:
    """Runs of consecutive calls of one function, in order."""
    out: list[list[dict]] = []
    for call in calls:
        if out and out[-1][0]["function"] == call["function"]:
            out[-1].append(call)
        else:
            out.append([call])
    return out


class Batches:
    """The call loop of one supervisor (its child, its limits, its events)."""

    def __init__(self, sup, progress):
        self.sup, self.progress = sup, progress
        self.seq = 0
        self.emitted: set[int] = set()
        self.gave_up: dict[str, str] = {}
        self.round_trips = 0
        self.waiting = 0  # the sequence number of the batch waited for
        self.queued: list[tuple[object, int, list[int]]] = []  # (child, seq, call indices) written ahead

    def _raw_word(self) -> int:
        return PROGRESS_WORD.unpack_from(self.progress, 0)[0] if self.progress is not None else 0

    def _word(self) -> int:
        """The call of the batch waited for that the child is in (1-based), 0 before it began."""
        word = self._raw_word()
        return word & 0xFFFFFFFF if word >> 32 == self.waiting else 0

    # -- commands
    def _command(self, chunk: list[dict]) -> tuple[int, bytes]:
        """(sequence number, bytes) of one command: every call of ``chunk``, each distinct
        argument array once. For a set of calls the supervisor keeps (the class's, see
        framing.SHARED_CALLS) everything but the sequence number is made once."""
        sup = self.sup
        self.seq += 1
        made = sup.commands  # the kept set's commands, by their calls' indices (None: not a kept set)
        key = tuple(c["index"] for c in chunk) if made is not None else None
        hit = made.get(key) if made is not None else None
        if hit is None:
            hit = self._parts(chunk)
            if made is not None and hit[2]:
                made[key] = hit
        rest, data, _ = hit
        cmd = f'{{"seq": {self.seq}, {rest}'.encode()
        return self.seq, CMD_HEAD.pack(len(cmd)) + cmd + data

    def _parts(self, chunk: list[dict]) -> tuple[str, bytes, bool]:
        """The command of ``chunk`` after its sequence number (its JSON text from the key that
        follows, and its arrays), and whether every array is one of the kept set's."""
        sup = self.sup
        blob_of: dict[int, int] = {}
        specs = []
        for call in chunk:
            spec = []
            for arg in call["args"]:
                if "blob" in arg:
                    spec.append({"b": blob_of.setdefault(arg["blob"], len(blob_of))})
                else:
                    spec.append({"v": arg["value"]})
            specs.append(spec)
        order = sorted(blob_of, key=blob_of.get)
        rest = json.dumps({"function": chunk[0]["function"], "blobs": [len(sup.blobs[b]) for b in order],
                           "calls": specs})[1:]
        return rest, b"".join(sup.blobs[b] for b in order), all(b < sup.kept_blobs for b in order)

    def ahead(self, child, calls: list[dict]) -> bytes:
        """The commands of every group of ``calls`` for a child about to load the module, written
        behind it: the child runs them back to back, with no round trip in between. Each is what
        :meth:`run` would send for that group on the path where nothing fails; on any other path
        the child is ended first, and what it had queued dies with it."""
        self.queued, out = [], []
        for group in groups(calls):
            if len(group) > MAX_BATCH:  # sent in chunks: from here on, one command at a time
                break
            seq, data = self._command(group)
            self.queued.append((child, seq, [c["index"] for c in group]))
            out.append(data)
        return b"".join(out)

    def _in_order(self, child, chunk: list[dict]) -> bool:
        """Whether ``chunk`` may go to ``child`` now: it has no command queued ahead, or its next
        queued one is this chunk's."""
        self.queued = [q for q in self.queued if q[0] is child]  # an ended child's queue died with it
        return not self.queued or self.queued[0][2] == [c["index"] for c in chunk]

    # -- events
    def _emit(self, items: list[tuple[dict, bytes]]) -> None:
        """One event for the calls resolved together (each call reported once)."""
        fresh = [(h, b) for h, b in items if h["index"] not in self.emitted]
        if not fresh:
            return
        self.emitted.update(h["index"] for h, _ in fresh)
        self.sup.emit({"event": "calls", "items": [h for h, _ in fresh]}, [b for _, b in fresh])

    def _not_run(self, calls: list[dict], function: str) -> None:
        self._emit([({"index": c["index"], "status": "timeout",
                      "message": f"not run: an earlier call of {function} {self.gave_up[function]}"}, b"")
                    for c in calls])

    # -- the loop
    def run(self, child, calls: list[dict]):
        """Run every call (the module is loaded in ``child``); returns the child left, or None."""
        all_groups = groups(calls)
        for gi, group in enumerate(all_groups):
            function = group[0]["function"]
            if function in self.gave_up:  # one timeout per function: the next cases would only wait too
                self._not_run(group, function)
                continue
            # segments: (calls, end the child after them, one call per command)
            segments: list[tuple[list[dict], bool, bool]] = [(group, False, False)]
            while segments:
                seg, end_after, single = segments.pop(0)
                if not seg:
                    if end_after and child is not None:
                        self.sup._end_child(child)
                        child = None
                    continue
                if child is None:  # a fresh child runs the module code again
                    left = sum(len(s[0]) for s in segments) + len(seg) + sum(len(g) for g in all_groups[gi + 1:])
                    child, header, blobs = self.sup._start(self.sup._fork(), left)
                    if child is None:  # the module code failed when run again
                        rest = seg + [c for s in segments for c in s[0]] + [c for g in all_groups[gi + 1:] for c in g]
                        self._emit([(dict(header, index=c["index"], reload=True), blobs[0] if blobs else b"")
                                    for c in rest])
                        return None
                chunk = seg[:1] if single else seg[:MAX_BATCH]
                if not self._in_order(child, chunk):  # never reached on purpose: it would run other calls first
                    self.sup._end_child(child)
                    child = None
                    segments.insert(0, (seg, end_after, single))
                    continue
                rest = seg[len(chunk):]
                answers, failure = self._batch(child, chunk, exact_only=single)
                if failure is None:
                    self._emit(answers)
                    segments.insert(0, (rest, end_after, single))
                    continue
                self.sup._end_child(child)
                child = None
                pos, header, payload = failure
                if pos is None:  # not attributable: the whole chunk again, one call per command
                    segments.insert(0, (chunk + rest, end_after, True))
                    continue
                self._emit(answers)
                self._emit([(dict(header, index=chunk[pos]["index"]), payload)])
                after = chunk[pos + 1:] + rest
                if header.get("status") == "timeout" or header.get("signal") == signal.SIGXCPU:
                    self.gave_up[function] = str(header.get("message", "exceeded the CPU time limit"))
                    self._not_run(after, function)
                    after = []
                # The calls before it ran in the ended child: unless their answers came back,
                # they run again in a fresh child, ended after them (the next calls start fresh).
                before = chunk[:pos] if pos > len(answers) else []
                segments[0:0] = [(before, True, single), (after, end_after, single)]
        return child

    def _batch(self, child, chunk: list[dict], exact_only: bool):
        """Send ``chunk`` in one command; (answers, failure). ``answers``: (header, payload) of
        the first calls, in order; ``failure``: None, or (position in chunk or None when it
        cannot be attributed, header, payload)."""
        sup = self.sup
        self.round_trips += 1
        if self.queued:  # written ahead, behind the module (_in_order checked it is this chunk)
            _, seq, _ = self.queued.pop(0)
        else:
            seq, data = self._command(chunk)
            child.pending = memoryview(bytes(child.pending) + data)
        self.waiting = seq
        ooms = sup.ooms
        cap = int(sup.limits["result_bytes"]) + BATCH_FRAME_SLACK
        entries: list[tuple[bytes, bytes]] = []
        while len(entries) < len(chunk):
            got = sup._wait(child, K_BATCH, seq, child.cpu(), caps={K_BATCH: cap},
                            progress=self._word if self.progress is not None else None, calls=len(chunk))
            if got[0] == "frame":
                parsed = parse_batch(got[1][1], len(entries), len(chunk))
                if parsed is not None:
                    entries += parsed
                    continue
                child.garbage = "a reply that is not the grader's framing"
                got = ("garbage",)
            header, blobs, _ = sup._oom_judged(sup._judge(child, got, "call"))
            running = self._word() - 1
            exact = len(chunk) == 1 or (got[0] in ("timeout", "dead") and sup.ooms == ooms)
            if not exact:
                return self._answers(chunk, entries), (None, header, b"")
            pos = min(max(running, len(entries)), len(chunk) - 1)
            return self._answers(chunk, entries), (pos, header, blobs[0] if blobs else b"")
        if sup.cg is not None:
            judged = sup._oom_judged(({"status": "frame"}, [], True))
            if judged[0].get("status") == "memory_limit":  # another process of the submission was OOM-killed
                # by the next queued batch, perhaps, if the child has begun it: then not this call's
                if len(chunk) == 1 and self._raw_word() >> 32 <= seq:
                    return [], (0, judged[0], b"")
                return [], (None, judged[0], b"")
        return self._answers(chunk, entries), None

    @staticmethod
    def _answers(chunk: list[dict], entries: list[tuple[bytes, bytes]]) -> list[tuple[dict, bytes]]:
        return [({"index": call["index"], "status": "frame", "kind": kind.decode()}, payload)
                for call, (kind, payload) in zip(chunk, entries, strict=False)]
