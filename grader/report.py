"""The one place where results and keys become text, JSON and files.

Key order is fixed and numbers are printed the same way every run, so golden files compare
byte for byte.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .results import Results, TestResult
from .spec import Exercise


# ---------------------------------------------------------------------------- numbers
def fmt(value: Any, digits: int = 10) -> str:
    """A number or nested list of numbers, with ``digits`` significant figures."""
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    if isinstance(value, (int, float)):
        return format(float(value), f".{digits}g")
    return str(value)


def _score(x: float) -> str:
    return format(round(x, 2), "g")


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- answer keys
def key_data(ex: Exercise, key: dict[str, Any]) -> dict[str, Any]:
    return {"exercise": ex.id, "answers": {q.id: key[q.id] for q in ex.questions}}


def key_json(ex: Exercise, key: dict[str, Any]) -> str:
    """``{"exercise": ID, "answers": {QUESTION_ID: VALUE}}``."""
    return dumps(key_data(ex, key))


def key_text(ex: Exercise, key: dict[str, Any]) -> str:
    """The answer key as a table: question, what is asked, conditions, value."""
    rows = [("id", "ask", "given / when", "value")]
    for q in ex.questions:
        when = [f"{k} = {fmt(v, 6)}" for k, v in q.given]
        if q.after_epochs:
            when.append(f"after {q.after_epochs} epoch{'s' if q.after_epochs != 1 else ''}")
        if q.sample is not None:
            when.append(f"sample {q.sample}")
        rows.append((q.id, q.ask, "; ".join(when), fmt(key[q.id])))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"Answer key: {ex.id} ({ex.title})", ""]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
        if r is rows[0]:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 5)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- results
def _test_data(t: TestResult, show_expected: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "score": t.score,
        "max_score": t.max_score,
        "status": t.status,
        "feedback": t.feedback,
    }
    if show_expected or t.revealed:
        data["expected"] = t.expected
        data["got"] = t.got
    return data


def results_data(r: Results, show_expected: bool = False) -> dict[str, Any]:
    return {
        "exercise": r.exercise,
        "score": r.score,
        "max_score": r.max_score,
        "percent": round(r.percent, 2),
        "tests": [_test_data(t, show_expected) for t in r.tests],
        "warnings": list(r.warnings),
        "output": r.output,
    }


def results_json(r: Results, show_expected: bool = False) -> str:
    """The results object: exercise, score, max_score, tests[id, name, score, max_score, status, feedback]."""
    return dumps(results_data(r, show_expected))


_MARK = {"passed": "PASS", "partial": "PART"}


def results_text(r: Results, show_expected: bool = False) -> str:
    """A readable report: one line per question, feedback under it, then the total."""
    lines = [f"Exercise: {r.exercise}", ""]
    width = max((len(t.name) for t in r.tests), default=0)
    for t in r.tests:
        mark = _MARK.get(t.status, "FAIL")
        points = f"{_score(t.score)}/{_score(t.max_score)}"
        lines.append(f"  {mark}  {t.name.ljust(width)}  {points.rjust(7)}  {t.status}")
        if t.feedback:
            lines.append(f"        {t.feedback}")
        if (show_expected or t.revealed) and t.status != "passed" and t.expected is not None:
            lines.append(f"        expected {fmt(t.expected)}; got {fmt(t.got) if t.got is not None else '-'}")
    for w in r.warnings:
        lines.append(f"  warning: {w}")
    if r.output:
        lines += ["", "Output of the submission (escaped, trimmed):"]
        lines += ["  | " + line for line in r.output.splitlines()]
    lines += ["", f"Score: {_score(r.score)}/{_score(r.max_score)} ({r.percent:.1f}%)"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- files
def write_atomic(path: str | Path, text: str) -> None:
    """Write via a temp file and a rename, so a crash never leaves half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
