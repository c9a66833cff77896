"""The answer keys of a class's variants, solved together.

A class graded on per-student variants needs one answer key per student. Solved one student at
a time, the key of ``tutorial-4`` (its ``E_1000`` question trains for 1,000 epochs) costs about
25 ms; the solver is batched over variants, so a chunk of students costs about that of one. The
batch's own process solves the keys of each chunk of students as it hands their submissions
out, and each key travels with its submission to the grading worker (never to the sandbox).

A chunk is padded to at least :data:`MIN_V` variants, so that every chunk takes the same kernels
(``grader.passes`` picks them by the number of variants): a student's key is then the same bits
whichever chunk, run or machine solves it (``--resume``, ``--scheduler``). It can differ in the
last bits from a key solved for one variant alone (``grade FILE``), far below any tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from . import solver, spec
from .errors import GraderError
from .passes import Values
from .spec import Exercise

CHUNK = 64  # students solved together: a few ms, a few hundred KB of keys held at a time
MIN_V = 8  # variants in a solve at least (see the module's docstring)


@dataclass(frozen=True)
class VariantKey:
    """One student's answer key: question id -> answer, and the seed of the variant it is for
    (a worker whose variant has another seed, another course secret, solves its own)."""

    seed: int
    answers: dict[str, np.ndarray]


def _same_shape(a: Exercise, b: Exercise) -> bool:
    return (a.path == b.path and a.id == b.id and a.learning_rate == b.learning_rate and a.mode == b.mode
            and a.net.sizes == b.net.sizes and [q.id for q in a.questions] == [q.id for q in b.questions]
            and all(p.shape == q.shape for p, q in zip(a.W + a.b + (a.x, a.t), b.W + b.b + (b.x, b.t), strict=True)))


def solve_variants(exs: Sequence[Exercise]) -> list[dict[str, np.ndarray] | None]:
    """The answer key of each variant in ``exs`` (variants of one spec: the same network and
    questions, other values) from one batched solve; None for a variant whose key holds a
    number that is not finite (its worker solves it alone and reports the spec's error)."""
    if not exs:
        return []
    first = exs[0]
    if not all(_same_shape(first, ex) for ex in exs):
        return [None] * len(exs)
    padded = list(exs) + [exs[-1]] * max(0, MIN_V - len(exs))
    stack = lambda arrays: np.stack([np.asarray(a, float) for a in arrays])  # noqa: E731
    values = Values(tuple(stack([ex.W[l] for ex in padded]) for l in range(len(first.W))),
                    tuple(stack([ex.b[l] for ex in padded]) for l in range(len(first.b))),
                    stack([ex.x for ex in padded]), stack([ex.t for ex in padded]))
    solved = solver.solve(first, values)
    out: list[dict[str, np.ndarray] | None] = []
    for k in range(len(exs)):
        key = {}
        for qid, v in solved.items():
            value = v[k]  # a NumPy scalar, or a view of the chunk's array
            if isinstance(value, np.ndarray):
                value = value.copy()
                value.setflags(write=False)
            key[qid] = value
        out.append(key if all(np.all(np.isfinite(a)) for a in key.values()) else None)
    return out


class ClassKeys:
    """The keys of a class's students, a chunk at a time in the order they are asked for:
    ``keys(student)`` is the student's :class:`VariantKey`, or None (the worker solves it)."""

    def __init__(self, exercise: str | Path, students: Sequence[str | None]):
        self.exercise = exercise
        order = list(dict.fromkeys(s for s in students if s is not None))
        self.chunks = [order[k:k + CHUNK] for k in range(0, len(order), CHUNK)]
        self.chunk_of = {s: k // CHUNK for k, s in enumerate(order)}
        self.current: int | None = None
        self.held: dict[str, VariantKey] = {}

    def __call__(self, student: str | None) -> VariantKey | None:
        c = self.chunk_of.get(student) if student is not None else None
        if c is None:
            return None
        if c != self.current:
            self.held, self.current = self._solve(self.chunks[c]), c
        return self.held.pop(student, None)

    def _solve(self, students: list[str]) -> dict[str, VariantKey]:
        exs = []
        for student in students:
            try:
                exs.append(spec.load_exercise(self.exercise, student))
            except GraderError:  # the worker meets the same error and reports it
                return {}
        if any(ex.variant_seed is None for ex in exs):
            return {}
        return {s: VariantKey(ex.variant_seed, key)
                for s, ex, key in zip(students, exs, solve_variants(exs), strict=True) if key is not None}
