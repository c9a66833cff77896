"""Float64 arrays kept on disk between runs, for what depends only on a spec's bytes and the
grader's code (the answer key and a correct solution's outputs, ``exercise_values``; the drawn
function cases, ``spec.functions``).

A file is a magic line, the length of a JSON header, the header (one entry per array: its name
parts, shape and offset) and the arrays' little-endian float64 bytes. It is read back strictly:
anything in doubt is None (computed again), nothing is unpickled. Files are named by their
callers with :func:`code_signature`, so an edited grader never reads what another one wrote.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

_MAGIC = b"grader-values 1\n"
_HEAD = struct.Struct("<I")


@functools.lru_cache(maxsize=1)
def code_signature() -> str:
    """The grader version, NumPy's version, and the size and mtime of every module of this grader."""
    from ._about import __version__

    root = Path(__file__).resolve().parent
    h = hashlib.sha256(f"{__version__}\0{np.__version__}".encode())
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            st = os.stat(os.path.join(folder, name))
            h.update(f"\0{os.path.relpath(os.path.join(folder, name), root)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()


def read(path: Path | None) -> dict[tuple[str, ...], np.ndarray] | None:
    """The arrays stored in ``path`` (read-only), or None when there is no valid file."""
    try:
        data = path.read_bytes() if path is not None else None
    except OSError:
        return None
    if not data or not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _HEAD.size:
        return None
    (size,) = _HEAD.unpack_from(data, len(_MAGIC))
    start = len(_MAGIC) + _HEAD.size + size
    try:
        entries = json.loads(data[len(_MAGIC) + _HEAD.size:start])
        out = {}
        for *name, shape, offset in entries:
            count = 1
            for d in shape:
                count *= int(d)
            if not all(isinstance(n, str) for n in name) or offset < 0 or start + 8 * (offset + count) > len(data):
                return None
            out[tuple(name)] = np.frombuffer(data, "<f8", count, start + 8 * offset).reshape(shape)
    except (ValueError, TypeError, KeyError):
        return None
    return out


def write(path: Path | None, arrays: dict[tuple[str, ...], np.ndarray]) -> None:
    """Write ``arrays`` (float64 only; anything else is not stored) atomically; a folder that
    cannot be written only means computing again next time."""
    if path is None or not all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrays.values()):
        return
    entries, chunks, offset = [], [], 0
    for name, arr in arrays.items():
        entries.append([*name, list(arr.shape), offset])
        chunks.append(np.ascontiguousarray(arr, "<f8").tobytes())
        offset += arr.size
    head = json.dumps(entries).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + _HEAD.pack(len(head)) + head + b"".join(chunks))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
