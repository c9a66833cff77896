"""The framing protocol between the grader, the worker, its supervisors and their children.

parent <-> worker/supervisor: length-prefixed JSON headers with blobs (:class:`Channel`).
child -> supervisor, on RESULT_FD: frames (magic, kind, sequence number, payload).
supervisor -> child, on CMD_FD: u32 JSON length, JSON, then the ``.npy`` arguments.

Calls travel in batches: every consecutive call of one function is one command to the child
(each distinct argument array once) and one ``B`` reply frame holding one entry per call; the
commands of a submission are written behind its module, so that the child runs them back to back.
While a batch runs, the child writes the batch and the call it is in into a word of memory it
shares with its supervisor (:data:`PROGRESS`), so that a death or a timeout is still attributed
to its call, and each call still gets its own CPU and wall-clock limit.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import struct
import time

# parent <-> worker/supervisor: u32 JSON header length, u32 blob count, header, then per blob
# u64 length + bytes.
MSG_HEAD = struct.Struct("<II")
BLOB_HEAD = struct.Struct("<Q")
MAX_HEADER = 1 << 20

# child -> supervisor, on RESULT_FD: magic, kind, sequence number, payload length.
FRAME_MAGIC = b"GRF1"
FRAME_HEAD = struct.Struct("<4scIQ")
LOAD_SEQ = 0xFFFFFFFF
K_SETUP, K_LOADED, K_RESULT, K_ERROR, K_MISSING, K_EXIT, K_FATAL = (b"S", b"L", b"R", b"E", b"M", b"X", b"F")
K_BATCH = b"B"
# An R payload is u32 item count, then per item: kind (N: .npy bytes, U: JSON describing an
# unsupported value) and u64 length.
ITEM_COUNT = struct.Struct("<I")
ITEM_HEAD = struct.Struct("<cQ")
MAX_ITEMS = 256
# A B payload: the position of its first entry in the batch and the entry count (u32 each), then
# per entry: kind (R, E, M or X, as the frames of one call) and u64 length, then the payload.
# One frame per batch, unless the entries pass FLUSH_BYTES: then a frame each time they do.
BATCH_HEAD = struct.Struct("<II")
ENTRY_HEAD = ITEM_HEAD
ENTRY_KINDS = (K_RESULT, K_ERROR, K_MISSING, K_EXIT)
MAX_BATCH = 256  # calls in one command
# The exercise's calls and their argument arrays, the same for every submission of a class, are
# sent to a supervisor once with a token; it keeps the last SHARED_CALLS such sets, and the grader
# then sends the token alone (a run request's "shared": {"id", "blobs": how many leading blobs are
# the set's, "store": keep them}).
SHARED_CALLS = 8
FLUSH_BYTES = 1 << 20
BATCH_FRAME_SLACK = FLUSH_BYTES + (1 << 20)  # a B frame may exceed the result cap by this much
# The progress word: the batch the child is in (its sequence number, high 32 bits) and the call
# of that batch (1-based, low 32 bits). One 64-bit store, so that the supervisor never reads half
# of it, and unique across batches: commands are queued back to back, nobody resets it between.
PROGRESS_WORD = struct.Struct("<Q")
PROGRESS: mmap.mmap | None = None  # in a child: its submission's page, mapped by the worker as it forks it
SMALL_FRAME = 64 * 1024
LOADED_FRAME = 4 << 20
ANSWERS_BYTES = 1 << 20

# supervisor -> child, on CMD_FD: u32 JSON length, JSON, then the .npy arguments.
CMD_HEAD = struct.Struct("<I")
CMD_FD, RESULT_FD = 3, 4
# The worker keeps its own fds above this, so that a child's dup2 onto 0-4 never hits them.
HIGH_FD = 100
# A child closes every fd from 5 (past its pipes) up to this before the submission runs.
CLOSED_BELOW = HIGH_FD + 4096
# What a read takes from a pipe when it does not know how much is coming. os.read allocates its
# whole size first: at 1 MiB that is an mmap (and its page faults, and an munmap) per read, 35 µs
# here against 6 µs at 64 KiB, and a read of a pipe found empty pays for it too.
READ_CHUNK = 1 << 16
EXIT_SETUP_FAILED = 70
EXIT_HARNESS = 71
EXIT_CHANNEL = 72


class ChannelClosed(Exception):
    """The other end of a channel went away."""


class ChannelTimeout(Exception):
    """No message within the deadline."""


class ProtocolError(Exception):
    """Bytes that are not a well-formed message."""


class Channel:
    """Length-prefixed JSON + blob messages over a pair of pipe fds.

    Reads are exact (never past the end of a message) unless ``buffered``, so that a process
    that forks right after reading one message leaves the next one in the pipe for its child.
    """

    def __init__(self, rfd: int, wfd: int, buffered: bool = False):
        self.rfd, self.wfd = rfd, wfd
        # Read ahead only by a pipe's only reader: the grader, and the supervisor once forked.
        self.buffered = buffered
        self.buf = bytearray()

    def send(self, header: dict, blobs=()) -> None:
        data = json.dumps(header, separators=(",", ":")).encode()
        parts = [MSG_HEAD.pack(len(data), len(blobs)), data]
        for blob in blobs:
            parts += [BLOB_HEAD.pack(len(blob)), blob]
        write_all(self.wfd, b"".join(parts))  # one write, not two per blob

    def _read(self, n: int, deadline: float | None) -> bytes:
        if self.buffered:
            while len(self.buf) < n:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                        raise ChannelTimeout()
                try:
                    chunk = os.read(self.rfd, max(n - len(self.buf), READ_CHUNK))
                except InterruptedError:
                    continue
                if not chunk:
                    raise ChannelClosed()
                self.buf += chunk
            data = bytes(self.buf[:n])
            del self.buf[:n]
            return data
        parts, need = [], n
        while need:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                    raise ChannelTimeout()
            try:
                chunk = os.read(self.rfd, min(need, 1 << 24))
            except InterruptedError:
                continue
            if not chunk:
                raise ChannelClosed()
            parts.append(chunk)
            need -= len(chunk)
        return b"".join(parts)

    def recv(self, deadline: float | None = None, max_blob: int = 1 << 30) -> tuple[dict, list]:
        hlen, nblobs = MSG_HEAD.unpack(self._read(MSG_HEAD.size, deadline))
        if hlen > MAX_HEADER or nblobs > 4096:
            raise ProtocolError("message header too large")
        try:
            header = json.loads(self._read(hlen, deadline))
        except ValueError:
            raise ProtocolError("message header is not JSON") from None
        if not isinstance(header, dict):
            raise ProtocolError("message header is not an object")
        blobs = []
        for _ in range(nblobs):
            (size,) = BLOB_HEAD.unpack(self._read(BLOB_HEAD.size, deadline))
            if size > max_blob:
                raise ProtocolError("message blob too large")
            blobs.append(self._read(size, deadline))
        return header, blobs


# Taken at import, so that student code replacing os.write or json.dumps in a child cannot
# change how the harness writes its frames.
_os_write, _json_dumps = os.write, json.dumps


def write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        try:
            n = _os_write(fd, view)
        except InterruptedError:
            continue
        view = view[n:]



def read_exact(fd: int, n: int, read=os.read, leave=os._exit) -> bytes:
    """n bytes from fd, or leave quietly when the supervisor closes it. The child passes the
    ``read``/``leave`` it saved before student code ran, which may patch ``os``."""
    parts, need = [], n
    while need:
        chunk = read(fd, min(need, 1 << 24))
        if not chunk:
            leave(0)  # the supervisor is done with us
        parts.append(chunk)
        need -= len(chunk)
    return b"".join(parts)


def parse_batch(payload: bytes, first: int, total: int) -> list[tuple[bytes, bytes]] | None:
    """The (kind, payload) entries of a B frame that must start at entry ``first`` of a batch of
    ``total`` calls; None when the bytes are not such a frame (written by student code)."""
    if len(payload) < BATCH_HEAD.size:
        return None
    start, count = BATCH_HEAD.unpack_from(payload)
    if start != first or count < 1 or first + count > total:
        return None
    pos, entries = BATCH_HEAD.size, []
    for _ in range(count):
        if len(payload) - pos < ENTRY_HEAD.size:
            return None
        kind, size = ENTRY_HEAD.unpack_from(payload, pos)
        pos += ENTRY_HEAD.size
        if kind not in ENTRY_KINDS or size > len(payload) - pos:
            return None
        entries.append((kind, payload[pos:pos + size]))
        pos += size
    return entries if pos == len(payload) else None


def frame(kind: bytes, seq: int, payload) -> None:
    if not isinstance(payload, (bytes, bytearray)):
        payload = _json_dumps(payload, separators=(",", ":"), default=str).encode()
    try:
        write_all(RESULT_FD, FRAME_HEAD.pack(FRAME_MAGIC, kind, seq, len(payload)) + payload)
    except OSError:
        os._exit(EXIT_CHANNEL)

