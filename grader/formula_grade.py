r"""Grading formula answers: the formula against the reference at many values of the network.

A formula is right when it equals the reference at the exercise's own values **and** at
:data:`VARIANTS` random variants of the network's values (inputs, targets, parameters; the
question's ``given`` stays as given), within the question's tolerance. The names' values and
the reference come from one batched solver call each, variant axis first. A formula right at the
exercise's values only has numbers plugged in for names. A wrong formula is diagnosed with the
mistake models (:func:`grader.mistakes.diagnose`, passed in) at the same variants: the mistake it makes is
the one that explains it at (nearly) every variant, which rules out coincidences of one set of
values.

Names evaluate at the state the question starts from: with ``after_epochs`` they are the values
before training (``w6 - 0.5 * (y1 - t1) * y1 * (1 - y1) * o2`` is w6 after one step).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import compare, formula, solver, spec
from .identity import IdentityCache
from .spec import Exercise, Question

VARIANTS = 64  # random variants besides the exercise's own values
DIAGNOSE_POINTS = 8  # a wrong formula is diagnosed at the first 8 variants (the exercise's values first)
AGREE = 0.75  # the share of them that one mistake must explain
MAX_ENTRIES, MAX_TEXT = 10_000, 200_000  # one answer's formulas: parsed only below these
_IDENT = re.compile(r"[^\W\d]\w*")


@dataclass(frozen=True)
class Outcome:
    """How a formula answer fared: ``fraction`` of its entries right, feedback without numbers,
    ``got`` its value at the exercise's values (for error carried forward and --show-expected).
    ``number`` is set instead when the answer holds no names and may be graded as a number."""

    status: str = "invalid"
    fraction: float = 0.0
    feedback: str = ""
    got: Any = None
    number: np.ndarray | None = None
    mistake: str | None = None  # the id of the diagnosed mistake model


# ---------------------------------------------------------------------------- names and values
def formula_names(ex: Exercise) -> dict[str, tuple[str, Any]]:
    """The names a formula may use: ``name -> ("ref", Ref)`` for neurons, pre-activations and scalar
    parameters, ``("t", k)`` for the target of output neuron k (``t1``… and ``y1_target``)."""
    out: dict[str, tuple[str, Any]] = {}
    for name, ref in ex.names.items():
        scalar = ref.kind in ("a", "z") or (ref.kind == "param" and ex.parameters[name].shape == ())
        if scalar and _IDENT.fullmatch(name):
            out[name] = ("ref", ref)
    outputs = ex.neurons[ex.net.L] if ex.neurons else ()
    for k, neuron in enumerate(outputs):
        for alias in (f"t{k + 1}", f"{neuron}_target"):
            if alias not in ex.names and alias not in out:
                out[alias] = ("t", k)
    return out


_CACHE = IdentityCache()


def _cached(key: tuple[Any, ...], ex: Exercise, make: Any) -> Any:
    """One value per exercise object and key: a class's answers to one exercise share the
    variants, names' values and references."""
    return _CACHE.value((id(ex), *key), (ex,), make)


def _seed(ex: Exercise) -> int:
    return int.from_bytes(hashlib.sha256(f"formula-variants\0{ex.id}".encode()).digest()[:8], "little")


