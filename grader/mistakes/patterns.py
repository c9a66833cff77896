r"""Failure patterns: what the cases a function fails have in common, and shape errors in one line.

Code that passes the exercise's own 2-2-2 case but fails other sizes has an assumption of that
case built in: the number of samples, one output neuron, square weight matrices, or the
exercise's sizes themselves. Which it is follows from the sizes of the cases that pass and fail.
A broadcasting or matrix-product error names shapes; each is matched to the arguments and
intermediate values of the case that have it (W2ᵀ, δ2, x …), or to the exercise's own case when
only that has it (a hard-coded size). Messages name sizes and arguments, never values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..spec import Case, Function


def _sizes(case: Case) -> tuple[tuple[int, ...], int]:
    given = dict(case.inputs)
    S = int(np.shape(given["x"])[1]) if "x" in given else 1
    return tuple(case.net.sizes), S


def _size_words(case: Case) -> str:
    sizes, S = _sizes(case)
    return f"the {'-'.join(map(str, sizes))} network with {S} sample{'s' * (S != 1)}"


def hard_coded(fn: Function, cases: Sequence[Case], passed: Sequence[bool]) -> str | None:
    """The assumption that separates the cases that pass from those that fail, or None.

    Only when the exercise's own case passes and some other case fails."""
    if fn.activation is not None or not cases or not any(passed) or all(passed):
        return None
    ex = next((c for c, p in zip(cases, passed, strict=True) if c.id == "exercise" and p), None)
    if ex is None:
        return None
    ex_sizes, ex_S = _sizes(ex)
    info = [(_sizes(c), p) for c, p in zip(cases, passed, strict=True)]
    tests = [
        (lambda s, S: S == ex_S,
         f"the number of samples: it passes with {ex_S} sample{'s' * (ex_S != 1)} (the exercise's), fails with other "
         "numbers; take it from x.shape[1] and sum over the samples with matrix products"),
        (lambda s, S: s[-1] == 1,
         "one output neuron: it passes where the network has one output, fails with several; an elementwise * "
         "where a matrix product @ belongs gives the same numbers only for one output"),
        (lambda s, S: all(s[l] == s[l - 1] for l in range(1, len(s))),
         "square weight matrices: it passes where every layer has as many neurons as the one before, fails "
         "otherwise; check which side of each product a transpose belongs on"),
        (lambda s, S: s == ex_sizes,
         f"the exercise's sizes ({'-'.join(map(str, ex_sizes))}): take every size from the arguments' shapes"),
    ]
    for holds, words in tests:
        if all(holds(s, S) == p for (s, S), p in info):
            return f"your code seems to assume {words}"
    return None


_SHAPE = re.compile(r"\((\d+(?:\s*,\s*\d+)*)\s*,?\s*\)")


def _named_shapes(case: Case) -> dict[tuple[int, ...], list[str]]:
    """Every shape the case's arguments and intermediate values have, with their names."""
    sizes, S = _sizes(case)
    L = len(sizes) - 1
    names: dict[tuple[int, ...], list[str]] = {}

    def add(shape: tuple[int, ...], name: str) -> None:
        names.setdefault(shape, []).append(name)
    add((sizes[0], S), "x")
    add((S, sizes[0]), "xᵀ")
    add((sizes[L], S), "t")
    for l in range(1, L + 1):
        add((sizes[l], sizes[l - 1]), f"W{l}")
        add((sizes[l - 1], sizes[l]), f"W{l}ᵀ")
        add((sizes[l], 1), f"b{l}")
        add((sizes[l], S), f"a{l}, z{l}, δ{l}")
        add((S, sizes[l]), f"a{l}ᵀ")
    return names


def shape_error(case: Case, exercise: Case | None, message: str) -> str | None:
    """One line for a broadcasting or matrix-product error on ``case``: which values' shapes met,
    and which shape belongs to the exercise's own case only (a hard-coded size); else None."""
    last = message.strip().splitlines()[-1] if message.strip() else ""
    broadcast = "could not be broadcast" in last
    product = "not aligned" in last or "mismatch in its core dimension" in last
    if not broadcast and not product:
        return None
    sizes = re.search(r"size (\d+) is different from (\d+)", last)
    if sizes and product:  # matmul names the two inner sizes only
        a, b = sizes.groups()
        return (f"on {_size_words(case)}, a matrix product (@) met inner sizes {a} and {b}, which must agree: "
                "check the order of the operands and the transposes (or an elementwise * just before it)")
    shapes = [tuple(int(v) for v in m.group(1).split(",")) for m in _SHAPE.finditer(last)]
    shapes = [s for s in shapes if len(s) == 2][:3]
    here = _named_shapes(case)
    theirs = _named_shapes(exercise) if exercise is not None else {}
    parts, hard = [], []
    for s in shapes:
        shown = f"({s[0]}, {s[1]})"
        if s in here:
            parts.append(f"{shown} ({'; '.join(here[s][:3])})")
        elif s in theirs:
            parts.append(f"{shown}")
            hard.append(f"{shown} is the shape of {theirs[s][0]} in the exercise's own case")
        else:
            parts.append(shown)
    what = ("an elementwise product (*) needs equal shapes or broadcastable ones: a matrix product (@) may belong here"
            if broadcast else "a matrix product (@) needs the inner sizes to agree: check the order and the transposes")
    line = f"on {_size_words(case)}, NumPy could not combine {' with '.join(parts) or 'two arrays'}: {what}"
    if hard:
        line += f"; {hard[0]}: the code seems to hard-code it, take sizes from the arguments"
    return line
