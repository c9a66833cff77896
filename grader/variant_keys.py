"""The answer keys of a class's variants, solved together.

A class graded on per-student variants needs one answer key per student. Solved one student at
a time, the key of ``tutorial-4`` (its ``E_1000`` question trains for 1,000 epochs) costs about
25 ms; the solver is batched over variants, so a chunk of students costs about that of one. No
student's copy of the spec is compiled for it: each student's drawn values are written into their
slice of the exercise's values (:func:`class_values`), and one solve answers the chunk.

The batch's own process solves the keys of each chunk of students as it hands their submissions
out, and each key travels with its submission to the grading worker (never to the sandbox). A
key also holds what a correct function returns on the student's own values (each function's
``exercise`` case: ``train`` runs 100 epochs there), solved the same way, and the values it was
solved for: the worker, which compiles the student's copy to grade it, takes the key only when
its seed and its values are that copy's (another course secret, or anything a copy compiles
otherwise: it solves its own).

A chunk is padded to at least :data:`MIN_V` variants, so that every chunk takes the same kernels
(``grader.passes`` picks them by the number of variants): a student's key is then the same bits
whichever chunk, run or machine solves it (``--resume``, ``--scheduler``). It can differ in the
last bits from a key solved for one variant alone (``grade FILE``), far below any tolerance.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import solver, spec, variants
from .errors import GraderError
from .passes import Values
from .spec import EXERCISE_CASE, Exercise

CHUNK = 256  # students solved together: about 30 ms, and a few hundred KB of keys held at a time
MIN_V = 8  # variants in a solve at least (see the module's docstring)


@dataclass(frozen=True)
class VariantKey:
    """One student's answer key: question id -> answer, for the variant of ``seed`` whose
    values are ``values`` (W..., b..., x, t, as the compiled exercise holds them)."""

    seed: int
    answers: dict[str, np.ndarray]
    # what a correct function returns on the case that holds the student's values (function
    # name, case id) -> returns; the worker computes the shared random cases once itself
    outputs: dict[tuple[str, str], tuple[np.ndarray, ...]] = field(default_factory=dict)
    values: tuple[np.ndarray, ...] = ()

    def fits(self, ex: Exercise) -> bool:
        """Is this the key of ``ex``, a student's compiled variant: its seed and every value?"""
        mine = (*ex.W, *ex.b, ex.x, ex.t)
        return ex.variant_seed == self.seed and len(self.values) == len(mine) and all(
            np.array_equal(a, b) for a, b in zip(self.values, mine, strict=True))


def class_values(ex: Exercise, seeds: Sequence[int]) -> Values:
    r"""The values of the variants ``seeds`` of ``ex`` (compiled as written): its own values
    repeated V times (the variant axis first), each variant's drawn values written into its
    slice, as compiling that variant's copy of the spec would hold them."""
    rules = ex.raw["variants"]["values"]
    vals = Values.of(ex, len(seeds))
    inputs = {n: i for i, n in enumerate(ex.neurons[0])}
    outputs = {n: i for i, n in enumerate(ex.neurons[-1])}
    for v, seed in enumerate(seeds):
        data = variants.concrete(ex.raw, seed, ex.path)
        for name in rules:
            if name in ex.parameters:
                value = float(data["network"]["parameters"][name]["value"])
                for kind, l, idx in ex.parameters[name].uses:
                    (vals.W if kind == "W" else vals.b)[l - 1][(v, *idx)] = value
            elif name in inputs and name in data.get("inputs", {}):
                vals.x[v, inputs[name], :] = float(data["inputs"][name])
            else:
                vals.t[v, outputs[name], :] = float(data["targets"][name])
    return vals


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr)  # its own copy, not a view of the chunk's array
    arr.setflags(write=False)
    return arr


def solve_values(ex: Exercise, values: Values) -> list[dict[str, np.ndarray] | None]:
    """The answer key of each of the V variants of ``values`` (of ``ex``), from one batched
    solve padded to :data:`MIN_V`; None for a variant whose key holds a number that is not
    finite (its worker solves it alone and reports the spec's error)."""
    V = values.V
    solved = solver.solve(ex, _padded(values))
    out: list[dict[str, np.ndarray] | None] = []
    for k in range(V):
        key = {qid: _frozen(v[k]) if v[k].ndim else v[k] for qid, v in solved.items()}
        out.append(key if all(np.all(np.isfinite(a)) for a in key.values()) else None)
    return out


def own_case_outputs(ex: Exercise, values: Values) -> list[dict[tuple[str, str], tuple[np.ndarray, ...]]]:
    """For each of the V variants of ``values`` (of ``ex``), what a correct function returns on
    its case on the student's values (``EXERCISE_CASE``; the random cases are every student's,
    and a worker computes them once), by (function name, case id): one batched solve per
    function, padded as the keys are. An activation's case (its values are not the student's)
    and a case given what the values do not hold (a loss function's outputs) are left to the
    worker."""
    V = values.V
    out: list[dict] = [{} for _ in range(V)]
    padded = _padded(values)
    arrays = {"x": padded.x, "t": padded.t, **{f"W{l}": w for l, w in enumerate(padded.W, 1)},
              **{f"b{l}": b[:, :, None] for l, b in enumerate(padded.b, 1)}}
    for fn in ex.functions:
        case = next((c for c in fn.cases if c.id == EXERCISE_CASE), None)
        if fn.activation is not None or case is None:
            continue
        given = [name for name, v in case.inputs if isinstance(v, np.ndarray)]
        if not set(given) <= set(arrays):
            continue
        stacked = {name: np.moveaxis(arrays[name], 0, -1) for name in given}
        if any(stacked[name].shape[:-1] != np.shape(v) for name, v in case.inputs if name in stacked):
            continue
        solved = solver.function_variants(fn, case, stacked=stacked)
        for v in range(V):
            out[v][(fn.name, case.id)] = tuple(_frozen(arr[..., v]) for arr in solved)
    return out


def _padded(values: Values) -> Values:
    """``values`` with its last variant repeated up to :data:`MIN_V` variants."""
    extra = MIN_V - values.V
    if extra <= 0:
        return values
    pad = lambda a: np.concatenate([a, np.repeat(a[-1:], extra, axis=0)])  # noqa: E731
    return Values(tuple(map(pad, values.W)), tuple(map(pad, values.b)), pad(values.x), pad(values.t))


def student_values(values: Values, k: int) -> tuple[np.ndarray, ...]:
    """Variant ``k``'s values as :class:`VariantKey` holds them (its own read-only copies)."""
    return tuple(_frozen(a[k]) for a in (*values.W, *values.b, values.x, values.t))


def solve_class(ex: Exercise, students: Sequence[str], secret: str) -> dict[str, VariantKey]:
    """The :class:`VariantKey` of each of ``students`` (their variants of ``ex``, compiled as
    written, keyed by ``secret``), but those whose key is not finite."""
    if not students:
        return {}
    seeds = [variants.seed(ex.id, s, secret) for s in students]
    values = class_values(ex, seeds)
    keys = solve_values(ex, values)
    outputs = own_case_outputs(ex, values)
    return {s: VariantKey(seed, key, out, student_values(values, k))
            for k, (s, seed, key, out) in enumerate(zip(students, seeds, keys, outputs, strict=True)) if key is not None}


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
        secret = os.environ.get(variants.SECRET_ENV, "")
        try:
            ex = spec.load_exercise(self.exercise)
            if not secret or not isinstance(ex.raw.get("variants"), dict):
                return {}
            return solve_class(ex, students, secret)
        except GraderError:  # each worker meets the same error and reports it
            return {}