def variant_values(ex: Exercise, V: int = VARIANTS) -> solver.Values:
    """The exercise's values ([0]) and V random variants: each parameter (all its tied uses
    together) and input moved by a random factor in [0.5, 1.5] and a shift in ±0.1; targets that
    are probabilities drawn within ±0.15 of their own, inside (0, 1) (keeping their column sums
    for cross-entropy).
    Reproducible: seeded by the exercise id."""
    rng = np.random.default_rng(_seed(ex))
    base = solver.Values.of(ex, V + 1)
    W, b = [w.copy() for w in base.W], [c.copy() for c in base.b]

    def moved(v: np.ndarray) -> np.ndarray:
        shape = (V,) + np.shape(v)
        return v * rng.uniform(0.5, 1.5, shape) + rng.uniform(-0.1, 0.1, shape)

    for p in ex.parameters.values():
        kind, l, idx = p.uses[0]
        if p.shape == ():
            new = moved(np.asarray((ex.W[l - 1] if kind == "W" else ex.b[l - 1])[idx]))
            for kind, l, idx in p.uses:
                (W if kind == "W" else b)[l - 1][(slice(1, None), *idx)] = new
        else:
            arr = W if kind == "W" else b
            arr[l - 1][1:] = moved(np.asarray(arr[l - 1][0]))
    x = base.x.copy()
    x[1:] = moved(ex.x)
    t = base.t.copy()
    t0 = np.asarray(ex.t, dtype=float)
    if np.all((t0 >= 0) & (t0 <= 1)):  # probabilities: drawn within (0, 1) around the exercise's
        t[1:] = rng.uniform(np.maximum(t0 - 0.15, 0.01), np.minimum(t0 + 0.15, 0.99), (V,) + t0.shape)
        if ex.net.loss == "cross_entropy":
            t[1:] *= t0.sum(axis=0) / t[1:].sum(axis=1, keepdims=True)
    else:
        t[1:] = moved(t0)
    return solver.Values(tuple(W), tuple(b), x, t)


def name_values(ex: Exercise, q: Question, values: solver.Values) -> dict[str, np.ndarray]:
    """Every formula name's value at every variant, at the state ``q`` starts from: (V,), or
    (V, S) for a per-sample name when the question has several samples."""
    s = solver._given(ex, solver._State.of(values), q.given)
    if q.sample is not None:
        k = q.sample
        s = solver._State(s.W, s.b, s.x[:, k:k + 1], s.t[:, k:k + 1])
    one = q.sample is not None or not ex.has_samples
    out = {}
    with np.errstate(all="ignore"):
        fwd = solver.forward(ex.net, s.W, s.b, s.x)
        for name, (kind, what) in formula_names(ex).items():
            arr = solver.value_of(ex, s, fwd, what) if kind == "ref" else s.t[what]
            arr = np.moveaxis(np.asarray(arr, dtype=float), -1, 0)
            out[name] = arr[:, 0] if arr.ndim == 2 and one else arr
    return out


def reference(ex: Exercise, q: Question, values: solver.Values) -> np.ndarray:
    """The question's answer at every variant, one batched solver call: (V, *shape)."""
    return solver.solve(dataclasses.replace(ex, questions=(q,)), values)[q.id]


# ---------------------------------------------------------------------------- reading the answer
def _leaves(value: Any, index: tuple[int, ...] = (), depth: int = 0) -> list[tuple[tuple[int, ...], Any]]:
    if isinstance(value, list):
        if depth >= 8 or not value:
            raise formula.FormulaError("lists are nested too deeply" if value else "an empty list")
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, index + (i,), depth + 1)]
    return [(index, value)]


def _where(index: tuple[int, ...]) -> str:
    return f"entry {''.join(f'[{i}]' for i in index)}: " if index else ""


def _read(ex: Exercise, value: Any) -> tuple[list[tuple[tuple[int, ...], Any]], tuple[int, ...]]:
    """The parsed tree of every entry, with the names resolved, and the entries' layout."""
    leaves = _leaves(value)
    text = sum(len(v) for _, v in leaves if isinstance(v, str))
    if len(leaves) > MAX_ENTRIES or (len(leaves) > 1 and text > MAX_TEXT):
        raise formula.FormulaError(f"too large: at most {MAX_ENTRIES:,} entries and {MAX_TEXT:,} characters of "
                                   "formulas in one answer")
    known = formula_names(ex)
    trees = []
    for index, leaf in leaves:
        where = _where(index)
        if isinstance(leaf, str) and formula.is_formula(leaf):
            try:
                tree = formula.parse(leaf)
            except formula.FormulaError as exc:
                raise formula.FormulaError(f"{where}{exc}") from None
        else:
            try:
                tree = formula.Num(compare.parse_number(leaf))
            except ValueError as exc:
                raise formula.FormulaError(f"{where}{exc}") from None
        trees.append((index, _resolve(ex, tree, known, where)))
    shape = tuple(max(i[k] for i, _ in leaves) + 1 for k in range(len(leaves[0][0])))
    if len({len(i) for i, _ in leaves}) > 1 or len(leaves) != int(np.prod(shape, dtype=int)):
        raise formula.FormulaError("the rows of the matrix have different lengths")
    return trees, shape


