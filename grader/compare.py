"""Answers and tolerances: parse what a student typed, compare it with the reference.

Nothing a student sends is trusted to be of the type it claims: every value is rebuilt here as
a float64 array from plain JSON data (numbers, numeric strings, nested lists) or rejected with a
message that says why.
"""

from __future__ import annotations

import ast
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import jsonio, safefs
from .identity import IdentityCache
from .errors import AnswersError
from .spec import Case, Function, Question, Tolerance

_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-"})
MAX_ENTRIES = 1_000_000


# ---------------------------------------------------------------------------- answers files
def answers_object(data: Any, source: str) -> tuple[dict[str, Any], str | None]:
    """The answers mapping of an answers document, and the exercise id it names (if any).

    Accepts the key's shape ``{"exercise": ID, "answers": {...}}`` or the bare ``{...}``.
    """
    if not isinstance(data, dict):
        raise AnswersError(f"{source}: (top level): expected an object of answers, got {_type(data)}")
    if "answers" in data and set(data) <= {"answers", "exercise", "student", "name"}:
        answers = data["answers"]
        if not isinstance(answers, dict):
            raise AnswersError(f"{source}: answers: expected an object of answers, got {_type(answers)}")
        exercise = data.get("exercise")
        if exercise is not None and not isinstance(exercise, str):
            raise AnswersError(f"{source}: exercise: expected a string, got {_type(exercise)}")
        return answers, exercise
    return data, None


