"""Library entry points that the CLI calls: one function per command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import compare, solver, spec
from .errors import GraderError
from .results import Results
from .spec import Exercise

DEFAULT_EXERCISE = "tutorial-4"


@dataclass(frozen=True)
class Key:
    exercise: Exercise
    answers: dict  # question id -> float or nested list


def answer_key(name: str | Path) -> Key:
    ex = spec.load_exercise(name)
    return Key(ex, solver.answer_key(ex))


def validate(names: list[str]) -> list[tuple[str, list[GraderError]]]:
    """Every problem of every spec named (a path or a bundled id); an empty list means valid."""
    out = []
    for name in names:
        try:
            path = spec.find(name)
            errors: list[GraderError] = list(spec.check_spec(spec.read_spec(path), str(path)))
        except GraderError as exc:
            errors = [exc]
        out.append((str(name), errors))
    return out


def grade_answers_file(path: str | Path, exercise: str | None = None, reveal: bool = False) -> Results:
    """Grade an answers JSON file; the exercise comes from ``exercise``, the file, or the default."""
    answers, named = compare.read_answers(path)
    warnings = []
    if exercise is None:
        if named is None:
            warnings.append(f"no exercise named: graded against the bundled default {DEFAULT_EXERCISE!r}")
        exercise = named or DEFAULT_EXERCISE
    ex = spec.load_exercise(exercise)
    if named is not None and named not in (ex.id, *ex.aliases):
        warnings.append(f"{path}: the file names exercise {named!r} but is graded against {ex.id!r}")
    key = {qid: v[0] for qid, v in solver.solve(ex).items()}
    return compare.grade_answers(ex, answers, key, reveal=reveal, warnings=tuple(warnings))
