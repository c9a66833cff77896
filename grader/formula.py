r"""Formula answers: a chain-rule formula in the exercise's own names, parsed and evaluated safely.

A typed answer may be a formula such as ``"(y1 - t1) * y1 * (1 - y1) * o2"``. The grammar::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("-" | "+") unary | power
    power  := atom ("**" unary)?            # right-associative; -x**2 is -(x**2), as in Python
    atom   := NUMBER | NAME | FUNC "(" expr ")" | "(" expr ")"
    FUNC   := exp | log | sigmoid | tanh | sum

``^`` is read as ``**``, ``·``, ``×`` and ``⋅`` as ``*``, ``÷`` as ``/`` and the Unicode minus as
``-``. Names are the exercise's neurons (inputs included), pre-activations and scalar
parameters, and the targets as ``t1``, ``t2``… (by output neuron, in order) or ``y1_target``.
``sum`` adds over samples. The parser is this module's own recursive descent: nothing is
evaluated by Python, there are no attributes, subscripts or other functions, and a formula longer
than :data:`MAX_LENGTH` characters, nested deeper than :data:`MAX_DEPTH` or with more than
:data:`MAX_NODES` parts is refused before any work. Values are float64 arrays with a leading
variant axis, so one evaluation checks a formula at every variant of the network's values.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_NODES = 500
FUNCTIONS = ("exp", "log", "sigmoid", "tanh", "sum")

_ALIASES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u00b7": "*", "\u00d7": "*", "\u22c5": "*",
                          "\u2217": "*", "\u00f7": "/", "^": "\x00"})  # \x00: placeholder for **
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\*\*|\x00|[-+*/(),])
""", re.VERBOSE)


class FormulaError(ValueError):
    """A formula that cannot be read: the message names the position (1-based) and the problem."""


# ---------------------------------------------------------------------------- the tree
@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Name:
    name: str
    pos: int = 0


@dataclass(frozen=True)
class Neg:
    x: Any


@dataclass(frozen=True)
class Bin:
    op: str  # + - * / **
    left: Any
    right: Any


@dataclass(frozen=True)
class Call:
    fn: str
    arg: Any


_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4}


def names(node: Any) -> set[str]:
    """Every name a tree uses."""
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Neg):
        return names(node.x)
    if isinstance(node, Bin):
        return names(node.left) | names(node.right)
    if isinstance(node, Call):
        return names(node.arg)
    return set()


def _num(value: float) -> str:
    text = format(value, ".12g")
    return text if value >= 0 else f"({text})"


def to_text(node: Any, parent: int = 0, right: bool = False) -> str:
    """The formula in the grammar, with the parentheses it needs and no others."""
    if isinstance(node, Num):
        return _num(node.value)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Call):
        return f"{node.fn}({to_text(node.arg)})"
    if isinstance(node, Neg):
        text, prec = "-" + to_text(node.x, _PREC["neg"]), _PREC["neg"]
    else:
        prec = _PREC[node.op]
        if node.op == "**":  # right-associative: the left side needs parentheses at equal precedence
            text = f"{to_text(node.left, prec + 1)} ** {to_text(node.right, prec)}"
        else:
            text = f"{to_text(node.left, prec)} {node.op} {to_text(node.right, prec, right=True)}"
    needs = prec < parent or (right and prec == parent and parent in (1, 2))
    return f"({text})" if needs else text


# ---------------------------------------------------------------------------- parsing
def _context(text: str, pos: int) -> str:
    lo = max(0, pos - 12)
    return ("…" if lo else "") + text[lo:pos + 12] + ("…" if pos + 12 < len(text) else "")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = " (attributes and subscripts are not part of a formula)" if ch in ".[]{}" else ""
            raise FormulaError(f"unexpected {ch!r} at position {pos + 1}{hint}: {_context(text, pos)!r}")
        kind = m.lastgroup
        if kind != "space":
            value = m.group()
            out.append((kind, "**" if value == "\x00" else value, pos))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: tuple[str, str, int], expected: str) -> FormulaError:
        kind, value, pos = tok
        found = "the end of the formula" if kind == "end" else repr(value)
        return FormulaError(f"syntax error at position {pos + 1}: expected {expected}, found {found}: "
                            f"{_context(self.text, pos)!r}")

    def node(self, n: Any) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FormulaError(f"the formula has more than {MAX_NODES} parts")
        return n

    def parse(self) -> Any:
        tree = self.expr()
        if self.peek()[0] != "end":
            raise self.fail(self.peek(), "an operator (+ - * / **) or the end")
        return tree

    def expr(self) -> Any:
        left = self.term()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = self.take()[1]
            left = self.node(Bin(op, left, self.term()))
        return left

    def term(self) -> Any:
        left = self.unary()
        while self.peek()[1] in ("*", "/") and self.peek()[0] == "op":
            op = self.take()[1]
            left = self.node(Bin(op, left, self.unary()))
        return left

    def nest(self, tok: tuple[str, str, int]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"the formula is nested too deeply at position {tok[2] + 1} "
                               f"(at most {MAX_DEPTH} levels)")

    def unary(self) -> Any:
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("-", "+"):
            self.take()
            self.nest(tok)
            x = self.unary()
            self.depth -= 1
            return self.node(Neg(x)) if tok[1] == "-" else x
        return self.power()

    def power(self) -> Any:
        base = self.atom()
        if self.peek()[1] == "**":
            tok = self.take()
            self.nest(tok)
            exponent = self.unary()
            self.depth -= 1
            return self.node(Bin("**", base, exponent))
        return base

    def atom(self) -> Any:
        tok = self.take()
        kind, value, pos = tok
        if kind == "number":
            number = float(value)
            if not math.isfinite(number):
                raise FormulaError(f"the number at position {pos + 1} is too large")
            return self.node(Num(number))
        if kind == "name":
            if self.peek()[1] == "(":
                if value not in FUNCTIONS:
                    raise FormulaError(
                        f"{value!r} at position {pos + 1} is not a function of formulas (they are "
                        f"{', '.join(FUNCTIONS)}); a product is written with *, as in y1 * (1 - y1)")
                self.nest(self.take())
                arg = self.expr()
                if self.peek()[1] == ",":
                    raise FormulaError(f"{value}() at position {pos + 1} takes one argument")
                if self.take()[1] != ")":
                    raise self.fail(self.toks[self.i - 1], "')'")
                self.depth -= 1
                return self.node(Call(value, arg))
            if value in FUNCTIONS:
                raise FormulaError(f"{value} at position {pos + 1} is a function: write {value}(...)")
            return self.node(Name(value, pos))
        if value == "(":
            self.nest(tok)
            inner = self.expr()
            if self.peek()[1] != ")":
                raise self.fail(self.peek(), "')'")
            self.take()
            self.depth -= 1
            return inner
        raise self.fail(tok, "a number, a name or '('")


