"""Accepted alternative answers (a question's ``accept``): other values, other asks, transposes.

A typed answer that does not pass is compared with each alternative under the question's own
tolerance; the best earns ``fraction`` of the points (a matrix: times the fraction of entries
within tolerance), when that is more than it earned. The alternatives' references come from the
solver, under the question's ``given``, ``after_epochs`` and ``sample``, for the student's own
variant; they are computed only when an answer needs them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..results import TestResult
from ..spec import Exercise, Question


def references(ex: Exercise, q: Question) -> list[np.ndarray]:
    """The reference value of each of ``q``'s alternatives (in the student's variant)."""
    from ..solver import solve

    asks = [dataclasses.replace(q, id=f"{q.id}#accept{k}", quantity=alt.quantity, accept=(), uses=())
            for k, alt in enumerate(q.accept) if alt.value is None]
    solved = solve(ex, questions=tuple(asks)) if asks else {}
    out = []
    for k, alt in enumerate(q.accept):
        ref = np.asarray(alt.value, dtype=float) if alt.value is not None else solved[f"{q.id}#accept{k}"][0]
        if alt.transpose and ref.ndim >= 2:
            ref = np.swapaxes(ref, -1, -2)
        out.append(ref)
    return out


def apply(ex: Exercise, answers: dict[str, Any], tests: tuple[TestResult, ...]) -> tuple[TestResult, ...]:
    """``tests`` with each question's best accepted alternative applied where it earns more."""
    from ..compare import compare, parse_value

    by_q = {q.id: q for q in ex.questions}
    out = []
    for t in tests:
        q = by_q.get(t.id)
        if q is None or not q.accept or t.status == "passed" or t.id not in answers:
            out.append(t)
            continue
        try:
            got = parse_value(answers[t.id])
        except (ValueError, TypeError):  # an invalid (or formula) answer stays as graded
            out.append(t)
            continue
        best, label, alt_feedback = t.score, "", ""
        for alt, ref in zip(q.accept, references(ex, q), strict=True):
            if not np.all(np.isfinite(ref)):
                continue
            fraction, _ = compare(got, ref, q.tolerance)
            score = round(q.points * alt.fraction * fraction, 6)
            if score > best:
                best, label, alt_feedback = score, alt.label, alt.feedback
        if not label:
            out.append(t)
            continue
        status = "passed" if best >= q.points else "partial"
        share = f"{best / q.points:.3g} of the points" if q.points else "no points"
        feedback = f"accepted as {label}: {share}" + (f". {alt_feedback}" if alt_feedback else "")
        out.append(dataclasses.replace(t, score=best, status=status, feedback=feedback))
    return tuple(out)
