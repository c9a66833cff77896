"""Library entry points that the CLI calls: one function per command."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _about, answer_grade, compare, solver, spec
from ._about import DEFAULT_EXERCISE
from .code_grade import CODE_TOLERANCE, Probe, _function_tests, _placeholders, sandbox_calls, self_consistency, \
    self_consistency_calls
from .errors import AnswersError, GraderError, SubmissionSyntaxError, UsageError
from .exercise_values import expected_outputs, function_outputs, give_reference, once, reference
from .results import Results, TestResult
from .spec import Exercise

__all__ = ["CODE_TOLERANCE", "Key", "Probe", "answer_key", "audit", "expected_outputs", "failed_results",
           "full_maximum", "function_outputs", "grade_answers_file", "grade_parts", "grade_path",
           "grade_submission", "once", "reference", "sandbox_calls", "self_consistency", "self_consistency_calls",
           "submission_file", "validate"]



def _spec_digest(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _digest_of(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=32)
def _digest_of(path: str, mtime_ns: int, size: int) -> str | None:
    # once per version of the file: each student's variant is an exercise of its own
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def audit(ex: Exercise, variant_seed: int | None = None) -> tuple[tuple[str, Any], ...]:
    """What a regrade needs to reproduce a result: the spec's content hash, the grader version,
    the variant seed."""
    digest = once("digest", (ex,), lambda: _spec_digest(ex.path))
    return (("exercise_sha256", digest), ("grader_version", _about.__version__), ("variant_seed", variant_seed))


@dataclass(frozen=True)
class Key:
    exercise: Exercise
    answers: dict  # question id -> float or nested list


def answer_key(name: str | Path, student: str | None = None) -> Key:
    ex = spec.load_exercise(name, student)
    return Key(ex, {qid: solver.to_plain(v) for qid, v in reference(ex).items()})


def validate(names: list[str]) -> list[tuple[str, list[GraderError]]]:
    """Every problem of every spec named (a path or a bundled id); an empty list means valid."""
    out = []
    for name in names:
        try:
            path = spec.find(name)
            errors: list[GraderError] = list(spec.check_spec(spec.read_spec(path), str(path)))
            if not errors:
                reference(spec.load(path))  # every answer must be a finite number
        except GraderError as exc:
            errors = [exc]
        out.append((str(name), errors))
    return out


def grade_path(path: str | Path, exercise: str | None = None, reveal: bool = False,
               isolation: str = "best-effort", student: str | None = None, box: Any = None) -> Results:
    """Grade what ``path`` names: a code file, an answers file, or a folder holding a student's
    submission (Gradescope's ``submission.py`` beside ``answers.json``: both, into one result)."""
    p = Path(path)
    if p.is_dir():
        from .discover import folder_submission

        sub = folder_submission(p, prefix="")
        if sub.path is None:
            raise UsageError(f"{path}: no submission (.py, .ipynb or .json) in this folder")
        return grade_parts(sub.code, sub.answers, exercise, reveal=reveal, isolation=isolation, student=student,
                           ignored=tuple((i.name, i.reason) for i in sub.ignored))
    if p.suffix.lower() in (".py", ".ipynb"):  # ``box``: a sandbox already launched for it
        return grade_parts(p, None, exercise, reveal=reveal, isolation=isolation, student=student, box=box)
    return grade_answers_file(p, exercise, reveal=reveal, student=student)


def submission_file(path: str | Path) -> str:
    """The file ``path`` names as the submission: itself, or the main file of a folder (its code,
    else its answers file)."""
    p = Path(path)
    if p.is_dir():
        from .discover import folder_submission

        sub = folder_submission(p, prefix="")
        if sub.path is None:
            raise UsageError(f"{path}: no submission (.py, .ipynb or .json) in this folder")
        return str(sub.path)
    return str(path)


def grade_answers_file(path: str | Path, exercise: str | None = None, reveal: bool = False,
                       student: str | None = None) -> Results:
    """Grade an answers JSON file (out of the exercise's full maximum: its functions score 0 as
    ``missing``); the exercise comes from ``exercise``, the file, or the default."""
    answers, named = compare.read_answers(path)  # a file that is not an answers file: exit 2
    return grade_parts(None, path, exercise, reveal=reveal, student=student, _typed=(answers, named))


def failed_results(exercise: str | Path, message: str, student: str | None = None,
                   status: str = "invalid") -> Results:
    """A submission that could not be graded at all (or was not there: ``no_result``): every
    test of the exercise at 0 with the reason, so that its row has the class's maximum and columns."""
    try:
        ex = spec.load_exercise(exercise, student)
    except GraderError:
        return Results(str(exercise), 0.0, 0.0, (TestResult("submission", "submission", 0.0, 0.0, status, message),))
    tests = _placeholders(ex, status, message) + [
        TestResult(q.id, compare.question_name(q), 0.0, q.points, status, message) for q in ex.questions]
    return _total(ex, tests, (message,), "")


def _total(ex: Exercise, tests: list[TestResult], warnings: tuple[str, ...] | list[str], output: str) -> Results:
    score = round(sum(t.score for t in tests), 6)
    return Results(ex.id, score, full_maximum(ex), tuple(tests), tuple(warnings), output, audit(ex, ex.variant_seed))


def full_maximum(ex: Exercise) -> float:
    """What every submission of ``ex`` is graded out of: its questions and its functions."""
    functions = sum(f.points + (f.vectorized_points if f.vectorized else 0) for f in ex.functions)
    return round(ex.max_score + functions, 6)


def _code_answers(run: Any, where: str) -> tuple[dict | None, str | None]:
    """The ``ANSWERS`` of a code submission, each value parsed on its own: one NaN, set or
    unconvertible object fails its question (``invalid``), not the others. ``(None, reason)``
    when ANSWERS was defined but cannot be read at all; ``(None, None)`` when there is none."""
    if run.answers_json is None:
        note = run.load_message.strip() if run.load_status == "ok" else ""
        return (None, f"{where}: {note}") if note.startswith("ANSWERS") else (None, None)
    try:
        data = json.loads(run.answers_json, parse_constant=lambda c: compare.Invalid(f"{c} is not a finite number"))
    except (ValueError, RecursionError) as exc:
        return None, f"{where}: ANSWERS cannot be read: {exc}"
    try:
        answers, _ = compare.answers_object(data, f"{where}: ANSWERS")
    except AnswersError as exc:
        return None, str(exc)
    marked = lambda v: (compare.Invalid(v["__invalid__"])  # noqa: E731 - the child could not convert it
                        if isinstance(v, dict) and set(v) == {"__invalid__"} and isinstance(v["__invalid__"], str) else v)
    return {k: compare.first_invalid(marked(v)) for k, v in answers.items()}, None


def grade_parts(code: str | Path | None, answers: str | Path | None, exercise: str | None = None,
                reveal: bool = False, isolation: str = "best-effort", box: Any = None, limits: Any = None,
                student: str | None = None, ignored: tuple[tuple[str, str], ...] = (),
                _typed: tuple[dict, str | None] | None = None, source: Any = None, alone: bool = False,
                variant_key: Any = None) -> Results:
    """Grade one student's code and answers file together, out of the exercise's full maximum.

    The functions are graded from the code (``missing`` without code), the questions from the
    answers file and the code's ``ANSWERS`` (the file wins where both answer a question;
    ``missing`` where neither does). The sandbox worker is launched first and starts while the
    exercise loads; the child gets the inputs of each case only, and the grader compares what
    comes back. ``source``:
    the code already put together (``grader.check`` builds it from a notebook's cells) instead
    of reading ``code``. ``alone``: ``code`` lies among other students' files, so none of the
    modules beside it is its helper (:attr:`grader.submission.Source.alone`). ``variant_key``: the
    student's :class:`grader.variant_keys.VariantKey`, solved with the class's (taken when its
    seed is the variant's).
    """
    from . import sandbox, submission

    warnings: list[str] = [f"ignored {name}: {reason}" for name, reason in ignored]
    typed: dict | None = None
    named = None
    typed_error = None
    if answers is not None:
        try:
            typed, named = _typed if _typed is not None else compare.read_answers(answers)
        except AnswersError as exc:
            if code is None:
                raise
            typed_error = str(exc)
            warnings.append(f"the answers file cannot be read: {exc}")
    run = probe = None
    compile_error = None
    if code is not None and source is None:
        try:
            source = submission.load_source(code, alone=alone)
        except SubmissionSyntaxError as exc:  # the student's code does not compile: graded, 0 points
            compile_error = str(exc)
    if source is not None:
        own = box is None
        box = box if box is not None else sandbox.Sandbox(isolation)
        try:
            # A new worker process (exec'd, it shares no memory with this one) starts Python and
            # NumPy while the exercise, its calls and what a correct solution returns load here.
            box.launch()
            warnings += list(source.notes)
            ex = _exercise(exercise, (source.exercise, f"{code}: EXERCISE") if source.exercise else
                           (named, f"{answers}: exercise"), warnings, student)
            _take_key(ex, variant_key)
            calls, probe = sandbox_calls(ex)
            function_outputs(ex)
            run = box.run(source, calls, limits if limits is not None else sandbox.Limits())
        finally:
            if own:
                box.close()
    else:
        ex = _exercise(exercise, (named, f"{answers}: exercise"), warnings, student)
        _take_key(ex, variant_key)
    if named is not None and named not in (ex.id, *ex.aliases):
        warnings.append(f"{answers}: the file names exercise {named!r} but is graded against {ex.id!r}")
    tests: list[TestResult] = []
    output = ""
    own_answers = None
    if run is not None:
        tests, code_warnings = _function_tests(ex, run, probe, source, reveal)
        warnings += code_warnings
        output = run.output
        own_answers, answers_error = _code_answers(run, str(code))
        if answers_error:
            warnings.append(answers_error)
            typed_error = typed_error or answers_error
    elif compile_error is not None:
        tests = _placeholders(ex, "error", compile_error)
    else:
        tests = _placeholders(ex, "missing", "no code handed in")
    merged = dict(own_answers or {})
    for qid in sorted(set(merged) & set(typed or {})):
        warnings.append(f"question {qid} is answered in {Path(answers).name} and in the code's ANSWERS: "
                        f"graded from {Path(answers).name}")
    merged.update(typed or {})
    if ex.questions and own_answers is None and typed is None and typed_error is None and \
            compile_error is None and (run is None or run.load_status == "ok"):
        warnings.append("no ANSWERS defined and no answers file: the exercise's questions score 0 (missing)")
    key = reference(ex)
    graded = answer_grade.grade_answers(ex, merged, key, reveal=reveal, diagnose=_diagnose, diagnose_all=_diagnose_answers)
    questions = list(graded.tests)
    if typed_error is not None and not merged:  # nothing readable: each question says why
        questions = [dataclasses.replace(t, status="invalid", feedback=typed_error) if t.status == "missing" else t
                     for t in questions]
    warnings += list(graded.warnings)
    return _total(ex, tests + questions, warnings, output)


def _diagnose(*args: Any, **kwargs: Any) -> Any:
    from . import mistakes  # imported only for a wrong answer

    return mistakes.diagnose(*args, **kwargs)


def _diagnose_answers(*args: Any, **kwargs: Any) -> Any:
    from . import mistakes

    return mistakes.diagnose_answers(*args, **kwargs)


def _take_key(ex: Exercise, variant_key: Any) -> None:
    """Take a key solved with the class's variants (its answers and its own function cases'
    outputs) when it is for this variant, its seed and its values: a worker under another
    course secret, or whose copy holds other values, solves its own."""
    if variant_key is not None and ex.variant_seed is not None and variant_key.fits(ex):
        give_reference(ex, variant_key.answers, variant_key.outputs)


def _exercise(exercise: str | None, named: tuple[str | None, str], warnings: list[str],
              student: str | None) -> Exercise:
    """``--exercise``, else the one the submission names (``(id, where)``: by id only, never by
    path), else the default (with a warning)."""
    if exercise is None:
        if named[0] is None:
            warnings.append(f"no exercise named: graded against the bundled default {DEFAULT_EXERCISE!r}")
        exercise = spec.find_id(named[0], named[1]) if named[0] is not None else DEFAULT_EXERCISE
    return spec.load_exercise(exercise, student)


def grade_submission(path: str | Path, exercise: str | None = None, reveal: bool = False,
                     isolation: str = "best-effort", box: Any = None, limits: Any = None,
                     student: str | None = None, source: Any = None) -> Results:
    """Grade a ``.py`` or ``.ipynb`` submission: its functions in the sandbox, its ``ANSWERS``
    (questions without an answer score 0 as ``missing``); ``source``: see :func:`grade_parts`."""
    return grade_parts(path, None, exercise, reveal=reveal, isolation=isolation, box=box, limits=limits,
                       student=student, source=source)
