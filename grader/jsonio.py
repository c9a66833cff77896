"""Strict JSON reading shared by specs and answers files.

Python's ``json`` accepts NaN, Infinity, duplicate keys and 1e400 (as inf); an exercise or an
answers file with any of those is almost always a mistake, so each is an error here that names
the file and the place.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MAX_BYTES = 8 * 1024 * 1024


class StrictJSONError(ValueError):
    """A JSON document that is not strict JSON; ``str()`` says where and why."""


def _reject_constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a JSON number (write a finite number)")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(f"number {text[:40]} is too large for a float64")
    return value


def _parse_int(text: str) -> int | float:
    if len(text) > 400:
        raise StrictJSONError(f"integer with {len(text)} digits is too large")
    value = int(text)
    if abs(value) > 2**1023:
        raise StrictJSONError(f"integer {text[:40]}… is too large for a float64")
    return value


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise StrictJSONError(f"duplicate key {key!r}")
        out[key] = value
    return out


def loads(text: str) -> Any:
    """Parse strict JSON text; raises :class:`StrictJSONError` with line and column."""
    if text.startswith("\ufeff"):  # a BOM from Windows editors is harmless
        text = text[1:]
    if not text.strip():
        raise StrictJSONError("the file is empty")
    try:
        return json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except StrictJSONError:
        raise
    except json.JSONDecodeError as exc:
        raise StrictJSONError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise StrictJSONError("nesting is too deep") from None
    except ValueError as exc:  # e.g. int conversion limits
        raise StrictJSONError(str(exc)) from None


def read(path: str | Path) -> Any:
    """Read and parse a strict JSON file; :class:`StrictJSONError` or :class:`OSError`."""
    with open(Path(path), "rb") as fh:
        return parse_bytes(fh.read(MAX_BYTES + 1))


def parse_bytes(data: bytes) -> Any:
    """Parse strict JSON from a file's bytes (at most MAX_BYTES); :class:`StrictJSONError`."""
    if len(data) > MAX_BYTES:
        raise StrictJSONError(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJSONError(f"not UTF-8 text (byte {exc.start})") from None
    return loads(text)


def json_path(parts: Any) -> str:
    """``['questions', 3, 'given', 'x9']`` -> ``questions[3].given.x9``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out or "(top level)"
