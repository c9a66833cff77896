"""The answer keys of a class's variants, solved together.

A class graded on per-student variants needs one answer key per student. Solved one student at
a time, the key of ``tutorial-4`` (its ``E_1000`` question trains for 1,000 epochs) costs about
25 ms; the solver is batched over variants, so a chunk of students costs about that of one. The
batch's own process solves the keys of each chunk of students as it hands their submissions
out, and each key travels with its submission to the grading worker (never to the sandbox).
A key also holds what a correct function returns on the student's own values (each function's
``exercise`` case: ``train`` runs 100 epochs there), solved the same way; the random cases are
every student's, and a worker computes them once.

A chunk is padded to at least :data:`MIN_V` variants, so that every chunk takes the same kernels
(``grader.passes`` picks them by the number of variants): a student's key is then the same bits
whichever chunk, run or machine solves it (``--resume``, ``--scheduler``). It can differ in the
last bits from a key solved for one variant alone (``grade FILE``), far below any tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from . import solver, spec
from .errors import GraderError
from .passes import Values
from .spec import EXERCISE_CASE, Case, Exercise

CHUNK = 256  # students solved together: tens of ms, about a MB of keys held at a time
MIN_V = 8  # variants in a solve at least (see the module's docstring)


@dataclass(frozen=True)
class VariantKey:
    """One student's answer key: question id -> answer, and the seed of the variant it is for
    (a worker whose variant has another seed, another course secret, solves its own)."""

    seed: int
    answers: dict[str, np.ndarray]
    # what a correct function returns on the cases that hold the student's values (function
    # name, case id) -> returns; the worker computes the shared random cases once itself
    outputs: dict[tuple[str, str], tuple[np.ndarray, ...]] = field(default_factory=dict)


def _same_shape(a: Exercise, b: Exercise) -> bool:
    return (a.path == b.path and a.id == b.id and a.learning_rate == b.learning_rate and a.mode == b.mode
            and a.net.sizes == b.net.sizes and [q.id for q in a.questions] == [q.id for q in b.questions]
            and all(p.shape == q.shape for p, q in zip(a.W + a.b + (a.x, a.t), b.W + b.b + (b.x, b.t), strict=True)))


def _padded(exs: Sequence[Exercise]) -> list[Exercise]:
    return list(exs) + [exs[-1]] * max(0, MIN_V - len(exs))


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr)  # its own copy, not a view of the chunk's array
    arr.setflags(write=False)
    return arr


def own_case_outputs(exs: Sequence[Exercise]) -> list[dict[tuple[str, str], tuple[np.ndarray, ...]]]:
    """For each variant in ``exs`` (variants of one spec, as :func:`solve_variants` takes them),
    what a correct function returns on its case on the student's values (``EXERCISE_CASE``; the
    random cases are every student's, and a worker computes them once), by (function name, case
    id): one batched solve per function, padded as the keys are. A case that differs in anything
    but its arrays' values, and an activation's case (its values are not the student's), is
    left to the worker."""
    out: list[dict] = [{} for _ in exs]
    if not exs or not all(_same_shape(exs[0], ex) for ex in exs):
        return out
    padded = _padded(exs)
    first = exs[0]
    for i, fn in enumerate(first.functions):
        fns = [ex.functions[i] for ex in padded]
        if fn.activation is not None or any(f.name != fn.name or f.returns != fn.returns or
                                            len(f.cases) != len(fn.cases) for f in fns):
            continue
        for k, case in enumerate(fn.cases):
            cases = [f.cases[k] for f in fns]
            if case.id != EXERCISE_CASE or not all(_same_case(case, c) for c in cases):
                continue
            stacked = {name: np.stack([np.asarray(dict(c.inputs)[name], float) for c in cases], axis=-1)
                       for name, v in case.inputs if isinstance(v, np.ndarray)}
            solved = solver.function_variants(fn, case, stacked=stacked)
            for v in range(len(exs)):
                out[v][(fn.name, case.id)] = tuple(_frozen(arr[..., v]) for arr in solved)
    return out


def _same_case(a: Case, b: Case) -> bool:
    """Do ``a`` and ``b`` differ in their arrays' values alone (one batched solve answers both)?"""
    if a.id != b.id or a.net.sizes != b.net.sizes or len(a.inputs) != len(b.inputs):
        return False
    for (n, u), (m, w) in zip(a.inputs, b.inputs, strict=True):
        if n != m or isinstance(u, np.ndarray) != isinstance(w, np.ndarray):
            return False
        if (u.shape != w.shape) if isinstance(u, np.ndarray) else (u != w):
            return False
    return True


def solve_variants(exs: Sequence[Exercise]) -> list[dict[str, np.ndarray] | None]:
    """The answer key of each variant in ``exs`` (variants of one spec: the same network and
    questions, other values) from one batched solve; None for a variant whose key holds a
    number that is not finite (its worker solves it alone and reports the spec's error)."""
    if not exs:
        return []
    first = exs[0]
    if not all(_same_shape(first, ex) for ex in exs):
        return [None] * len(exs)
    padded = _padded(exs)
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
        keys = solve_variants(exs)
        outputs = own_case_outputs(exs)
        return {s: VariantKey(ex.variant_seed, key, out)
                for s, ex, key, out in zip(students, exs, keys, outputs, strict=True) if key is not None}
