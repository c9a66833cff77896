r"""The search: which combination of mistakes and conventions explains a student's wrong values.

Every candidate of one size (single parts, then pairs, then triples where cheap) is one variant
on the solver's leading variant axis, so one batched solver call answers a question (or runs a
function case) for all of them. The first size at which some candidate reproduces every value
the student gave — every entry, every return, every case — is the simplest explanation; within
it :data:`~grader.mistakes.catalogue.PRIORITY` decides. What each candidate computes on the
exercise's questions and cases depends on the exercise only, so it is computed once per process
and shared by every student of a class: diagnosing a wrong answer is then a few comparisons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import solver, spec
from ..identity import IdentityCache
from ..compare import within
from ..spec import Case, Exercise, Function, Question
from ..switches import Switches
from . import catalogue, messages
from .catalogue import REFERENCE, Candidate, Part

CODE_TOLERANCE = spec.Tolerance("relabs", spec.CODE_RTOL, spec.CODE_ATOL)
TRAINED_TOLERANCE = spec.Tolerance("relabs", 1e-3, 1e-6)


def _trains(case: Case) -> bool:
    return any(name == "epochs" for name, _ in case.inputs)
_TRAINING_LEVELS = 2  # pairs at most when a question or case trains (each variant trains)
LONG_TRAINING = 10  # epochs: past this, single mistakes only (every pair would train as long, for a
# typed number that a pair matches by coincidence as often as by cause)


def levels(epochs: int) -> int:
    """How many sizes of combination to search for a question or case that trains ``epochs``."""
    return 3 if epochs <= 0 else (_TRAINING_LEVELS if epochs <= LONG_TRAINING else 1)


@dataclass(frozen=True)
class Mistake:
    """A diagnosis: a stable ``id`` (the parts' ids joined by "+"), the ``step`` to show the
    student (no numbers), the ``ids`` of its parts and which of them are ``conventions``."""

    id: str
    step: str
    ids: tuple[str, ...] = ()
    conventions: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, ...], ...] = ()  # other combinations giving the same values


_CACHE = IdentityCache()


def _cached(key: tuple[Any, ...], keep: tuple[Any, ...], make: Any) -> Any:
    """One value per exercise object and key (see :class:`grader.identity.IdentityCache`)."""
    return _CACHE.value(key, keep, make)


def _max_uses(ex: Exercise) -> int:
    return max((len(p.uses) for p in ex.parameters.values() if p.shape == () and len(p.uses) > 1), default=0)


def _squeeze_variants(arr: np.ndarray) -> np.ndarray:
    """(V, *shape) with the singleton axes of shape dropped, as answers are compared."""
    return arr.reshape((arr.shape[0],) + tuple(d for d in arr.shape[1:] if d != 1))


def _all_close(got: np.ndarray, cands: np.ndarray, tol: spec.Tolerance, scaled: bool = False) -> np.ndarray:
    """Per candidate (axis 0): every entry of ``got`` within tolerance of the candidate's;
    ``scaled`` (a trained return): within ``atol + rtol`` times the candidate's largest entry."""
    if cands.shape[1:] != got.shape:
        return np.zeros(cands.shape[0], dtype=bool)
    finite = np.isfinite(cands)
    with np.errstate(invalid="ignore", over="ignore"):  # a diverged candidate is close to nothing
        c = np.where(finite, cands, 0.0)
        if scaled:
            scale = np.abs(c).reshape(c.shape[0], -1).max(axis=1, initial=0.0)
            ok = np.abs(got[None] - c) <= (tol.atol + tol.rtol * scale).reshape((-1,) + (1,) * got.ndim)
        else:
            ok = within(got[None], c, tol)
        ok &= finite
    return ok.reshape(cands.shape[0], -1).all(axis=1)


def _differs(cands: np.ndarray, ref: np.ndarray, tol: spec.Tolerance, scaled: bool = False) -> np.ndarray:
    """Per candidate: finite, and not within tolerance of the reference (so it is a mistake there)."""
    finite = np.isfinite(cands.reshape(cands.shape[0], -1)).all(axis=1)
    return finite & ~_all_close(ref, cands, tol, scaled)


def _pick(found: Sequence[Candidate], names: messages.Names, ex: Exercise | None = None,
          q: Question | None = None, code: bool = False) -> Mistake | None:
    """The first candidate found (in priority order), naming another that gives the same value.
    For code, fewest mistakes first: code that is right for another convention is named, not blamed
    (a typed number is more often a slip, and its message names the convention as the alternative)."""
    if not found:
        return None
    rank = {m: i for i, m in enumerate(catalogue.PRIORITY)}
    ordered = sorted(found, key=lambda c: (c.mistakes if code else 0, [rank[i] for i in c.ids]))
    first = ordered[0]
    step = messages.message(first, names, ex, q)
    other = next((c for c in ordered[1:] if set(c.ids) != set(first.ids) and not _implied(first, c)), None)
    if other is not None:
        step += f"; or, giving the same value: {messages.message(other, names, ex, q)}"
    others = tuple(dict.fromkeys(c.ids for c in ordered[1:] if set(c.ids) != set(first.ids)))
    return Mistake("+".join(first.ids), step, first.ids, tuple(p.id for p in first.parts if p.convention), others)


def _implied(first: Candidate, other: Candidate) -> bool:
    """The first message already covers the other (+η trains exactly like a flipped y − t)."""
    return "update_wrong_sign" in first.ids and set(other.ids) <= set(first.ids) | {"sign_flipped"}


# ---------------------------------------------------------------------------- student functions
def _returns(fn: Function) -> tuple[str, ...]:
    """fn's returns, then δ of each layer whose db or dW it returns (for a bias not summed, or summed
    wrongly) and the input of each layer whose dW it returns (for an elementwise δ * a)."""
    extra = [f"delta{r[2:]}" for r in fn.returns if r[:2] in ("db", "dW")]
    extra += [f"a{int(r[2:]) - 1}" for r in fn.returns if r.startswith("dW")]
    return fn.returns + tuple(dict.fromkeys(e for e in extra if e not in fn.returns))


def case_variants(fn: Function, case: Case, level: int) -> tuple[list[Candidate], tuple[np.ndarray, ...]] | None:
    """The candidates of one size for ``fn`` on ``case`` (reference first) and what each returns
    (each return with a trailing variant axis, then δ for each db), or None when no mistake applies."""
    if fn.activation is not None:
        return None
    given = dict(case.inputs)
    net = case.net
    training = "epochs" in given
    loss_only = f"a{net.L}" in given and "x" not in given
    kinds = {name.rstrip("0123456789") for name in fn.returns}
    if not training and not loss_only and not kinds & {"delta", "dW", "db", "E"}:
        return None

    def make() -> tuple[list[Candidate], tuple[np.ndarray, ...]] | None:
        S = np.shape(given.get("x", np.zeros((1, 1))))[1]
        ps = catalogue.parts(net, S, 0, training, code=True)
        if loss_only:
            ps = [p for p in ps if p.id in ("half_dropped", "half_doubled", "half_added", "mean_over_samples",
                                             "sum_over_samples")]
        by_size = catalogue.levels(ps, min(level + 1, _TRAINING_LEVELS if training else 3), catalogue.n_params(net))
        if level >= len(by_size):
            return None
        cands = [REFERENCE, *by_size[level]]
        sw = Switches(net, [c.switches for c in cands], lr=fn.learning_rate)
        return cands, solver.function_variants(fn, case, sw, _returns(fn))
    return _cached(("fn", *_reads(fn), id(case), level), (case,), make)


def diagnose_cases(fn: Function, cases: Sequence[Case], values: Sequence[tuple[np.ndarray, ...] | None]) -> Mistake | None:
    """The simplest combination that explains ``fn``'s returns on every case at once (None for a
    case that gave no result), or None. A candidate explains them when, on every case, every
    return equals the candidate's (code tolerance) and some return is wrong; a db may also be δ
    itself (not summed over samples) or δ summed over the neurons. When no candidate fits every
    case and return, a single part that fits every wrong return (the rest being right) is named."""
    got_all: list[tuple[Case, tuple[np.ndarray, ...]]] = []
    for case, vals in zip(cases, values, strict=True):
        if vals is None or len(vals) != len(fn.returns):
            continue
        try:
            got_all.append((case, tuple(np.asarray(v, dtype=float) for v in vals)))
        except (TypeError, ValueError):
            continue
    if not got_all:
        return None
    names = messages.Names.of_case(got_all[0][0].net)
    tol = CODE_TOLERANCE
    cases_here = tuple(case for case, _ in got_all)
    any_wrong = False
    lenient: list[Candidate] = []
    done: list[list[np.ndarray]] = [[] for _ in got_all]  # per case: (strict, partial) rows of each level
    for level in range(3):
        aligned = _alignment(fn, cases_here, level)
        if aligned is None:
            break
        cands, index = aligned
        for k, (case, got) in enumerate(got_all):
            level_cands, outs = case_variants(fn, case, level)
            # many epochs of a diverging mistake amplify rounding: match trained values more loosely
            strict, partial, wrong = _case_fit(fn, level_cands, outs, got, TRAINED_TOLERANCE if _trains(case) else tol,
                                               scaled=_trains(case))
            any_wrong |= wrong
            done[k].append(np.array([strict, partial], dtype=bool))
        if not any_wrong:
            return None
        # every candidate's fit on every case, looked up where the case computed it (or its parts there)
        fit = [np.concatenate([*done[k], np.zeros((2, 1), dtype=bool)], axis=1)[:, index[k]] for k in range(len(got_all))]
        strict_all = np.logical_and.reduce([f[0] for f in fit])
        found = [cands[i] for i in np.nonzero(strict_all)[0]]
        if found:
            return _pick(found, names, code=True)
        if level == 0:
            loose = np.logical_and.reduce([f[0] | f[1] for f in fit]) & np.logical_or.reduce([f[1] for f in fit])
            lenient = [cands[i] for i in np.nonzero(loose)[0]]
    return _pick(lenient, names, code=True)


def align(sources: Sequence[Sequence[list[Candidate]]]) -> tuple[list[Candidate], list[np.ndarray]]:
    """One search over several sources (a function's cases, a student's typed answers).

    ``sources[k][lv]`` is source k's candidates of size lv (the reference first), lv = 0..level.
    Returns the candidates of the last size over all sources, and per source the row of each in
    that source's candidates of every size side by side: the candidate itself, or its parts that
    apply there (a training mistake on a question without training), or the extra last row
    where none of its parts applies."""
    rows_of: list[tuple[dict[frozenset, int], int]] = []
    applies: list[set] = []
    merged: dict[frozenset, Candidate] = {}
    level = len(sources[0]) - 1
    for per_size in sources:
        rows: dict[frozenset, int] = {}
        offset = 0
        for lv, cands in enumerate(per_size):
            if lv == 0:
                applies.append({c.parts[0].key for c in cands[1:]})
            for i, c in enumerate(cands):
                rows.setdefault(c.key, offset + i)
            offset += len(cands)
            if lv == level:
                for c in cands[1:]:
                    merged.setdefault(c.key, c)
        rows[frozenset()] = 0
        rows_of.append((rows, offset))
    out = list(merged.values())
    index = []
    for (rows, none), here in zip(rows_of, applies, strict=True):
        index.append(np.array([rows.get(c.key if c.key <= here else frozenset(c.key & here), none)
                               for c in out], dtype=int))
    return out, index


def _alignment(fn: Function, cases: tuple[Case, ...], level: int) -> tuple[list[Candidate], list[np.ndarray]] | None:
    """:func:`align` over ``fn``'s cases, once per function and set of cases."""
    def make() -> tuple[list[Candidate], list[np.ndarray]] | None:
        sources = []
        for case in cases:
            computed = [case_variants(fn, case, lv) for lv in range(level + 1)]
            if any(c is None for c in computed):
                return None
            sources.append([c[0] for c in computed])
        return align(sources)
    return _cached(("align", *_reads(fn), tuple(id(c) for c in cases), level), cases, make)


def _reads(fn: Function) -> tuple[Any, ...]:
    """What the candidates of a case read of its function: cached by these and the case, not by
    the function object (each student's variant compiles new functions around the same random
    cases, so a class's wrong submissions share the candidates' outputs there)."""
    return fn.returns, fn.activation, fn.learning_rate


def _case_fit(fn: Function, cands: list[Candidate], outs: tuple[np.ndarray, ...], got: tuple[np.ndarray, ...],
              tol: spec.Tolerance, scaled: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per candidate on one case: fits every return (strict); fits every wrong return while the
    rest are right, with one wrong return explained (partial); and whether any return is wrong.
    ``scaled``: trained returns, compared relative to each array's largest entry (epochs of a
    diverging mistake amplify the rounding of another order of operations in every entry alike,
    so a small entry's relative error grows with its big neighbours)."""
    V = len(cands)
    forms = _cached(("forms", id(cands)), (cands,), lambda: np.array([c.form for c in cands]))
    T, U, N, M = forms == "T", forms == "db_delta", forms == "db_neurons", forms == "dW_mul"
    names = _returns(fn)
    strict = np.ones(V, dtype=bool)
    explained = np.zeros(V, dtype=bool)
    partial = np.ones(V, dtype=bool)
    any_wrong = False
    for k, name in enumerate(fn.returns):
        arr = np.moveaxis(outs[k], -1, 0)  # (V, *shape)
        g = got[k]
        ref = arr[0]
        right = g.shape == ref.shape and bool(_all_close(g, ref[None], tol, scaled)[0])
        any_wrong |= not right
        match = _all_close(g, arr, tol, scaled) & ~T
        if T.any() and arr.ndim == 3:  # the transpose, where it differs from the right matrix
            flipped = np.swapaxes(arr[T], 1, 2)
            match[T] = _all_close(g, flipped, tol, scaled) & _differs(flipped, ref, tol, scaled)
        if name.startswith("dW") and M.any():  # δ * a as NumPy broadcasts it, for δ @ a.T
            l = int(name[2:])
            d, a = (np.moveaxis(outs[names.index(n)][..., M], -1, 0) for n in (f"delta{l}", f"a{l - 1}"))
            broadcasts = d.shape[1] == a.shape[1] or 1 in (d.shape[1], a.shape[1])  # else NumPy raises
            match[M] = _all_close(g, d * a, tol, scaled) if broadcasts else False  # every dW so, as "T" every matrix
        if name.startswith("db") and (U.any() or N.any()):  # δ itself, or δ summed over the neurons
            delta = np.moveaxis(outs[names.index(f"delta{name[2:]}")], -1, 0)  # (V, n_l, S)
            match[U] = _all_close(g, delta[U], tol, scaled)  # with one sample δ is its own sum
            summed = delta[N].sum(axis=1)
            if g.size == summed.shape[1] and g.shape != ref.shape:
                match[N] = _all_close(g.reshape(-1), summed, tol, scaled)
        strict &= match
        partial &= match | right
        if not right:
            explained |= match
    return strict, partial & explained, any_wrong


def diagnose_function(fn: Function, case: Case, values: tuple[np.ndarray, ...]) -> Mistake | None:
    """:func:`diagnose_cases` for one case."""
    return diagnose_cases(fn, [case], [values])


__all__ = ["Mistake", "Part", "align", "diagnose_cases", "diagnose_function", "case_variants"]
