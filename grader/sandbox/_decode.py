"""Turning bytes from the child into plain values, trusting none of them.

Everything here runs in the grader's process on data written by student code: every length is
checked against what is actually there, nothing is unpickled, and every array is rebuilt as a
fresh float64 ndarray.
"""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np

from . import _worker as W

_KIND_NAMES = {"b": "a boolean array", "c": "a complex array", "O": "an object array", "U": "a string array",
               "S": "a bytes array", "V": "a structured array", "M": "a datetime array", "m": "a timedelta array"}


class Rejected(Exception):
    """A returned value that is not plain real numbers; the message says what it was."""


def _where(k: int, n: int) -> str:
    return "the returned value" if n == 1 else f"returned item {k + 1} of {n}"


def _read_header(fp, version):
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        return reader(fp, max_header_size=10000)
    except TypeError:  # NumPy < 1.24 has no max_header_size (and no unlimited header either)
        return reader(fp)


# NumPy parses a header with ast.literal_eval, about 0.1 ms each. The headers NumPy itself
# writes (a plain dtype code, the order, a shape of integers) are read by this pattern instead;
# any other header goes to NumPy's own parser. Results repeat the same few headers (73 arrays a
# tutorial-4 submission), so each distinct one (its exact bytes) is read and judged once, and
# then its judgement is looked up: (shape, order, dtype, offset of the data, element count), or
# why it is not an array of real numbers.
_HEADERS: dict[bytes, tuple[tuple, str, np.dtype, int, int] | str] = {}
_MAX_HEADERS = 1024
_DIM = rb"(?:0|[1-9][0-9]{0,18})"
_PLAIN = re.compile(rb"\{'descr': '([<>|=][a-zA-Z][0-9]{0,3})', 'fortran_order': (True|False), "
                    rb"'shape': \((|" + _DIM + rb",|" + _DIM + rb"(?:, " + _DIM + rb")+)\), \} *\n\Z")
_MAGIC_1_0 = b"\x93NUMPY\x01\x00"  # version 1.0: a 2-byte header length


def _plain_header(data: bytes, end: int) -> tuple[tuple, bool, np.dtype, int] | None:
    """A header exactly as NumPy writes it for a plain dtype, read without ``ast``; else None."""
    m = _PLAIN.match(data, 10, end)
    if m is None:
        return None
    descr, order, dims = m.groups()
    try:
        dtype = np.dtype(descr.decode("ascii"))
    except (TypeError, ValueError):
        return None
    return tuple(int(d) for d in dims.split(b",") if d), order == b"True", dtype, end


def _header(data: bytes) -> tuple[tuple, bool, np.dtype, int]:
    """(shape, fortran, dtype, offset of the data) of ``.npy`` bytes, by the pattern or else by
    NumPy's own parser."""
    if data[:8] == _MAGIC_1_0 and len(data) >= 10:
        end = 10 + int.from_bytes(data[8:10], "little")
        parsed = _plain_header(data, end) if end <= len(data) else None
        if parsed is not None:
            return parsed
    fp = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise Rejected(f"malformed array data (format version {version})")
        shape, fortran, dtype = _read_header(fp, version)
    except Rejected:
        raise
    except Exception as exc:  # numpy raises ValueError and friends for a forged header
        raise Rejected(f"malformed array data ({type(exc).__name__})") from None
    return shape, fortran, dtype, fp.tell()


def _judged(data: bytes) -> tuple[tuple, str, np.dtype, int, int]:
    """(shape, order, dtype, offset of the data, element count) of an array of real numbers'
    header, or Rejected; a 1.0 header is judged once (see _HEADERS)."""
    key = data[:10 + int.from_bytes(data[8:10], "little")] if data[:8] == _MAGIC_1_0 and len(data) >= 10 else None
    judged = _HEADERS.get(key) if key is not None else None
    if judged is None:
        shape, fortran, dtype, offset = _header(data)
        if not isinstance(dtype, np.dtype) or dtype.fields is not None or dtype.subdtype is not None \
                or dtype.hasobject or dtype.kind not in "iuf":
            judged = _KIND_NAMES.get(getattr(dtype, "kind", "V"), f"an array of {dtype}") + ", not real numbers"
        elif not isinstance(shape, tuple) or len(shape) > 32 or any(type(d) is not int or d < 0 for d in shape):
            judged = "malformed array data (bad shape)"
        else:
            judged = (shape, "F" if fortran else "C", dtype, offset, math.prod(shape))
        if key is not None and len(key) == offset:  # the header as the 1.0 length says, all there
            if len(_HEADERS) >= _MAX_HEADERS:
                _HEADERS.clear()
            _HEADERS[key] = judged
    if isinstance(judged, str):
        raise Rejected(judged)
    return judged


