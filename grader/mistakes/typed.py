r"""Typed answers: which combination of mistakes explains a student's wrong numbers.

Three ways in, one search (:mod:`grader.mistakes.search` builds the candidates, one batched solver
call per size and question, cached per exercise):

- :func:`diagnose`: one wrong answer to one question, at the exercise's values;
- :func:`diagnose_answers`: every wrong answer of one student at once — the simplest combination
  that explains all of them, so two answers wrong by the same slip are named by that slip and
  not by two unrelated coincidences;
- :func:`diagnose` with ``values=``: a wrong formula, evaluated at several variants of the
  network's values, diagnosed at all of them in one call (the candidates × the points on the
  solver's variant axis) instead of one cold search per point.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import solver, spec
from ..spec import Exercise, Question
from ..switches import Switches
from . import catalogue, messages
from .catalogue import REFERENCE, Candidate
from .search import (Mistake, _all_close, _cached, _differs, _max_uses, _pick,
                     _squeeze_variants, align, levels)


def _candidates(ex: Exercise, q: Question, level: int) -> list[Candidate]:
    """The reference, then the candidates of one size (0: single parts) that apply to ``q``."""
    training = q.after_epochs > 0
    ps = catalogue.parts(ex.net, ex.n_samples, _max_uses(ex), training)
    A = q.quantity.a
    if not training and A is not None and A.kind != "E":  # weights updated by ∂E/∂W: only for E
        ps = [p for p in ps if p.id != "updated_weights_backprop"]
    by_size = catalogue.levels(ps, level + 1, catalogue.n_params(ex.net))
    return [REFERENCE, *by_size[level]] if level < len(by_size) else [REFERENCE]


def _answers(ex: Exercise, q: Question, level: int, values: solver.Values | None = None) -> tuple[list[Candidate], np.ndarray]:
    """The candidates of one size and their answers (P, C, *shape) at P points: ``values`` (P variants
    of the exercise's values), or the exercise's own (P = 1). One solver call: point-major, the
    candidates of each point side by side on the variant axis. Computed once per exercise,
    question and set of points."""
    def make() -> tuple[list[Candidate], np.ndarray]:
        cands = _candidates(ex, q, level)
        C = len(cands)
        P = 1 if values is None else values.V
        sw = Switches(ex.net, [c.switches for c in cands] * P, lr=ex.learning_rate)
        rep = lambda a: np.repeat(a, C, axis=0)  # each point once per candidate
        tiled = None if values is None else \
            solver.Values(tuple(map(rep, values.W)), tuple(map(rep, values.b)), rep(values.x), rep(values.t))
        out = solver.solve(ex, tiled, sw=sw, questions=(q,))[q.id]
        return cands, out.reshape((P, C) + out.shape[1:])
    if values is None:
        return _cached(("q", id(ex), q.id, level), (ex, q), make)
    return _cached(("q@", id(ex), q.id, level, id(values)), (ex, q, values), make)


def variant_answers(ex: Exercise, q: Question, level: int = 0) -> tuple[list[Candidate], np.ndarray]:
    """The candidates of one size (0: single parts) that apply to ``q``, with the reference first,
    and their answers (V, *shape) at the exercise's values, computed once per exercise and question."""
    cands, answers = _answers(ex, q, level)
    return cands, answers[0]


def _combination_tolerance(tol: spec.Tolerance, entries: int, level: int) -> spec.Tolerance | None:
    """How close a typed answer must be to a pair or triple of mistakes: hundreds of candidates
    cover much of the number line at 1%, so a short answer must match them more closely (one in
    three significant figures more); triples only explain answers of several entries."""
    if entries >= 4:
        return tol
    if level >= 2:
        return None
    if tol.mode == "relabs":
        return spec.Tolerance("relabs", min(tol.rtol, 1e-3), tol.atol, tol.digits)
    return tol if tol.digits >= 4 else None


def _level_tolerance(q: Question, entries: int, level: int) -> spec.Tolerance | None:
    return q.tolerance if level == 0 else _combination_tolerance(q.tolerance, entries, level)


def _fit(cands: list[Candidate], ans: np.ndarray, g: np.ndarray, tol: spec.Tolerance) -> np.ndarray:
    """Per candidate (ans: (C, *shape) squeezed): it gives ``g`` and differs from the reference
    there; a transposed answer is compared transposed."""
    ref = ans[0]
    ok = _differs(ans, ref, tol) & _all_close(g, ans, tol)
    T = np.array([c.answer_T for c in cands])
    if T.any() and ans.ndim == 3:
        flipped = np.swapaxes(ans[T], 1, 2)
        ok[T] = _differs(flipped, ref, tol) & _all_close(g, flipped, tol)
    elif T.any():
        ok[T] = False
    return ok


def _squeezed(got: object) -> np.ndarray | None:
    try:
        g = np.squeeze(np.asarray(got, dtype=float))
    except (TypeError, ValueError):
        return None
    return g if np.all(np.isfinite(g)) else None


def diagnose(ex: Exercise, q: Question, got: np.ndarray, values: solver.Values | None = None,
             agree: float = 0.75) -> Mistake | None:
    """The simplest combination that explains a wrong typed answer ``got`` to ``q`` within
    ``q.tolerance``, or None. ``got`` is compared after squeezing singleton axes, as
    :func:`grader.compare.compare` does. Never a diagnosis when ``got`` is right.

    With ``values`` (P variants of the exercise's values, as a formula is checked at), ``got`` is
    (P, *shape), the answer at each; a combination must explain at least ``agree`` of the points
    where the answer is wrong (and the reference a number)."""
    if values is not None:
        return _at_points(ex, q, np.asarray(got, dtype=float), values, agree)
    g = _squeezed(got)
    if g is None:
        return None
    for level in range(levels(q.after_epochs)):
        tol = _level_tolerance(q, g.size, level)
        if tol is None:
            break
        cands, answers = variant_answers(ex, q, level)
        ans = _squeeze_variants(answers)
        if level == 0 and _all_close(g, ans[0][None], tol)[0]:
            return None
        if len(cands) == 1:
            break
        found = [cands[i] for i in np.nonzero(_fit(cands, ans, g, tol))[0]]
        if found:
            return _pick(found, messages.Names.of_exercise(ex), ex, q)
    return None


def _at_points(ex: Exercise, q: Question, got: np.ndarray, values: solver.Values, agree: float) -> Mistake | None:
    P = values.V
    if got.shape[0] != P:
        return None
    for level in range(levels(q.after_epochs)):
        cands, answers = _answers(ex, q, level, values)
        ans = [_squeeze_variants(answers[p]) for p in range(P)]
        gs = [np.squeeze(got[p]) for p in range(P)]
        tol = _level_tolerance(q, gs[0].size * P, level)
        if tol is None or len(cands) == 1:
            break
        wrong = [p for p in range(P) if np.all(np.isfinite(gs[p])) and np.all(np.isfinite(ans[p][0]))
                 and not _all_close(gs[p], ans[p][0][None], tol)[0]]
        if not wrong:
            return None
        counts = sum(_fit(cands, ans[p], gs[p], tol).astype(int) for p in wrong)
        best = int(np.max(counts))
        if best >= agree * len(wrong):
            found = [cands[i] for i in np.nonzero(counts == best)[0]]
            return _pick(found, messages.Names.of_exercise(ex), ex, q)
    return None


def diagnose_answers(ex: Exercise, wrong: Mapping[str, np.ndarray]) -> dict[str, Mistake]:
    """One combination for every wrong typed answer of a student (question id -> the answer), the
    simplest that explains all of them, as each question's diagnosis; {} when there are fewer
    than two or none explains them all (then each is diagnosed on its own, :func:`diagnose`).
    Answers after many epochs are left to :func:`diagnose`: every candidate pair would train."""
    by_id = {q.id: q for q in ex.questions}
    qs, gs = [], []
    for qid, got in wrong.items():
        g = _squeezed(got)
        if qid in by_id and g is not None and by_id[qid].after_epochs <= 1:
            qs.append(by_id[qid])
            gs.append(g)
    if len(qs) < 2:
        return {}
    entries = sum(g.size for g in gs)
    for level in range(levels(max(q.after_epochs for q in qs))):
        tols = [_level_tolerance(q, entries, level) for q in qs]
        if any(t is None for t in tols):
            break
        sizes = [[variant_answers(ex, q, lv) for lv in range(level + 1)] for q in qs]
        cands, index = align([[c for c, _ in per] for per in sizes])
        if not cands:
            break
        fits = []
        for per, g, tol, rows in zip(sizes, gs, tols, index, strict=True):
            got_fit = [_fit(c, _squeeze_variants(a), g, tol) if len(c) > 1 else np.zeros(1, bool) for c, a in per]
            fits.append(np.concatenate([*got_fit, np.zeros(1, dtype=bool)])[rows])
        every = np.logical_and.reduce(fits)
        found = [cands[i] for i in np.nonzero(every)[0]]
        if found:
            names = messages.Names.of_exercise(ex)
            return {q.id: _pick(found, names, ex, q) for q in qs}
    return {}


__all__ = ["diagnose", "diagnose_answers", "variant_answers"]