def read_answers(path: str | Path) -> tuple[dict[str, Any], str | None]:
    """Read an answers file strictly; :class:`AnswersError` names the file and place."""
    try:  # a student's file: never through a link (see safefs)
        data = jsonio.parse_bytes(safefs.read_bytes(path, limit=jsonio.MAX_BYTES))
    except safefs.Refused as exc:
        if exc.reason.startswith("larger than"):
            raise AnswersError(f"{path}: file is larger than {jsonio.MAX_BYTES >> 20} MiB") from None
        raise AnswersError(str(exc)) from None
    except jsonio.StrictJSONError as exc:
        raise AnswersError(f"{path}: {exc}") from None
    except OSError as exc:
        raise AnswersError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return answers_object(data, str(path))


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_number(value: Any) -> float:
    """A finite float from a JSON number or a numeric string ("8.22e-2", "−0.5")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number, got {_type(value)}")
    if isinstance(value, str):
        text = value.strip().translate(_MINUS)
        if len(text) > 100:
            raise ValueError("expected a number, got a long string")
        if "_" in text or " " in text:  # float() would read "1_000" as 1000
            raise ValueError(f"expected a number, got the string {value[:30]!r}")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got the string {value[:30]!r}") from None
    else:
        try:
            number = float(value)
        except OverflowError:
            raise ValueError("the number is too large") from None
    if not math.isfinite(number):
        raise ValueError("the value is not finite (NaN or infinity)")
    return number


def parse_value(value: Any) -> np.ndarray:
    """A float64 array from a number, a numeric string or rectangular nested lists of them."""
    def walk(v: Any, depth: int) -> Any:
        if depth > 8:
            raise ValueError("lists are nested too deeply")
        if isinstance(v, list):
            return [walk(item, depth + 1) for item in v]
        return parse_number(v)

    if isinstance(value, list) and not value:
        raise ValueError("expected a number or a list of numbers, got an empty list")
    plain = walk(value, 0)
    try:
        arr = np.array(plain, dtype=float)
    except ValueError:
        raise ValueError("the rows of the matrix have different lengths") from None
    if arr.size > MAX_ENTRIES:
        raise ValueError("too many numbers")
    if arr.size == 0:
        raise ValueError("expected numbers, got an empty list")
    return arr


# ---------------------------------------------------------------------------- tolerance
def within(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Entrywise: is ``got`` within the tolerance of ``expected``?

    ``relabs``: |got − exp| ≤ atol + rtol·|exp|. ``sigfig`` and ``decimal``: ``got`` is exp
    rounded to ``digits`` significant figures (decimal places) or more (within half a unit of the
    last digit kept), or exp *truncated* to them — so 0.0822 and 0.0821 pass for 0.082167 at 3
    significant figures, 0.0823 and 0.0820 do not. An expected 0 takes |got| ≤ atol.
    """
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if not np.all(np.isfinite(expected)):  # nothing is "close" to an infinite reference
        return np.zeros(np.broadcast(got, expected).shape, dtype=bool)
    if tol.mode == "relabs":
        return np.abs(got - expected) <= tol.atol + tol.rtol * np.abs(expected)
    mag = np.abs(expected)
    if tol.mode == "decimal":
        unit = np.full_like(expected, 10.0 ** (-tol.digits))
    else:
        with np.errstate(divide="ignore"):
            exponent = np.floor(np.log10(np.where(mag > 0, mag, 1.0)))
        unit = 10.0 ** (exponent - tol.digits + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        e, g = expected / unit, got / unit
        # rounded (or given with more correct digits): within half a unit; truncated: exactly that
        ok = (np.abs(g - e) <= 0.5 * (1 + 1e-9)) | (np.abs(g - np.trunc(e)) <= 1e-6)
    if tol.mode == "sigfig":
        ok = np.where(mag > 0, ok, np.abs(got) <= tol.atol)
    return ok


def describe_tolerance(tol: Tolerance) -> str:
    if tol.mode == "relabs":
        return f"relative {tol.rtol:g}" + (f", absolute {tol.atol:g}" if tol.atol > 1e-8 else "")
    if tol.mode == "sigfig":
        return f"{tol.digits} significant figures"
    return f"{tol.digits} decimal places"


def _shape_words(shape: tuple[int, ...]) -> str:
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"a list of {shape[0]}"
    return "a " + " × ".join(map(str, shape)) + " matrix"


def _entry(index: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in index)


def compare(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> tuple[float, str]:
    """The fraction of entries within tolerance and feedback that names no expected value.

    Shapes are compared after squeezing singleton axes (a bias column may be written flat).
    """
    g, e = np.squeeze(got), np.squeeze(expected)
    if g.shape != e.shape:
        return 0.0, f"wrong shape: expected {_shape_words(e.shape)}, got {_shape_words(g.shape)}"
    ok = within(g, e, tol)
    if ok.all():
        return 1.0, ""
    if e.ndim == 0:
        return 0.0, f"not within tolerance ({describe_tolerance(tol)})"
    bad = [_entry(tuple(int(i) for i in idx)) for idx in np.argwhere(~ok)[:6]]
    more = "" if (~ok).sum() <= 6 else ", …"
    return float(ok.mean()), (f"{int(ok.sum())} of {ok.size} entries within tolerance "
                              f"({describe_tolerance(tol)}); check {', '.join(bad)}{more}")


# ---------------------------------------------------------------------------- grading
def question_name(q: Question) -> str:
    extra = []
    if q.given:
        extra.append(", ".join(f"{k} = {v}" for k, v in q.given))
    if q.after_epochs:
        extra.append(f"after {q.after_epochs} epoch{'s' if q.after_epochs != 1 else ''}")
    if q.sample is not None:
        extra.append(f"sample {q.sample}")
    return f"{q.id}: {q.ask}" + (f" ({'; '.join(extra)})" if extra else "")


MISSING = object()


@dataclass(frozen=True)
class Invalid:
    """A typed value that could not even be turned into JSON data (NaN, a set, an object that
    contains itself): its question is ``invalid`` with this reason, the others are graded."""

    reason: str


def first_invalid(value: Any) -> Any:
    """``value``, or the first :class:`Invalid` inside it (a list holding one NaN)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, Invalid):
            return v
        if isinstance(v, list):
            todo.extend(reversed(v))
    return value


# ---------------------------------------------------------------------------- student functions
def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def check_outputs(fn: Function, case: Case, values: tuple[np.ndarray, ...], expected: tuple[np.ndarray, ...],
                  tol: Tolerance, reveal: bool) -> tuple[float, str]:
    """The fraction of ``fn``'s returns that are right on ``case``, and feedback naming the return,
    the entry and (only when ``reveal``) the expected and received numbers. Code shapes must match
    exactly: a bias is a column (h, 1)."""
    labels = fn.labels
    if len(values) != len(expected):
        want = ", ".join(labels)
        return 0.0, f"returned {len(values)} value{'s' * (len(values) != 1)}; expected {len(expected)} ({want})"
    right, notes, oks = 0, [], []
    for label, got, exp in zip(labels, values, expected, strict=True):
        oks.append(False)
        if got.shape != exp.shape:
            notes.append(f"{label} has shape {_fmt_shape(got.shape)}, expected {_fmt_shape(exp.shape)}")
            continue
        ok = within(got, exp, tol)
        if ok.all():
            right += 1
            oks[-1] = True
            continue
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        where = _entry(idx)
        msg = f"{label}: {int((~ok).sum())} of {ok.size} entries wrong, first at {where}"
        if reveal:
            msg += f" (expected {exp[idx]:.10g}, got {got[idx]:.10g})"
        notes.append(msg)
    step = first_wrong_step(fn.returns, oks) if right < len(expected) else ""
    return right / len(expected), "; ".join(notes) + (f". Hint: {step}" if step else "")


@dataclass(frozen=True)
class Expected:
    """The expected returns of many cases laid end to end (made once per exercise), so that
    one pass of array arithmetic finds the cases whose every return is within tolerance."""

    shapes: tuple[tuple[tuple[int, ...], ...], ...]  # per case, the shapes of its returns
    flat: np.ndarray  # every expected entry, case after case
    bound: np.ndarray  # atol + rtol·|expected| of each entry
    starts: np.ndarray  # where each case starts in ``flat``, and where the last one ends


def expected_layout(cases: list[tuple[np.ndarray, ...]], tol: Tolerance) -> Expected | None:
    """The layout of ``cases`` (each case's expected returns) for :func:`all_within`; None when
    the tolerance is not ``relabs`` or an expected value is not a finite float64 array (then
    each case is checked on its own)."""
    if tol.mode != "relabs" or not cases or any(not exp for exp in cases):
        return None
    pieces = [_piece(exp, tol) for exp in cases]
    if any(p is None for p in pieces):
        return None
    flat = np.concatenate([p[0] for p in pieces])
    bound = np.concatenate([p[1] for p in pieces])
    starts = np.concatenate(([0], np.cumsum([p[0].size for p in pieces]))).astype(np.intp)
    for arr in (flat, bound, starts):
        arr.setflags(write=False)
    return Expected(tuple(tuple(e.shape for e in exp) for exp in cases), flat, bound, starts)


_PIECES = IdentityCache(1024)  # one case's expected returns -> (their entries, bounds), or None


def _piece(exp: tuple[np.ndarray, ...], tol: Tolerance) -> tuple[np.ndarray, np.ndarray] | None:
    """One case's entries laid end to end and their bounds (the right-hand side of within()),
    once per tuple of expected returns: a student's variant lays out its own exercise cases,
    and the random cases' returns are the same objects for every student."""
    def make() -> tuple[np.ndarray, np.ndarray] | None:
        if not all(isinstance(e, np.ndarray) and e.dtype == np.float64 and np.all(np.isfinite(e)) for e in exp):
            return None
        flat = np.concatenate([e.ravel() for e in exp])
        return flat, tol.atol + tol.rtol * np.abs(flat)
    return _PIECES.value((id(exp), tol.atol, tol.rtol), (exp,), make)


def all_within(layout: Expected, values: list[tuple | None]) -> list[bool]:
    """Per case of ``layout``: did it return exactly as many arrays of exactly the expected
    shapes, every entry within tolerance? (``None``: the call gave no values.) The same
    entrywise test as :func:`within` (|got − exp| ≤ atol + rtol·|exp|), in one pass over all
    the cases: True is what :func:`check_outputs` would score 1 with no feedback; a False case
    is checked on its own for its feedback."""
    pieces, usable = [], []
    for k, (shapes, vals) in enumerate(zip(layout.shapes, values, strict=True)):
        ok = vals is not None and len(vals) == len(shapes) and all(
            isinstance(v, np.ndarray) and v.shape == shape for v, shape in zip(vals, shapes, strict=True))
        usable.append(ok)
        if ok:
            pieces += [v.ravel() for v in vals]
        else:  # a stand-in of the right length; the case fails anyway
            pieces.append(layout.flat[layout.starts[k]:layout.starts[k + 1]])
    got = np.concatenate(pieces).astype(np.float64, copy=False) if pieces else np.zeros(0)
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~(np.abs(got - layout.flat) <= layout.bound)
    counts = np.concatenate(([0], np.cumsum(bad)))
    wrong = (counts[layout.starts[1:]] - counts[layout.starts[:-1]]).tolist()
    return [ok and w == 0 for ok, w in zip(usable, wrong, strict=True)]


_STEP = {
    "a": "the forward pass of layer {l}: a({l}) = f(W({l}) a({p}) + b({l}))",
    "z": "the forward pass of layer {l}: z({l}) = W({l}) a({p}) + b({l})",
    "delta": "the error signal of layer {l}, δ({l})",
    "dW": "the error signal of layer {l}, δ({l}), or dW({l}) = δ({l}) a({p})ᵀ",
    "db": "the error signal of layer {l}, δ({l}), or db({l}) = Σ over samples of δ({l})",
}


def first_wrong_step(names: tuple[str, ...], right: list[bool]) -> str:
    """Where a mistake shows first, following the computation: forward values from the input
    layer up, gradients from the output layer down (back-propagation order)."""
    order = []
    for name, ok in zip(names, right, strict=True):
        kind = name.rstrip("0123456789")
        if kind in _STEP and name[len(kind):]:
            l = int(name[len(kind):])
            order.append(((0, l) if kind in ("a", "z") else (1, -l), kind, l, ok))
    wrong = sorted(o for o in order if not o[3])
    if not wrong or (len(order) < 2 and not any(o[3] for o in order)):
        return ""
    _, kind, l, _ = wrong[0]
    return "the mistake shows first in " + _STEP[kind].format(l=l, p=l - 1)


_LOOP_KINDS = {ast.For: "for loop", ast.While: "while loop", ast.ListComp: "list comprehension",
               ast.GeneratorExp: "generator expression", ast.DictComp: "dict comprehension",
               ast.SetComp: "set comprehension"}


_Summary = dict[str, tuple[tuple[str, ...], tuple[tuple[str, int, str | None], ...]]]


# Nodes that hold no call and no loop: names, constants, operators, load/store contexts.
_LEAVES = (ast.Name, ast.Constant, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.alias)


def _walk(node: ast.AST) -> list[ast.AST]:
    """``node`` and everything below it in :func:`ast.walk`'s order (breadth first, each node's
    children in the order of its fields) but the :data:`_LEAVES`, without a generator per node
    (about half the nodes of a submission are leaves)."""
    out, k = [node], 0
    while k < len(out):
        here = out[k]
        k += 1
        for name in here._fields:
            value = getattr(here, name, None)
            if isinstance(value, ast.AST):
                if not isinstance(value, _LEAVES):
                    out.append(value)
            elif isinstance(value, list):
                out += [v for v in value if isinstance(v, ast.AST) and not isinstance(v, _LEAVES)]
    return out


@functools.lru_cache(maxsize=4)
def _loop_summary(code: str) -> _Summary:
    """:func:`_tree_summary` of a source, parsed here."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    return _tree_summary(tree)


_LAST: list = [None, None]  # the last tree given and its summary: every function of a submission checks one tree


def _summary_of(tree: ast.Module) -> _Summary:
    if _LAST[0] is not tree:
        _LAST[:] = [tree, _tree_summary(tree)]
    return _LAST[1]


def _tree_summary(tree: ast.Module) -> _Summary:
    """Per top-level function of a source: the names it calls and its loops (kind, line, and for
    ``for _ in range(..., NAME)`` the NAME), each in walk order. One walk of each function serves
    every function checked in that source."""
    out = {}
    for fn in tree.body:
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        calls, loops = [], []
        for node in _walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                calls.append(node.func.id)
            kind = _LOOP_KINDS.get(type(node))
            if kind is None:
                continue
            iters = [node.iter] if isinstance(node, ast.For) else [g.iter for g in getattr(node, "generators", [])]
            if iters and all(isinstance(i, (ast.Tuple, ast.List)) for i in iters):
                continue  # over a fixed handful of arrays (W1, b1, …), not over samples or neurons
            over = None
            if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) \
                    and getattr(node.iter.func, "id", None) == "range" and node.iter.args:
                over = getattr(node.iter.args[-1], "id", None)
            loops.append((kind, node.lineno, over))
        out[fn.name] = (tuple(calls), tuple(loops))  # a later definition replaces an earlier one, as at run time
    return out


def find_loops(code: str, function: str, epochs_arg: str | None = None, tree: ast.Module | None = None) -> list[str]:
    """Python loops inside ``function`` and the submission's functions it calls (``for``,
    ``while``, comprehensions), by line: the sheet asks for vectorised code. A
    ``for _ in range(<epochs_arg>)`` loop (training epochs) is allowed. ``tree``: ``code``
    already parsed (:attr:`grader.submission.Source.tree`)."""
    summary = _loop_summary(code) if tree is None else _summary_of(tree)
    found: list[str] = []
    todo, seen = [function], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in summary:
            continue
        seen.add(name)
        calls, loops = summary[name]
        todo += calls
        for kind, line, over in loops:
            if epochs_arg and name == function and over == epochs_arg:
                continue
            where = "" if name == function else f" (in {name})"
            found.append(f"a {kind} at line {line}{where}")
    return found