def _resolve(ex: Exercise, tree: Any, known: dict[str, Any], where: str) -> Any:
    """The tree with every name in its exact spelling (``w₆``, ``w_6`` are w6); unknown names fail."""
    def walk(node: Any) -> Any:
        if isinstance(node, formula.Name):
            if node.name in known:
                return node
            ref = spec.lookup(ex.names, node.name)
            if ref is not None and ref.name in known:
                return formula.Name(ref.name, node.pos)
            choices = sorted(known)
            shown = ", ".join(choices[:12]) + (", …" if len(choices) > 12 else "")
            raise formula.FormulaError(f"{where}unknown name {node.name!r} at position {node.pos + 1}"
                                       f"{spec.did_you_mean(node.name, choices)} (the names of this exercise "
                                       f"are {shown})")
        if isinstance(node, formula.Neg):
            return formula.Neg(walk(node.x))
        if isinstance(node, formula.Bin):
            return formula.Bin(node.op, walk(node.left), walk(node.right))
        if isinstance(node, formula.Call):
            return formula.Call(node.fn, walk(node.arg))
        return node
    return walk(tree)


def _squeeze(arr: np.ndarray) -> np.ndarray:
    """Singleton axes dropped, the variant axis kept (as answers are compared)."""
    return np.squeeze(arr, axis=tuple(i for i in range(1, arr.ndim) if arr.shape[i] == 1))


# ---------------------------------------------------------------------------- grading
def check(ex: Exercise, q: Question, value: Any, diagnose: Any = None) -> Outcome:
    """Grade a formula answer (a string, or a nested list of strings and numbers) to ``q``; a
    ``diagnose(ex, q, got)`` (:func:`grader.mistakes.diagnose`) names the mistake of a wrong one."""
    try:
        trees, layout = _read(ex, value)
    except formula.FormulaError as exc:
        return Outcome(feedback=f"invalid answer: the string is not a number, and not a formula: {exc}")
    except RecursionError:
        return Outcome(feedback="invalid answer: the formula is nested too deeply")
    has_names = any(formula.names(t) for _, t in trees)
    if q.answer == "number" and has_names:
        return Outcome(feedback="this question asks for a number, not a formula")
    values = _cached(("values",), ex, lambda: variant_values(ex))
    V = values.V
    env = _cached(("names", json.dumps(q.given), q.sample), ex, lambda: name_values(ex, q, values)) \
        if has_names else {}
    parts = [formula.evaluate(t, env, V) for _, t in trees]
    tail = max((p.shape[1:] for p in parts), key=len)
    got = np.stack([np.broadcast_to(p.reshape(p.shape + (1,) * (len(tail) + 1 - p.ndim)), (V,) + tail)
                    for p in parts], axis=1).reshape((V,) + layout + tail)
    got = _squeeze(got)
    if not has_names and q.answer != "formula":
        return Outcome(number=got[0])
    ref = _squeeze(_cached(("reference", q.id), ex, lambda: reference(ex, q, values)))
    if got.shape != ref.shape:
        samples = ex.has_samples and q.sample is None
        return Outcome(status="wrong", feedback=_shape_message(got.shape[1:], ref.shape[1:], samples))
    if not np.all(np.isfinite(got[0])):
        return Outcome(feedback="the formula is not a finite number at the exercise's values (a division by "
                       "zero, the log of a number ≤ 0, or an overflow)", got=solver.to_plain(np.nan_to_num(got[0])))
    tol = q.tolerance
    with np.errstate(all="ignore"):
        ok = compare.within(np.nan_to_num(got, nan=np.inf), ref, tol)
    usable = np.all(np.isfinite(ref.reshape(V, -1)), axis=1)  # variants where the reference is a number
    at_exercise = ok[0]
    # a formula is checked at other values only where enough of them give a reference at all
    everywhere = at_exercise & ok[1:][usable[1:]].all(axis=0) if usable[1:].sum() >= VARIANTS // 2 else \
        np.zeros_like(at_exercise)
    fraction = float(np.mean(everywhere))
    plain = solver.to_plain(got[0])
    if not has_names:
        where = "right at the exercise's values" if at_exercise.all() else "and not the answer at the exercise's values"
        return Outcome(status="wrong", got=plain, feedback=(
            f"a number, not a formula ({where}): this question asks for the formula in the exercise's names "
            f"({', '.join(_example_names(ex))}, …), which must hold for any values of the network"))
    if fraction == 1.0:
        return Outcome(status="passed", fraction=1.0, got=plain)
    n_other = int(usable[1:].sum())
    wrong_at = ~ok.reshape(V, -1).all(axis=1) & usable
    mistake = _diagnose(diagnose, ex, q, got, values, wrong_at) if diagnose is not None else None
    if at_exercise.all():
        feedback = f"right at the exercise's values only, not at {n_other} other values of the network"
        if mistake is None:
            feedback += (": numbers seem to be plugged in where the formula needs names (a formula holds for any "
                         "inputs, targets and parameters; only the values of 'given' may be written as numbers)")
    elif everywhere.ndim == 0:
        feedback = f"the formula does not give the answer (checked at the exercise's values and {n_other} others)"
    else:
        bad = ["".join(f"[{int(i)}]" for i in idx) for idx in np.argwhere(~everywhere)[:6]]
        feedback = (f"{int(everywhere.sum())} of {everywhere.size} entries right at the exercise's values and "
                    f"{n_other} others; check {', '.join(bad)}")
    if mistake is not None:
        feedback += f". Step: {mistake.step}"
    status = "partial" if fraction > 0 else "wrong"
    return Outcome(status=status, fraction=fraction, feedback=feedback, got=plain,
                   mistake=mistake.id if mistake is not None else None)


