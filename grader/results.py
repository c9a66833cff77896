"""Results of grading: plain dataclasses, turned into text and files only by :mod:`grader.report`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = (
    "passed", "partial", "wrong", "missing", "invalid", "error", "timeout", "memory_limit",
    "crashed", "no_result", "invalid_output",
)


@dataclass(frozen=True)
class TestResult:
    """One graded question or code case."""

    __test__ = False  # not a pytest test class

    id: str
    name: str
    score: float
    max_score: float
    status: str  # one of STATUSES
    feedback: str
    expected: Any = None  # plain JSON value; shown only when revealed
    got: Any = None
    revealed: bool = False
    visibility: str = "visible"  # Gradescope: visible, hidden, after_due_date, after_published
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Results:
    """A graded submission."""

    exercise: str
    score: float
    max_score: float
    tests: tuple[TestResult, ...]
    warnings: tuple[str, ...] = field(default=())
    output: str = ""  # what student code printed, already escaped
    extra: tuple[tuple[str, Any], ...] = ()  # audit data: exercise hash, grader version, variant seed

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 100.0
