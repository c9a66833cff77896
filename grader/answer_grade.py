"""Typed answers graded: each answer parsed and compared with the key (:mod:`grader.compare`),
formulas evaluated (:mod:`grader.formula_grade`), a step named by the mistake diagnosis, errors
carried forward, and alternatives a question accepts (:mod:`grader.lms.accept`).

It sits above those modules: they compare one value; this one grades a student's answers."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from . import formula
from .compare import MISSING, Invalid, compare, parse_value, question_name, within
from .results import Results, TestResult
from .solver import to_plain
from .spec import Exercise, Question, did_you_mean


def _number(q: Question, value: Any, expected: np.ndarray) -> tuple | None:
    """A typed number (not missing, invalid or a formula) parsed and compared with ``expected``:
    ``(got, fraction, feedback)``, or ``(ValueError, None, None)`` when it does not parse;
    None for anything else."""
    if value is MISSING or isinstance(value, Invalid) or q.answer == "formula" or formula.applies(q.answer, value):
        return None
    try:
        got = parse_value(value)
    except ValueError as exc:
        return exc, None, None
    return (got, *compare(got, expected, q.tolerance))


def grade_question(q: Question, value: Any, expected: np.ndarray, reveal: bool,
                   ex: Exercise | None = None, diagnose: Any = None, number: Any = MISSING) -> TestResult:
    """Grade one typed answer (``value`` is raw JSON data, or :data:`MISSING`). With the
    exercise and a ``diagnose(ex, q, got)`` (:func:`grader.mistakes.diagnose`), a wrong answer
    that a known mistake explains says which step went wrong. ``number``: :func:`_number` of
    ``value``, when already known."""
    revealed = reveal or q.reveal
    plain = to_plain(expected)
    common = dict(id=q.id, name=question_name(q), max_score=q.points, expected=plain, revealed=revealed)
    if value is MISSING:
        return TestResult(score=0.0, status="missing", feedback="no answer", **common)
    if isinstance(value, Invalid):
        return TestResult(score=0.0, status="invalid", feedback=f"invalid answer: {value.reason}", **common)
    if number is not MISSING and number is not None:  # a plain number, parsed and compared already
        got, fraction, feedback = number
        if isinstance(got, ValueError):
            return TestResult(score=0.0, status="invalid", feedback=f"invalid answer: {got}", **common)
    elif ex is not None and formula.applies(q.answer, value):
        from . import formula_grade  # only for a formula answer (its imports are on every grade FILE's path)

        out = formula_grade.check(ex, q, value, diagnose)
        if out.number is None:
            feedback = f"{out.feedback}. {q.feedback}" if out.status != "passed" and q.feedback else out.feedback
            return TestResult(score=round(q.points * out.fraction, 6), status=out.status, feedback=feedback,
                              got=out.got, **common)
        value = out.number.tolist()  # a formula of numbers only: graded as the number it is
    elif q.answer == "formula":
        return TestResult(score=0.0, status="invalid", feedback="this question asks for a formula", **common)
    if number is MISSING or number is None:
        try:
            got = parse_value(value)
        except ValueError as exc:
            return TestResult(score=0.0, status="invalid", feedback=f"invalid answer: {exc}", **common)
        fraction, feedback = compare(got, expected, q.tolerance)
    status = "passed" if fraction == 1.0 else ("partial" if fraction > 0 else "wrong")
    if status != "passed" and ex is not None and diagnose is not None:
        mistake = diagnose(ex, q, got)
        if mistake is not None:
            feedback = f"{feedback}. Step: {mistake.step}"
    if status != "passed" and q.feedback:
        feedback = f"{feedback}. {q.feedback}" if feedback else q.feedback
    return TestResult(score=round(q.points * fraction, 6), status=status, feedback=feedback,
                      got=to_plain(got), **common)


def carry_forward(ex: Exercise, tests: tuple[TestResult, ...], key: dict[str, np.ndarray]) -> tuple[TestResult, ...]:
    """Error carried forward: a wrong answer that equals the product of the student's own answers
    to the steps it builds on (``uses``), when one of those steps is wrong, earns
    ``carried_forward`` of its points — the wrong step costs its points once."""
    by_id = {t.id: t for t in tests}
    out = []
    for q, t in zip(ex.questions, tests, strict=True):
        steps = [by_id[u] for u in q.uses]
        if (not steps or t.status not in ("wrong", "partial") or all(s.status == "passed" for s in steps)
                or t.got is None or any(np.ndim(s.got) != 0 or s.got is None for s in steps)):
            out.append(t)
            continue
        # only a decomposition that holds for the true values carries errors forward
        true = np.prod([float(np.squeeze(key[s.id])) for s in steps])
        if not np.isclose(true, float(np.squeeze(key[q.id])), rtol=1e-9, atol=1e-15):
            out.append(t)
            continue
        theirs = float(np.prod([float(s.got) for s in steps]))
        if np.ndim(t.got) == 0 and bool(within(np.float64(t.got), np.float64(theirs), q.tolerance)):
            score = round(q.points * q.carried_forward, 6)
            if score > t.score:
                names = " × ".join(q.uses)
                t = dataclasses.replace(t, score=score, status="partial", feedback=(
                    f"{t.feedback}. Error carried forward: your answer follows from your own answers to "
                    f"{names}, one of which is wrong; {q.carried_forward:g} of the points"))
        out.append(t)
    return tuple(out)


def grade_answers(ex: Exercise, answers: dict[str, Any], key: dict[str, np.ndarray],
                  reveal: bool = False, warnings: tuple[str, ...] = (), diagnose: Any = None,
                  diagnose_all: Any = None) -> Results:
    """Grade an answers mapping question by question against ``key`` (one variant's answers);
    ``diagnose`` names the step of a wrong answer (see :func:`grade_question`), and
    ``diagnose_all(ex, {question id: answer})`` (:func:`grader.mistakes.diagnose_answers`) the one
    step that explains all the wrong numbers at once, where one does."""
    ids = [q.id for q in ex.questions]
    notes = list(warnings)
    for name in answers:
        if name not in ids:
            notes.append(f"answers: unknown question {name!r}{did_you_mean(name, ids)}; ignored")
    one = diagnose
    numbers = {q.id: _number(q, answers.get(q.id, MISSING), key[q.id]) for q in ex.questions}
    if diagnose_all is not None and diagnose is not None:
        # the typed numbers (not formulas) that are not the answer
        wrong = {qid: n[0] for qid, n in numbers.items() if n is not None and n[1] is not None and n[1] < 1.0}
        joint = diagnose_all(ex, wrong) if len(wrong) > 1 else {}
        if joint:
            def one(ex_: Exercise, q: Question, got: Any, **at: Any) -> Any:
                return joint[q.id] if q.id in joint and not at else diagnose(ex_, q, got, **at)
    tests = tuple(grade_question(q, answers.get(q.id, MISSING), key[q.id], reveal, ex, one, numbers[q.id])
                  for q in ex.questions)
    tests = carry_forward(ex, tests, key)
    if any(q.accept for q in ex.questions):
        from .lms import accept

        tests = accept.apply(ex, answers, tests)  # accepted alternatives (a question's "accept")
    score = round(sum(t.score for t in tests), 6)
    return Results(ex.id, score, ex.max_score, tests, tuple(notes))