def _shape_message(got: tuple[int, ...], want: tuple[int, ...], samples: bool) -> str:
    if samples and got[:-1] == want and got:
        return ("the formula gives one value per sample; this answer sums over the samples: "
                "write sum(...) around the per-sample terms")
    if samples and want[:-1] == got and want:
        return "the formula gives one value for all samples; this question asks for one value per sample"
    words = compare._shape_words
    return f"wrong shape: expected {words(want)}, the formula gives {words(got)}"


def _example_names(ex: Exercise) -> list[str]:
    names = formula_names(ex)
    outputs = [n for n, (kind, ref) in names.items() if kind == "ref" and ref.kind == "a" and ref.layer == ex.net.L]
    targets = [n for n, (kind, _) in names.items() if kind == "t" and n.startswith("t")]
    params = [n for n, (kind, ref) in names.items() if kind == "ref" and ref.kind == "param"]
    return (outputs[:1] + targets[:1] + params[:1]) or sorted(names)[:3]


def _diagnose(diagnose: Any, ex: Exercise, q: Question, got: np.ndarray, values: solver.Values,
              wrong_at: np.ndarray) -> Any:
    """The mistake model that explains a wrong formula at nearly every variant where it is wrong
    (:data:`AGREE` of them), among the first :data:`DIAGNOSE_POINTS` (the exercise's values
    first), or None: ``diagnose(ex, q, got, values=..., agree=...)`` at all of them in one call."""
    if q.after_epochs > 1:  # no formula describes many epochs; the search would train at every point
        return None
    n = DIAGNOSE_POINTS
    if not wrong_at[:n].any():
        return None
    points = _cached(("diagnose-points",), ex, lambda: solver.Values(
        tuple(w[:n] for w in values.W), tuple(c[:n] for c in values.b), values.x[:n], values.t[:n]))
    return diagnose(ex, q, got[:n], values=points, agree=AGREE)
