"""Shared answers: typed answers that fit another student's variant better than their own.

With per-student variants each key is different, so answers copied from a classmate match the
classmate's variant. For every pair of students only the questions whose answers differ between
their two variants count (a question whose answer does not depend on the varied values says
nothing); a finding needs most of those (:data:`SHARE`) to fit the other's variant and more to
fit it than the student's own. A finding is listed in the summary for the instructor to look at; it never changes a
grade.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GraderError
from ..spec import Exercise

MIN_QUESTIONS = 2  # fewer matching questions than this is not worth a line
SHARE = 0.75  # of the questions that tell the two variants apart; chance agreement stays far below


@dataclass(frozen=True)
class Finding:
    student: str
    other: str
    matches_other: int
    matches_own: int
    questions: int  # answered questions whose answers differ between the two variants

    def line(self, label: Callable[[str], str] = str) -> str:
        return (f"  {label(self.student)}'s answers match {label(self.other)}'s variant on {self.matches_other} of "
                f"{self.questions} questions (their own on {self.matches_own})")


def _as_array(value: Any) -> np.ndarray | None:
    from ..compare import parse_value

    try:
        return np.squeeze(parse_value(value))
    except (ValueError, TypeError):
        return None


def find(ex: Exercise, answers: dict[str, dict[str, Any]], everyone: list[str],
         key_of: Callable[[str], dict[str, np.ndarray]]) -> list[Finding]:
    """Findings for the students of ``answers`` (student -> their typed answers) against the
    variants of ``everyone`` (``key_of(student)`` is that variant's key). One writer at a time
    against every variant: memory grows with the class, not with its square."""
    from ..compare import within

    people = sorted(set(everyone) | set(answers))
    keys = {p: key_of(p) for p in people}
    index = {p: i for i, p in enumerate(people)}
    stacks = []  # (question, every variant's answer stacked (people, ...), the axes of one answer)
    for q in ex.questions:
        K = [np.squeeze(np.asarray(keys[p][q.id], dtype=float)) for p in people]
        if all(k.shape == K[0].shape for k in K):
            K = np.stack(K)
            stacks.append((q, K, tuple(range(1, K.ndim))))
    out = []
    for w in sorted(answers):
        hit = np.zeros(len(people), dtype=int)  # answers of w fit p's variant
        differs = np.zeros(len(people), dtype=int)  # ... on questions where p's and w's differ
        own = np.zeros(len(people), dtype=int)  # ... where w's fits w's own
        for q, K, axes in stacks:
            a = _as_array(answers[w].get(q.id)) if q.id in answers[w] else None
            if a is None or a.shape != K.shape[1:]:
                continue
            fits = within(a[None], K, q.tolerance).all(axis=axes) if axes else within(a[None], K, q.tolerance)
            mine = K[index[w]]
            distinct = ~(within(mine[None], K, q.tolerance).all(axis=axes) if axes
                         else within(mine[None], K, q.tolerance))
            differs += distinct
            hit += fits & distinct
            own += distinct & bool(fits[index[w]])
        found = (hit >= np.maximum(MIN_QUESTIONS, SHARE * differs)) & (hit > own)
        found[index[w]] = False
        out += [Finding(w, people[j], int(hit[j]), int(own[j]), int(differs[j])) for j in np.flatnonzero(found)]
    return out


def variant_keys(ex: Exercise, students: list[str], secret: str) -> dict[str, dict[str, np.ndarray]]:
    r"""Every student's key in one batched solver call (:func:`grader.variant_keys.class_values`:
    each student's drawn values written into their slice), instead of compiling and solving V
    specs."""
    from ..solver import solve
    from ..variant_keys import class_values
    from ..variants import seed

    vals = class_values(ex, [seed(ex.id, student, secret) for student in students])
    solved = solve(ex, values=vals)
    return {s: {qid: arr[v] for qid, arr in solved.items()} for v, s in enumerate(students)}


def summary_lines(ex: Exercise, rows: list[dict[str, Any]], student_key: Callable[[str], str],
                  everyone: list[str] = (), label: Callable[[str], str] = str) -> list[str]:
    """The summary's section on shared answers (empty without per-student variants)."""
    from ..variants import SECRET_ENV

    secret = os.environ.get(SECRET_ENV)
    if "variants" not in ex.raw or not secret:
        return []
    answers = {student_key(r["student"]): r["answers"] for r in rows if r.get("answers")}
    if not answers:
        return []
    people = sorted({*(student_key(r["student"]) for r in rows), *everyone})
    try:
        keys = variant_keys(ex, people, secret)
        findings = find(ex, answers, people, keys.__getitem__)
    except GraderError as exc:
        return ["", f"Shared answers: not checked ({exc})"]
    if not findings:
        return ["", "Shared answers: no answers match another student's variant better than their own"]
    return ["", "Shared answers (answers that fit another student's variant better than their own; "
            "grades unchanged):", *(f.line(label) for f in findings)]