def decode_npy(data: bytes, max_bytes: int) -> np.ndarray:
    """A float64 array from ``.npy`` bytes, or Rejected."""
    shape, order, dtype, offset, count = _judged(data)
    if count * max(dtype.itemsize, 8) > max_bytes:
        raise Rejected(f"an array of {count} numbers, more than the limit of {max_bytes} bytes")
    if len(data) - offset != count * dtype.itemsize:
        raise Rejected("malformed array data (its length does not match its header)")
    return np.frombuffer(data, dtype, count, offset).reshape(shape, order=order).astype(np.float64, order="C")


def _finite(arr: np.ndarray) -> bool:
    """Every entry finite. A result array is most often a handful of numbers, for which a check
    of the Python floats takes about a quarter of ``np.isfinite(arr).all()``'s time."""
    if arr.size <= 64:
        return all(map(math.isfinite, arr.ravel().tolist()))
    return bool(np.isfinite(arr).all())


def decode_result(payload: bytes, max_bytes: int) -> tuple[np.ndarray, ...]:
    """The items of a result frame as float64 arrays; Rejected names the bad item."""
    if len(payload) < W.ITEM_COUNT.size:
        raise Rejected("malformed result data")
    (n,) = W.ITEM_COUNT.unpack_from(payload)
    if n > W.MAX_ITEMS:
        raise Rejected(f"a sequence of {n} items (at most {W.MAX_ITEMS})")
    pos, items = W.ITEM_COUNT.size, []
    for k in range(n):
        if len(payload) - pos < W.ITEM_HEAD.size:
            raise Rejected("malformed result data")
        kind, size = W.ITEM_HEAD.unpack_from(payload, pos)
        pos += W.ITEM_HEAD.size
        if size > len(payload) - pos:
            raise Rejected("malformed result data")
        data = payload[pos:pos + size]
        pos += size
        if kind == b"U":
            what = _json_object(data).get("what")
            what = what if isinstance(what, str) else "a value that cannot be sent"
            raise Rejected(f"{_where(k, n)} is {escape_line(what[:300])}")
        if kind != b"N":
            raise Rejected("malformed result data")
        try:
            arr = decode_npy(data, max_bytes)
        except Rejected as exc:
            raise Rejected(f"{_where(k, n)} is {exc}") from None
        if not _finite(arr):
            bad = [w for w, test in (("NaN", np.isnan), ("infinity", np.isinf)) if test(arr).any()]
            raise Rejected(f"{_where(k, n)} contains {' and '.join(bad)}")
        items.append(arr)
    if pos != len(payload):
        raise Rejected("malformed result data (trailing bytes)")
    return tuple(items)


def _json_object(data: bytes) -> dict:
    """A JSON object from the child, or {} for anything else."""
    def no_constants(name):
        raise ValueError(name)

    try:
        value = json.loads(data.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def json_object(data: bytes) -> dict:
    return _json_object(data)


def text(value, limit: int = 4000) -> str:
    """A string field from the child, escaped and capped."""
    if not isinstance(value, str):
        return ""
    value = value[:limit]
    return "\n".join(escape_line(line) for line in value.split("\n"))


# ---------------------------------------------------------------------------- printed output
def escape_line(line: str) -> str:
    """Control and format characters as repr-style escapes; a line that a CI runner would take
    as a command (``::error::``, ``##[error]``) gets its first character escaped."""
    out = []
    for ch in line:
        if ch.isprintable() or ch == "\t":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(repr(ch)[1:-1] if code < 0x80 and repr(ch)[1] == "\\" else
                       f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    s = "".join(out)
    stripped = s.lstrip()
    if stripped.startswith(("::", "##[")):
        i = len(s) - len(stripped)
        s = s[:i] + f"\\x{ord(s[i]):02x}" + s[i + 1:]
    return s


def escape_output(data: bytes, omitted: int) -> str:
    """Printed bytes as escaped lines (invalid UTF-8 as ``\\xNN``), with a marker for what was
    cut."""
    if not data and not omitted:
        return ""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    shown = []
    for raw in lines:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        shown.append(escape_line(raw.decode("utf-8", "backslashreplace")))
    if omitted > 0:
        shown.append(f"[… {omitted} bytes more]")
    return "\n".join(shown) + "\n"
