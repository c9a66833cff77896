"""Instructor overrides and late penalties, applied to a graded result.

Order: question overrides change what a question earned (the raw score as graded is kept); the
late penalty then scales the total; an override of the whole score (``*``) sets the final score
and is not penalised (the instructor's word is final). Every change is recorded in the result's
``extra_data.adjustments``, shown to the student as a warning line, and undone before the next
adjustment, so a ``--resume`` with other options never applies a penalty twice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..results import Results
from .late import Lateness, describe
from .tables import number, read_table

WHOLE = "*"


@dataclass(frozen=True)
class Override:
    student: str
    question: str  # a test id, or * for the whole score
    points: float
    relative: bool  # "+1" / "-0.5": added to what was earned
    reason: str
    where: str  # file: line N


def read_overrides(path: str | Path) -> list[Override]:
    """``student,question,points,reason`` rows; points are absolute (``2``) or relative
    (``+1``, ``-0.5``); question ``*`` is the whole score."""
    header, rows = read_table(path, "overrides file")
    low = [h.lower() for h in header]
    need = ("student", "question", "points")
    if any(n not in low for n in need):
        raise UsageError(f"{path}: line 1: expected the columns student,question,points,reason")
    out = []
    for line, row in rows:
        r = {k.lower(): v for k, v in row.items()}
        where = f"{path}: line {line}"
        if not r.get("student") or not r.get("question"):
            raise UsageError(f"{where}: student and question are required ({WHOLE} is the whole score)")
        text = r.get("points", "").replace("\u2212", "-")
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{where}: points {text!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise UsageError(f"{where}: points must be a finite number")
        relative = text.startswith(("+", "-"))  # a sign means a change; a bare number is the points
        out.append(Override(r["student"], r["question"], value, relative, r.get("reason", ""), where))
    return out


def for_student(overrides: list[Override], names: list[str]) -> list[Override]:
    """The overrides whose student is one of ``names`` (submission name, roster id, email, login)."""
    keys = {n.lower() for n in names if n}
    return [o for o in overrides if o.student.lower() in keys]


@dataclass(frozen=True)
class Test:
    id: str
    score: float
    max_score: float
    status: str
    feedback: str


def _status(score: float, top: float) -> str:
    return "passed" if score >= top else ("partial" if score > 0 else "wrong")


def compute(tests: list[Test], max_score: float, overrides: list[Override],
            late: Lateness | None) -> tuple[list[Test], float, dict[str, Any], list[str]]:
    """The tests after question overrides, the final score, the record and the notes for the student."""
    by_id = {t.id: t for t in tests}
    raw = round(sum(t.score for t in tests), 6)
    changed: dict[str, Test] = {}
    records, notes = [], []
    whole: Override | None = None
    for o in overrides:
        if o.question == WHOLE:
            whole = o
            continue
        t = changed.get(o.question) or by_id.get(o.question)
        if t is None:  # a case this kind of submission does not have (checked against the exercise first)
            notes.append(f"instructor override of {o.question} not applied: this result has no such test")
            continue
        score = t.score + o.points if o.relative else o.points
        if not 0 <= score <= t.max_score + 1e-9:
            raise UsageError(f"{o.where}: {o.question} would score {number(score)} of its {number(t.max_score)}")
        new = Test(t.id, round(score, 6), t.max_score, _status(score, t.max_score),
                   (t.feedback + ". " if t.feedback else "") + f"Instructor override: {o.reason or 'no reason given'}")
        records.append({"question": o.question, "points": new.score, "was": by_id[o.question].score,
                        "reason": o.reason})
        notes.append(f"instructor override of {o.question}: {number(by_id[o.question].score)} -> "
                     f"{number(new.score)} of {number(t.max_score)} ({o.reason or 'no reason given'})")
        changed[o.question] = new
    tests = [changed.get(t.id, t) for t in tests]
    score = round(sum(t.score for t in tests), 6)
    record: dict[str, Any] = {"raw_score": raw}
    final = score
    if late is not None:
        final = late.final(score)
        record.update({"submitted_at": late.submitted_at, "time_source": late.source,
                       "lateness_seconds": round(late.seconds, 3), "lateness": describe(late.seconds),
                       "days_late": late.days, "penalty_percent": late.penalty_percent, "past_cap": late.past_cap})
        if late.past_cap:
            notes.append(f"late: submitted {describe(late.seconds)} after the deadline, past the last accepted "
                         f"time: 0 points (graded {number(score)})")
        elif late.days:
            notes.append(f"late: submitted {describe(late.seconds)} after the deadline ({late.days} day"
                         f"{'s' * (late.days != 1)}): -{number(late.penalty_percent)}%, "
                         f"{number(score)} -> {number(final)}")
    if whole is not None:
        value = final + whole.points if whole.relative else whole.points
        if not 0 <= value <= max_score + 1e-9:
            raise UsageError(f"{whole.where}: the whole score would be {number(value)} of {number(max_score)}")
        records.append({"question": WHOLE, "points": round(value, 6), "was": final, "reason": whole.reason})
        notes.append(f"instructor override of the score: {number(final)} -> {number(value)} "
                     f"({whole.reason or 'no reason given'})")
        final = round(value, 6)
    record["overrides"] = records
    record["final_score"] = final
    return tests, final, record, notes


def adjust_results(r: Results, overrides: list[Override], late: Lateness | None) -> Results:
    """:func:`compute` applied to a :class:`Results` (one submission, ``grade FILE``)."""
    if not overrides and late is None:
        return r
    tests = [Test(t.id, t.score, t.max_score, t.status, t.feedback) for t in r.tests]
    new, final, record, notes = compute(tests, r.max_score, overrides, late)
    by_id = {t.id: t for t in new}
    out = tuple(dataclasses.replace(t, score=by_id[t.id].score, status=by_id[t.id].status,
                                    feedback=by_id[t.id].feedback) for t in r.tests)
    return dataclasses.replace(r, tests=out, score=final, warnings=(*r.warnings, *notes),
                               extra=(*r.extra, ("adjustments", record)))


def unadjust_data(data: dict[str, Any]) -> dict[str, Any]:
    """A results object as it was graded: earlier adjustments undone."""
    record = (data.get("extra_data") or {}).get("adjustments")
    if not record:
        return data
    data = {**data, "extra_data": {k: v for k, v in data["extra_data"].items() if k != "adjustments"}}
    graded = {k: v for k, v in record.get("graded", {}).items()}
    data["tests"] = [graded.get(t["id"], t) for t in data["tests"]]
    data["warnings"] = [w for w in data.get("warnings", []) if w not in record.get("notes", [])]
    data["score"] = record["raw_score"]
    data["percent"] = round(100.0 * data["score"] / data["max_score"], 2) if data["max_score"] else 100.0
    return data


def adjust_data(data: dict[str, Any], overrides: list[Override], late: Lateness | None) -> dict[str, Any]:
    """:func:`compute` applied to a results object as batch stores it (``results/<id>.json``)."""
    data = unadjust_data(data)
    if not overrides and late is None:
        return data
    tests = [Test(t["id"], float(t["score"]), float(t["max_score"]), t["status"], t.get("feedback", ""))
             for t in data["tests"]]
    new, final, record, notes = compute(tests, float(data["max_score"]), overrides, late)
    by_id = {t.id: t for t in new}
    record["graded"] = {t["id"]: t for t in data["tests"] if by_id[t["id"]].score != t["score"]
                        or by_id[t["id"]].feedback != t.get("feedback", "")}
    record["notes"] = notes
    out = []
    for t in data["tests"]:
        n = by_id[t["id"]]
        out.append({**t, "score": n.score, "status": n.status, "feedback": n.feedback})
    top = float(data["max_score"])
    return {**data, "score": final, "percent": round(100.0 * final / top, 2) if top else 100.0, "tests": out,
            "warnings": [*data.get("warnings", []), *notes],
            "extra_data": {**(data.get("extra_data") or {}), "adjustments": record}}
