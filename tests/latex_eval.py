"""An evaluator for the numeric LaTeX a worked solution shows, written for the tests alone.

``segments(latex)`` splits a display formula into its equations (at ``\\Rightarrow`` and
``,\\quad``) and each equation at its top-level ``=``; ``evaluate(segment)`` computes a segment
made only of numbers: ``\\cdot``, ``\\odot``, ``\\times 10^{k}``, ``+``, ``-``, ``\\frac``, powers,
``/`` (elementwise), ``^{\\top}``, ``bmatrix`` (juxtaposed matrices multiply), ``\\sum_{s}`` (the sum of the entries),
``\\mathbf{1}`` (a column of ones), ``\\mathbf{1}[v > 0]``, ``\\tanh``, ``\\max(0, v)``, ``\\ln``,
``e^{v}``. Anything with a symbol in it raises :class:`Symbolic` and is not a number to check.
"""

from __future__ import annotations

import re

import numpy as np

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|[0-9]+(?:\.[0-9]+)?|.", re.S)


class Symbolic(ValueError):
    """The segment has a symbol in it: not a plain computation."""


def _tokens(latex: str) -> list[str]:
    return [t for t in _TOKEN.findall(latex) if not t.isspace() and t not in (r"\,", r"\;", r"\!", r"\quad", r"\qquad")]


def _split(toks: list[str], seps: set[str]) -> list[list[str]]:
    out, cur, depth = [], [], 0
    for t in toks:
        if t in ("{", "(", "[", r"\left", r"\begin"):
            depth += t not in (r"\left",)
        if t in ("}", ")", "]", r"\end"):
            depth -= 1
        if depth == 0 and t in seps:
            out.append(cur)
            cur = []
            continue
        cur.append(t)
    out.append(cur)
    return out


def segments(latex: str) -> list[list[list[str]]]:
    """Equations, each as its "="-separated segments (token lists)."""
    toks = _tokens(latex)
    eqs = _split(toks, {r"\Rightarrow"})
    out = []
    for eq in eqs:
        for piece in _split(eq, {","}):
            if piece:
                out.append(_split(piece, {"="}))
    return out


class _Eval:
    def __init__(self, toks: list[str]):
        self.t, self.i = toks, 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> str:
        if self.i >= len(self.t):
            raise Symbolic("unexpected end")
        self.i += 1
        return self.t[self.i - 1]

    def expect(self, tok: str) -> None:
        got = self.take()
        if got != tok:
            raise Symbolic(f"expected {tok}, got {got}")

    def group(self) -> np.ndarray:
        self.expect("{")
        v = self.expr()
        self.expect("}")
        return v

    def run(self) -> np.ndarray:
        if not self.t:
            raise Symbolic("empty")
        v = self.expr()
        if self.peek() is not None:
            raise Symbolic(f"left over {self.peek()}")
        return v

    def expr(self) -> np.ndarray:
        v = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            w = self.term()
            v = v + w if op == "+" else v - w
        return v

    def term(self) -> np.ndarray:
        v = self.unary()
        while True:
            tok = self.peek()
            if tok in (r"\cdot", r"\odot"):
                self.take()
                v = v * self.unary()
            elif tok == "/":  # elementwise division, as the matrix form writes it
                self.take()
                v = v / self.unary()
            elif tok == r"\times" and self.t[self.i + 1:self.i + 2] == ["10"]:
                self.take()
                self.take()
                v = v * 10.0 ** self.power()
            elif tok is not None and tok not in ("+", "-", "}", ")", r"\right", "]", ">", "&", "\\\\", r"\end", ","):
                w = self.unary()
                v = v @ w if np.ndim(v) == 2 and np.ndim(w) == 2 else v * w
            else:
                return v

    def power(self) -> float:
        self.expect("^")
        return float(self.group())

    def unary(self) -> np.ndarray:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.postfix()

    def postfix(self) -> np.ndarray:
        v = self.atom()
        while self.peek() == "^":
            self.take()
            if self.t[self.i:self.i + 3] == ["{", r"\top", "}"]:
                self.i += 3
                v = np.asarray(v).T
            else:
                v = v ** self.group()
        return v

    def atom(self) -> np.ndarray:
        tok = self.take()
        if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", tok):
            return np.array(float(tok))
        if tok == "(":
            v = self.expr()
            self.expect(")")
            return v
        if tok == r"\left":
            opening = self.take()
            v = self.expr()
            self.expect(r"\right")
            closing = self.take()
            if (opening, closing) not in (("(", ")"), ("[", "]")):
                raise Symbolic("fence")
            return v
        if tok == "{":
            v = self.expr()
            self.expect("}")
            return v
        if tok in (r"\frac", r"\tfrac", r"\dfrac"):
            a = self.group()
            return a / self.group()
        if tok == r"\sum":
            self.expect("_")
            self.group_text()
            if self.peek() == "^":
                self.take()
                self.group_text()
            return np.array(np.sum(self.postfix()))
        if tok == r"\mathbf":
            if self.t[self.i:self.i + 3] != ["{", "1", "}"]:
                raise Symbolic("bold")
            self.i += 3
            if self.peek() == "[":
                self.take()
                v = self.expr()
                self.expect(">")
                if float(self.expr()) != 0:
                    raise Symbolic("Iverson")
                self.expect("]")
                return (v > 0).astype(float)
            return np.array(1.0)  # a column of ones: as a factor it sums (handled by "δ 1")
        if tok == r"\tanh":
            return np.tanh(self.atom())
        if tok == r"\ln":
            return np.log(self.postfix())
        if tok == r"\max":
            self.expect("(")
            zero = self.expr()
            self.expect(",")
            v = self.expr()
            self.expect(")")
            return np.maximum(zero, v)
        if tok == "e" and self.peek() == "^":
            self.take()
            return np.exp(self.group())
        if tok == r"\begin":
            env = self.group_text()
            if env != "bmatrix":
                raise Symbolic(env)
            rows, row = [], []
            while True:
                cell = self.expr()
                row.append(float(cell))
                tok = self.take()
                if tok == "&":
                    continue
                rows.append(row)
                row = []
                if tok == r"\end":
                    self.group_text()
                    break
                if tok != "\\\\":
                    raise Symbolic(f"in a matrix: {tok}")
            return np.array(rows)
        raise Symbolic(tok)

    def group_text(self) -> str:
        self.expect("{")
        out, depth = [], 0
        while True:
            tok = self.take()
            if tok == "{":
                depth += 1
            elif tok == "}":
                if depth == 0:
                    return "".join(out)
                depth -= 1
            out.append(tok)


def evaluate(seg: list[str]) -> np.ndarray:
    if any(t in (r"\ldots", r"\cdots", r"\vdots", r"\ddots", r"\text", r"\partial", r"\infty") for t in seg):
        raise Symbolic("not a plain number")
    return np.asarray(_Eval(seg).run(), dtype=float)


def literals(seg: list[str]) -> list[float]:
    return [float(t) for t in seg if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", t)]
