"""LaTeX pieces: names, numbers, matrices, fractions, and small text helpers."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..spec import Ref
from .doc import Span

DIGITS = 6  # significant figures of the numbers inside a derivation
FINAL = 10  # significant figures of a result (as the answer key prints them)
MAX_TERMS = 8  # a sum with more terms is written with Σ
MAX_SHOWN = 8  # matrices with more rows or columns are shown with ⋯ and ⋮
MAX_NEURONS = 24  # the forward pass is listed neuron by neuron up to this many neurons


# ---------------------------------------------------------------------------- LaTeX pieces
_TEX_SPECIAL = {"_": r"\_", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&",
                "\\": r"\backslash ", "^": r"\wedge ", "~": r"\sim "}


def _rm(text: str) -> str:
    return r"\mathrm{" + "".join(_TEX_SPECIAL.get(ch, ch) for ch in text) + "}"


def _base(text: str) -> str:
    return text if len(text) == 1 else _rm(text)


def tex_name(name: str) -> str:
    """A name as LaTeX: ``w6`` -> ``w_{6}``, ``W(1)`` -> ``W^{(1)}``, ``E_total`` -> ``E``."""
    if name in ("E", "E_total"):
        return "E"
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    if m:
        return f"{_base(m[1])}_{{{m[2]}}}"
    m = re.fullmatch(r"([A-Za-z]+)\((\d+)\)", name)
    if m:
        return f"{_base(m[1])}^{{({m[2]})}}"
    if re.fullmatch(r"[A-Za-z]|\d+", name):
        return name
    m = re.fullmatch(r"([A-Za-z]+\d*)_([A-Za-z0-9][A-Za-z0-9_]*)", name)
    if m:  # net_o1 -> net with subscript o_1; h1_2 -> h1 with subscript 2
        return f"{_base(m[1])}_{{{tex_name(m[2])}}}"
    return _rm(name)


def _sup(symbol: str, sup: str) -> str:
    """``symbol`` with a superscript, adding to one it already ends with (``W^{(2)\\top}``)."""
    m = re.fullmatch(r"(.*)\^\{([^{}]*)\}", symbol)
    if m and "^" not in m[1]:
        return f"{m[1]}^{{{m[2]}{sup}}}"
    if "^" in symbol:
        return f"{{{symbol}}}^{{{sup}}}"
    return f"{symbol}^{{{sup}}}"  # y_{1}^{\\text{target}}: a subscript and a superscript


def _sub(symbol: str, sub: str) -> str:
    if "_" in symbol and not re.fullmatch(r"[^_]*\^\{[^{}]*\}", symbol):
        return f"{{{symbol}}}_{{{sub}}}"
    return f"{symbol}_{{{sub}}}"


def transpose(symbol: str) -> str:
    return _sup(symbol, r"\top")


def square(symbol: str) -> str:
    return _sup(symbol, "2")


def num(x: Any, digits: int = DIGITS) -> str:
    """One number as LaTeX, with ``digits`` significant figures (``4.4 \\times 10^{-4}``)."""
    v = float(x)
    if v == 0:
        return "0"
    if not math.isfinite(v):
        return r"\text{NaN}" if math.isnan(v) else (r"\infty" if v > 0 else r"-\infty")
    s = format(v, f".{digits}g")
    if "e" in s:
        mant, exp = s.split("e")
        return f"{mant} \\times 10^{{{int(exp)}}}"
    return s


def pnum(x: Any, digits: int = DIGITS) -> str:
    """A number ready to be a factor: negative or scientific numbers in parentheses."""
    s = num(x, digits)
    return f"({s})" if s.startswith("-") or "times" in s else s


def _keep(n: int) -> list[int | None]:
    return list(range(n)) if n <= MAX_SHOWN else [*range(MAX_SHOWN - 2), None, n - 1]


def bmatrix(arr: Any, digits: int = DIGITS) -> str:
    """A vector (as a column) or matrix as a ``bmatrix``, large ones cut with ⋯ and ⋮."""
    a = np.asarray(arr, dtype=float)
    if a.ndim == 0:
        return num(a, digits)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim > 2:  # a per-sample matrix: one matrix per sample
        return r",\; ".join(_sub(bmatrix(a[..., s], digits), f"s={s + 1}") for s in range(a.shape[-1]))
    rows = []
    cols = _keep(a.shape[1])
    for r in _keep(a.shape[0]):
        if r is None:
            rows.append(" & ".join(r"\vdots" if c is not None else r"\ddots" for c in cols))
        else:
            rows.append(" & ".join(num(a[r, c], digits) if c is not None else r"\cdots" for c in cols))
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def symbolic_matrix(cells: list[list[str]]) -> str:
    return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(r) for r in cells) + r" \end{bmatrix}"


def dd(top: str, bottom: str) -> str:
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def _act_vec(act: str) -> str:
    return {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\operatorname{relu}", "linear": "",
            "softmax": r"\operatorname{softmax}"}[act]


def _ref_tex(ref: Ref) -> str:
    if ref.kind == "E":
        return "E"
    return tex_name(ref.name)


def _given_tex(value: Any) -> str:
    arr = np.asarray(value, dtype=float)
    return num(arr) if arr.ndim == 0 else bmatrix(arr)


def _join(words: list[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _sep(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for k, s in enumerate(spans):
        if k:
            out.append(", ")
        out.append(s)
    return out