def parse(text: str) -> Any:
    """The tree of a formula; :class:`FormulaError` says what is wrong and where."""
    if not isinstance(text, str):
        raise FormulaError("a formula is a string")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is too long ({len(text):,} characters; at most {MAX_LENGTH:,})")
    text = text.translate(_ALIASES)
    if not text.strip():
        raise FormulaError("the formula is empty")
    return _Parser(text).parse()


def applies(answer: str, value: Any) -> bool:
    """Whether a typed answer goes through formula grading: a formula, or any answer to a question
    whose ``answer`` is ``"formula"``."""
    return answer == "formula" or is_formula(value)


def is_formula(value: Any) -> bool:
    """Whether a typed answer is meant as a formula: a string (or a list holding strings) that is not
    just a number."""
    if isinstance(value, list):
        return any(is_formula(v) for v in value)
    if not isinstance(value, str):
        return False
    try:
        float(value.strip().translate(_ALIASES).replace("\x00", ""))
    except ValueError:
        return True
    return False


# ---------------------------------------------------------------------------- evaluation
def _align(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-variant (V,) against per-sample (V, S): the variant axis leads, samples follow."""
    if np.ndim(a) == 1 and np.ndim(b) == 2:
        a = a[:, None]
    elif np.ndim(b) == 1 and np.ndim(a) == 2:
        b = b[:, None]
    return a, b


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


_FN = {"exp": np.exp, "log": np.log, "sigmoid": _sigmoid, "tanh": np.tanh}


def evaluate(node: Any, env: dict[str, np.ndarray], V: int) -> np.ndarray:
    """The formula's value at every variant: (V,) or (V, S) where it depends on samples.

    ``env`` maps each name to (V,) or (V, S). Overflows and domain errors give inf/NaN, not
    warnings; the caller decides what a non-finite value means.
    """
    with np.errstate(all="ignore"):
        arr = np.asarray(_eval(node, env), dtype=float)
    return np.full((V,), float(arr)) if arr.ndim == 0 else arr


def _eval(node: Any, env: dict[str, np.ndarray]) -> Any:
    if isinstance(node, Num):
        return np.float64(node.value)  # numpy scalars: 1/0 is inf, never ZeroDivisionError
    if isinstance(node, Name):
        return env[node.name]
    if isinstance(node, Neg):
        return -_eval(node.x, env)
    if isinstance(node, Call):
        x = _eval(node.arg, env)
        if node.fn == "sum":
            return x.sum(axis=1) if np.ndim(x) == 2 else x
        return _FN[node.fn](np.asarray(x, dtype=float))
    a, b = _align(_eval(node.left, env), _eval(node.right, env))
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    if node.op == "/":
        return a / b
    return a ** b


# ---------------------------------------------------------------------------- building (the key)
ZERO, ONE = Num(0.0), Num(1.0)


def add(*terms: Any) -> Any:
    """A sum without its zero terms."""
    kept = [t for t in terms if t != ZERO]
    if not kept:
        return ZERO
    out = kept[0]
    for t in kept[1:]:
        out = Bin("-", out, t.x) if isinstance(t, Neg) else Bin("+", out, t)
    return out


def mul(*factors: Any) -> Any:
    """A product without its factors of one; zero when a factor is zero."""
    if any(f == ZERO for f in factors):
        return ZERO
    kept = [f for f in factors if f != ONE]
    if not kept:
        return ONE
    out = kept[0]
    for f in kept[1:]:
        out = Bin("*", out, f)
    return out


def sub(a: Any, b: Any) -> Any:
    return a if b == ZERO else Bin("-", a, b)
