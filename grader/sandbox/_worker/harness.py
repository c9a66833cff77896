"""The child harness: loads the student's module and serves the supervisor's calls."""

from __future__ import annotations

import io
import json
import marshal
import os
import select
import sys

from . import framing
from .framing import ANSWERS_BYTES, BATCH_HEAD, CMD_FD, CMD_HEAD, ENTRY_HEAD, EXIT_CHANNEL, EXIT_HARNESS, FLUSH_BYTES, \
    ITEM_COUNT, ITEM_HEAD, K_BATCH, K_ERROR, K_EXIT, K_LOADED, K_MISSING, K_RESULT, LOAD_SEQ, MAX_ITEMS, \
    PROGRESS_WORD, READ_CHUNK, RESULT_FD, frame


class Harness:
    """Loads the student's module and serves calls, in the child, with references taken before
    any student code runs (so a monkeypatched numpy or builtins does not change what is sent)."""

    def __init__(self, req: dict, scratch: str):
        import builtins
        import traceback
        import types

        import numpy as np

        self.req, self.scratch = req, scratch
        self.pid = os.getpid()
        self.np_asarray, self.np_ndarray = np.asarray, np.ndarray
        self.write_array, self.read_array = np.lib.format.write_array, np.lib.format.read_array
        self.frombuffer = np.frombuffer
        self.headers: dict[tuple, bytes] = {}  # (dtype code, shape) -> its .npy header
        self.growth = getattr(np.lib.format, "GROWTH_AXIS_MAX_DIGITS", 0)
        self.BytesIO, self.dumps, self.loads = io.BytesIO, json.dumps, json.loads
        self.extract_tb, self.format_exc_only = traceback.extract_tb, traceback.format_exception_only
        self.read, self.getpid, self.exit = os.read, os.getpid, os._exit
        self.select = select.select
        # The commands queued behind the module, taken off the pipe before any student code runs
        # (the module, each call): reading fd 3, a submission finds it empty, as it always did.
        self.inbox = bytearray()
        self.fstat = os.fstat
        self.channel = self._channel_ids()  # what fds CMD_FD and RESULT_FD must still be after each call
        self.progress = framing.PROGRESS
        self.pack_progress = PROGRESS_WORD.pack_into
        self.builtins = builtins.__dict__
        self.saved_builtins = dict(builtins.__dict__)
        self.theirs = dict(builtins.__dict__)
        self.types = types
        self.marshal_loads = marshal.loads
        self.cap = int(req["limits"]["result_bytes"])
        self.filename = req["filename"]
        self.display = req.get("display_name") or self.filename
        self.cells = []
        if req.get("notebook"):
            for lineno, line in enumerate(req["code"].splitlines(), start=1):
                if line.startswith("# %% [cell ") and line.endswith("]") and line[11:-1].isdigit():
                    self.cells.append((lineno, int(line[11:-1])))
        out = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8",
                               errors="backslashreplace", line_buffering=True)
        err = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                               errors="backslashreplace", line_buffering=True)
        sys.stdout = sys.__stdout__ = out
        sys.stderr = sys.__stderr__ = err
        self.streams = (out, err)

    # -- helpers that run after student code: guard them
    def _flush(self) -> None:
        for s in self.streams:
            try:
                s.flush()
            except BaseException:  # noqa: BLE001
                pass

    # Student code sees its own builtins (it may have changed them at import); the harness
    # always works with the original ones, so a patched len() or isinstance() cannot derail it.
    def _student_builtins(self) -> None:
        self.builtins.clear()
        self.builtins.update(self.theirs)

    def _after_student(self) -> None:
        if self.getpid() != self.pid:  # a fork of the child came back here: not ours to answer
            self.exit(0)
        self.theirs = dict(self.builtins)
        self.builtins.clear()
        self.builtins.update(self.saved_builtins)
        self._flush()

    def _where(self, filename: str, lineno: int) -> str:
        if filename == self.path and self.cells:
            start, cell = max((c for c in self.cells if c[0] <= lineno), default=self.cells[0])
            return f'File "{self.display}", cell {cell}, line {lineno - start}'
        name = self.display if filename == self.path else os.path.relpath(filename, self.scratch)
        return f'File "{name}", line {lineno}'

    def _describe(self, exc: BaseException) -> dict:
        try:
            last = self.format_exc_only(type(exc), exc)[-1].strip()
        except BaseException:  # noqa: BLE001 - a student __str__ may raise
            last = f"{type(exc).__name__}: <message could not be shown>"
        lines = []
        try:
            frames = [f for f in self.extract_tb(exc.__traceback__)
                      if str(f.filename).startswith(self.scratch + os.sep)]
            for f in frames[-20:]:
                lines.append(f"  {self._where(f.filename, f.lineno)}, in {f.name}")
                if f.line:
                    lines.append(f"    {f.line.strip()[:300]}")
        except BaseException:  # noqa: BLE001
            pass
        tb = ("Traceback (most recent call last):\n" + "\n".join(lines) + "\n") if lines else ""
        return {"type": type(exc).__name__, "message": last[:4000], "traceback": tb[:8000],
                "memory": isinstance(exc, MemoryError)}

    # -- load and serve
    def serve(self) -> None:
        req = self.req
        self.path = os.path.join(self.scratch, self.filename)
        name = req.get("module") or "submission"
        module = self.types.ModuleType(name)
        module.__file__ = self.path
        sys.modules[name] = module
        self.module = module
        try:
            code = self._compiled() or compile(req["code"], self.path, "exec", dont_inherit=True)
            self._pull()
            self._student_builtins()
            exec(code, module.__dict__)
        except SystemExit as exc:
            self._after_student()
            frame(K_EXIT, LOAD_SEQ, {"code": repr(exc.code)[:200]})
            self.exit(0)
        except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt, GeneratorExit too
            self._after_student()
            frame(K_ERROR, LOAD_SEQ, self._describe(exc))
            self.exit(0)
        self._after_student()
        frame(K_LOADED, LOAD_SEQ, self._loaded_info())
        while True:
            self._serve_one()

    def _compiled(self):
        """The module's code as the grader compiled it (the same source, the same flags), its
        file names made this child's path; None (compile the source here) when the grader is
        another Python or the bytes do not load as code."""
        data, about = self.req.get("compiled_code"), self.req.get("compiled") or {}
        if data is None or about.get("python") != sys.version:
            return None
        try:
            code = self.marshal_loads(data)
        except (ValueError, EOFError, TypeError):
            return None
        return self._refile(code) if type(code) is self.types.CodeType else None

    def _refile(self, code):
        consts = tuple(self._refile(c) if type(c) is self.types.CodeType else c for c in code.co_consts)
        return code.replace(co_filename=self.path, co_consts=consts)

    def _loaded_info(self) -> dict:
        defined, answers, note = [], None, None
        try:
            for key, value in list(self.module.__dict__.items()):
                if type(key) is str and not key.startswith("__") and callable(value) and len(key) <= 200:
                    defined.append(key)
                    if len(defined) >= 1000:
                        break
        except BaseException:  # noqa: BLE001
            pass
        if "ANSWERS" in self.module.__dict__:
            try:
                answers = self._answers_json(self.module.__dict__["ANSWERS"])
                if len(answers.encode()) > ANSWERS_BYTES:
                    answers, note = None, f"ANSWERS is larger than {ANSWERS_BYTES // 1024} KiB and was ignored"
            except BaseException as exc:  # noqa: BLE001
                answers, note = None, f"ANSWERS could not be converted to JSON: {type(exc).__name__}: {str(exc)[:200]}"
        return {"defined": defined, "answers_json": answers, "answers_note": note}

    def _answers_json(self, value) -> str:
        """ANSWERS as JSON text; in a dict each value on its own, so that one that cannot be
        converted (it contains itself, its repr raises) becomes ``{"__invalid__": why}`` for its
        question alone (the grader fails that question and grades the others)."""
        dump = lambda v: self.dumps(v, default=self._json_default, ensure_ascii=False, allow_nan=True)  # noqa: E731
        if type(value) is not dict:
            return dump(value)
        parts = []
        for key, item in list(value.items())[:10000]:
            try:
                text = dump(item)
            except BaseException as exc:  # noqa: BLE001
                try:
                    why = f"{type(exc).__name__}: {str(exc)[:100]}"
                except BaseException:  # noqa: BLE001
                    why = "an exception"
                text = self.dumps({"__invalid__": f"cannot be converted to JSON data ({why})"})
            parts.append(self.dumps(key if type(key) is str else str(key)) + ": " + text)
        return "{" + ", ".join(parts) + "}"

    def _json_default(self, value):
        if isinstance(value, self.np_ndarray):
            return self.np_asarray(value).tolist()
        if hasattr(value, "item") and hasattr(value, "dtype"):
            return value.item()
        return repr(value)[:200]  # a string: the strict reader will reject it as a number

    def _pull(self) -> None:
        """Take what the command pipe holds now, without waiting; leave quietly at its end (the
        supervisor is done with us)."""
        while self.select([CMD_FD], [], [], 0)[0]:
            chunk = self.read(CMD_FD, READ_CHUNK)
            if not chunk:
                self.exit(0)
            self.inbox += chunk

    def _read_exact(self, n: int) -> bytes:
        while len(self.inbox) < n:
            self.select([CMD_FD], [], [])
            self._pull()
        data = bytes(self.inbox[:n])
        del self.inbox[:n]
        return data

    def _channel_ids(self) -> tuple:
        ids = []
        for fd in (CMD_FD, RESULT_FD):
            try:
                st = self.fstat(fd)
                ids.append((st.st_dev, st.st_ino))
            except OSError:
                ids.append(None)
        return tuple(ids)

    def _set_progress(self, seq: int, n: int) -> None:
        if self.progress is not None:
            self.pack_progress(self.progress, 0, (seq << 32) | n)

    def _serve_one(self) -> None:
        """One batch: every call in it is of one function; one B frame back with one entry per
        call (more frames only past FLUSH_BYTES of entries)."""
        (size,) = CMD_HEAD.unpack(self._read_exact(CMD_HEAD.size))
        cmd = self.loads(self._read_exact(size))
        seq, fname, lens = cmd["seq"], cmd["function"], cmd["blobs"]
        data = self._read_exact(sum(lens)) if lens else b""
        arrays, pos = [], 0
        for n in lens:  # each distinct argument array decoded once; every call gets its own copy
            arrays.append(self._array(data[pos:pos + n]))
            pos += n
        calls = cmd["calls"]
        entries, held, first = [], 0, 0
        for k, spec in enumerate(calls):
            self._set_progress(seq, k + 1)
            args = [arrays[a["b"]].copy() if "b" in a else a["v"] for a in spec]
            kind, payload = self._call(fname, args)
            entries.append(ENTRY_HEAD.pack(kind, len(payload)) + payload)
            held += len(payload)
            now = self._channel_ids()
            if now[1] != self.channel[1]:  # student code closed or replaced the result channel
                self.exit(EXIT_CHANNEL)
            broken = now[0] != self.channel[0]
            if held >= FLUSH_BYTES or broken and k + 1 < len(calls):
                frame(K_BATCH, seq, BATCH_HEAD.pack(first, len(entries)) + b"".join(entries))
                entries, held, first = [], 0, k + 1
                if broken:  # the next call would have found no command channel: it fails, as it would have
                    self._set_progress(seq, k + 2)
                    self.exit(EXIT_HARNESS)
        if entries:
            frame(K_BATCH, seq, BATCH_HEAD.pack(first, len(entries)) + b"".join(entries))

    def _call(self, fname: str, args: list) -> tuple[bytes, bytes]:
        """One call: (entry kind, payload), as one call's own frame would have been."""
        fn = self.module.__dict__.get(fname)
        if fn is None or not callable(fn):
            return K_MISSING, self._json({"function": fname, "reason": "not defined" if fn is None else "not callable"})
        self._pull()
        try:
            self._student_builtins()
            value = fn(*args)
        except SystemExit as exc:
            self._after_student()
            return K_EXIT, self._json({"code": repr(exc.code)[:200]})
        except BaseException as exc:  # noqa: BLE001
            self._after_student()
            return K_ERROR, self._json(self._describe(exc))
        self._after_student()
        return K_RESULT, self._encode(value)

    def _json(self, obj: dict) -> bytes:
        return self.dumps(obj, separators=(",", ":"), default=str).encode()

    _F8_HEAD = "{'descr': '<f8', 'fortran_order': False, 'shape': ("

    def _array(self, data: bytes):
        """An argument from the grader's ``.npy`` bytes (read-only: each call gets a copy). The
        grader always writes C-ordered float64 with NumPy's own header, read here without
        NumPy's ast-based header parser."""
        size = int.from_bytes(data[8:10], "little") if data[6:8] == b"\x01\x00" else -1
        head = data[10:10 + size].decode("latin-1") if size >= 0 else ""
        if head.startswith(self._F8_HEAD) and ")" in head:
            inner = head[len(self._F8_HEAD):head.index(")")]
            shape = tuple(int(part) for part in inner.split(",") if part.strip())
            count = 1
            for n in shape:
                count *= n
            if len(data) - 10 - size == 8 * count:
                return self.frombuffer(data, "<f8", count, 10 + size).reshape(shape)
        return self.read_array(self.BytesIO(data), allow_pickle=False)

    def _encode(self, value) -> bytes:
        try:
            items = list(value) if isinstance(value, (tuple, list)) else [value]
        except BaseException as exc:  # noqa: BLE001
            items = [_Unsupported(f"a {type(value).__name__} that cannot be iterated ({type(exc).__name__})")]
        if len(items) > MAX_ITEMS:
            items = [_Unsupported(f"a sequence of {len(items)} items (at most {MAX_ITEMS})")]
        parts, total = [ITEM_COUNT.pack(len(items))], 0
        for item in items:
            kind, data = self._encode_item(item, self.cap - total)
            total += len(data)
            parts.append(ITEM_HEAD.pack(kind, len(data)) + data)
        return b"".join(parts)

    def _encode_item(self, item, room: int) -> tuple[bytes, bytes]:
        def unsupported(what: str) -> tuple[bytes, bytes]:
            return b"U", self.dumps({"what": what[:300]}).encode()

        if isinstance(item, _Unsupported):
            return unsupported(item.what)
        try:
            tname = str(type(item).__name__)[:100]
        except BaseException:  # noqa: BLE001
            tname = "object"
        try:
            arr = self.np_asarray(item)
        except BaseException as exc:  # noqa: BLE001 - a student __array__ may raise anything
            return unsupported(f"a value of type {tname} that is not an array ({type(exc).__name__})")
        try:
            if arr.dtype.hasobject:
                inner = "" if not arr.size else f" of {type(arr.flat[0]).__name__}"
                return unsupported(f"a value of type {tname}, not a number or an array of numbers"
                                   if not isinstance(item, self.np_ndarray) else f"an object array{inner}")
            if arr.nbytes > room:
                return unsupported(f"an array of {arr.nbytes} bytes (the limit is {self.cap})")
            return b"N", self._npy(arr)
        except BaseException as exc:  # noqa: BLE001
            return unsupported(f"a value of type {tname} that cannot be sent ({type(exc).__name__})")

    def _npy(self, arr) -> bytes:
        """``arr`` as ``.npy`` bytes (format 1.0). An array of plain numbers gets the header NumPy
        would write for it in C order, made here from its dtype code and shape (once per pair),
        then its data in C order: no NumPy writer runs, so a fresh child copies none of its
        pages on write. Anything else goes through NumPy's own ``write_array``."""
        if type(arr) is self.np_ndarray and arr.dtype.fields is None and arr.dtype.kind in "biuf":
            key = (arr.dtype.str, arr.shape)
            head = self.headers.get(key)
            if head is None:
                head = npy_header(*key, self.growth)
                if len(self.headers) < 256:
                    self.headers[key] = head
            return head + arr.tobytes()  # C order whatever the layout
        buf = self.BytesIO()
        self.write_array(buf, arr, allow_pickle=False)
        return buf.getvalue()


def npy_header(descr: str, shape: tuple, growth: int) -> bytes:
    """The ``.npy`` 1.0 header of a C-ordered array of dtype code ``descr`` and ``shape``, byte
    for byte as NumPy writes it: the keys in order, spaces after the dict so that the first axis
    could grow in place to ``growth`` digits (NumPy 1.23 and later: its GROWTH_AXIS_MAX_DIGITS;
    0 before), and padding so that the data starts 64-byte aligned (a whole 64 when it already
    would)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    if shape:
        text += " " * max(0, growth - len(repr(shape[0])))
    pad = 64 - (len(text) + 11) % 64
    return b"\x93NUMPY\x01\x00" + (len(text) + pad + 1).to_bytes(2, "little") + (text + " " * pad + "\n").encode("latin-1")


class _Unsupported:
    def __init__(self, what: str):
        self.what = what

