"""GitHub Classroom's current autograding format (``--format classroom``).

A grader step of a Classroom workflow sets its output ``result`` to base64 of a JSON object
``{"version": 1, "status", "max_score", "tests": [...]}``, as the ``autograding-command-grader``
and ``autograding-io-grader`` actions do; the ``autograding-grading-reporter`` action decodes
``<STEP_ID>_RESULTS`` for each id in its ``runners`` input, sums ``max_score`` and the tests'
``score`` and posts ``Points total/max`` to Classroom. A test's ``status`` is ``pass``, ``fail``
or ``error``; a runner whose status is ``fail`` or ``error`` fails the job.

The payload is base64, a single line: nothing a student's code prints can add a line to
``$GITHUB_OUTPUT`` or start a workflow command through it.
"""

from __future__ import annotations

import base64
import json
import math
import os
from pathlib import Path
from typing import Any

from ..results import Results

ERRORS = ("error", "timeout", "memory_limit", "crashed", "no_result", "invalid_output")


def _status(status: str) -> str:
    if status == "passed":
        return "pass"
    return "error" if status in ERRORS else "fail"


def _near(x: float, n: int = 6, step: float | None = None) -> list[float]:
    """``x`` and the values up to ``n`` steps either side of it: its neighbouring doubles, or
    multiples of ``step``."""
    if step is not None:
        return [x] + [x + sign * k * step for k in range(1, n + 1) for sign in (1, -1)]
    out, up, down = [x], x, x
    for _ in range(n):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        out += [up, down]
    return out


def _in_order(xs: list[float]) -> float:
    """The sum added up left to right in doubles, as the reporter's JavaScript does (not
    ``sum``: from Python 3.12 it compensates the rounding of floats)."""
    total = 0.0
    for x in xs:
        total += x
    return total


def _scores(scores: list[float], total: float) -> list[float]:
    """Scores to 2 decimals whose sum, added up in order in IEEE doubles as the reporter's
    JavaScript does, prints as the total to 2 decimals ("Points 9/9", not "8.9999/9"): the last
    two non-zero scores move by a few units in the last place of the sum until it is exact."""
    out = [round(x, 2) for x in scores]
    target = round(total, 2)
    nonzero = [i for i, x in enumerate(out) if x]
    if not nonzero:
        return out
    last = nonzero[-1]
    before = nonzero[-2] if len(nonzero) > 1 else None
    # The score before the last one moves by units of the running sum's last place, not its
    # own: a smaller move may leave the sum the same double, and the last score may then have
    # no value that makes it exact (1.02 + 0.06 + 28.65: the sum falls on a tie, rounded away).
    moves = _near(out[before], step=math.ulp(_in_order(out[:before + 1]))) if before is not None else [None]
    for b in moves:
        trial = list(out)
        if before is not None:
            trial[before] = b
        partial = _in_order(trial[:last])
        for c in _near(target - partial):
            if partial + c == target:  # the tests after `last` score 0
                trial[last] = c
                return trial
    return out


def result(r: Results) -> dict[str, Any]:
    """The runner's result object, test by test."""
    scores = _scores([t.score for t in r.tests], r.score)
    tests = [{
        "name": t.name,
        "status": _status(t.status),
        "score": score,
        "message": t.feedback or t.status,
        "test_code": t.id,
        "filename": "",
        "line_no": 0,
        "duration": 0,
    } for t, score in zip(r.tests, scores, strict=True)]
    statuses = {t["status"] for t in tests}
    status = "pass" if statuses <= {"pass"} else ("error" if "error" in statuses else "fail")
    return {"version": 1, "status": status, "max_score": round(r.max_score, 4), "tests": tests}


def encoded(r: Results) -> str:
    return base64.b64encode(json.dumps(result(r), ensure_ascii=False).encode("utf-8")).decode("ascii")


def publish(r: Results, environ: dict[str, str] | None = None) -> str | None:
    """Append ``result=<base64>`` to ``$GITHUB_OUTPUT`` (the step's output the reporter reads);
    without it (not in Actions) return that line for the caller to print."""
    environ = os.environ if environ is None else environ
    line = f"result={encoded(r)}\n"
    target = environ.get("GITHUB_OUTPUT")
    if not target:
        return line
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(line)
    return None
