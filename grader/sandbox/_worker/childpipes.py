"""The supervisor's side of one child: its pipes, its CPU time, and frames taken off its
result pipe (checked for magic, kind, sequence number and size before any payload is kept)."""

from __future__ import annotations

import os

from .framing import FRAME_HEAD, FRAME_MAGIC, K_BATCH, K_ERROR, K_EXIT, K_LOADED, K_MISSING, K_RESULT, K_SETUP, \
    LOAD_SEQ, READ_CHUNK, SMALL_FRAME


class Child:
    """A child as its supervisor sees it: its pid, its command and result pipes, the frames read so far."""

    def __init__(self, pid: int, cmd_w: int, res_r: int):
        self.pid, self.cmd_w, self.res_r = pid, cmd_w, res_r
        self.buf = bytearray()
        self.res_eof = False
        self.pending = memoryview(b"")  # command bytes not yet written to the child
        self.garbage = ""
        self.stat_fd = -1  # /proc/PID/stat, opened at the first cpu()

    def push(self) -> None:
        """Write what the pipe takes of the pending command bytes now (the rest as it drains)."""
        try:
            self.pending = self.pending[os.write(self.cmd_w, self.pending):] if self.pending else self.pending
        except BlockingIOError:
            pass
        except OSError:
            self.pending = memoryview(b"")

    def cpu(self) -> float:
        """Its CPU seconds so far, from /proc/PID/stat, kept open (and read from its start) for
        every batch; the fd names this process even once its pid is another's."""
        try:
            if self.stat_fd < 0:
                self.stat_fd = os.open(f"/proc/{self.pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(self.stat_fd, 1024, 0)
            fields = data[data.rfind(b")") + 2:].split()
            return (int(fields[11]) + int(fields[12])) / _CLK_TCK
        except (OSError, ValueError, IndexError):
            return 0.0

    def read_result(self) -> None:
        for _ in range(16):  # bounded: take() judges the header between reads
            try:
                chunk = os.read(self.res_r, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                self.res_eof = True
                return
            if not chunk:
                self.res_eof = True
                return
            self.buf += chunk

    def take(self, kinds: bytes, seq: int, caps: dict):
        """A complete frame (kind, payload), None (need more), or "garbage".

        A well-formed frame for an earlier call (student code that forged one and then returned,
        so that the harness answered too) is dropped; anything else out of place is garbage."""
        b = self.buf
        while len(b) >= FRAME_HEAD.size:
            magic, kind, fseq, length = FRAME_HEAD.unpack_from(b)
            stale = seq != LOAD_SEQ and (fseq < seq or fseq == LOAD_SEQ) and kind in _FRAME_KINDS
            if magic != FRAME_MAGIC or not (kind in kinds and fseq == seq or stale):
                self.garbage = "malformed data on the result channel"
                return "garbage"
            cap = max(caps.values()) if stale else caps.get(kind, SMALL_FRAME)
            if length > cap:
                self.garbage = f"a result of {length} bytes, more than the limit of {cap}"
                return "garbage"
            if len(b) < FRAME_HEAD.size + length:
                return None
            payload = bytes(b[FRAME_HEAD.size:FRAME_HEAD.size + length])
            del b[:FRAME_HEAD.size + length]
            if not stale:
                return kind, payload
        return None


_FRAME_KINDS = (K_SETUP, K_LOADED, K_RESULT, K_ERROR, K_MISSING, K_EXIT, K_BATCH)
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
