r"""Worked solutions in the chain-rule style of the tutorial sheet, as Markdown and as HTML.

For each question the derivative is written out symbolically from the network's structure, in
the exercise's own names (``z3``, ``o1``, ``w6``; ``E`` is the sheet's :math:`E_{total}`), then
each factor with its number, the product, and the matrix form
(:math:`\delta^{(l)} = \ldots \odot \ldots`, :math:`\partial E/\partial W^{(l)} = \delta^{(l)} a^{(l-1)\top}`).
Values (a neuron, ``E``, a matrix) show their formula with numbers; ``after_epochs`` questions
state the training rule and, for one step, the update itself.

:func:`markdown` gives GitHub/Jupyter Markdown with ``$$`` LaTeX; :func:`html` one self-contained
page whose formulas are converted here to MathML (no script, no network) with the SVG figure
inline. Both are pure and deterministic (numbers always printed the same way), so golden files
compare byte for byte. The numbers come from the exercise's own values with each question's
``given``/``after_epochs``/``sample``, through the solver's forward pass and training; the
backward pass is written out here, factor by factor, and its results equal the answer key.
"""

from __future__ import annotations

import html as _html
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import figure, solver
from .spec import Exercise, Question, Ref

DIGITS = 6  # significant figures of the numbers inside a derivation
FINAL = 10  # significant figures of a result (as the answer key prints them)
MAX_TERMS = 8  # a sum with more terms is written with Σ
MAX_SHOWN = 8  # matrices with more rows or columns are shown with ⋯ and ⋮
MAX_NEURONS = 24  # the forward pass is listed neuron by neuron up to this many neurons


# ---------------------------------------------------------------------------- documents
@dataclass(frozen=True)
class M:
    """Inline math (LaTeX) inside a paragraph."""

    latex: str


@dataclass(frozen=True)
class B:
    """Bold text inside a paragraph."""

    text: str


@dataclass(frozen=True)
class Code:
    """Code text inside a paragraph."""

    text: str


Span = Any  # str | M | B | Code

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>$|#])")


def md_escape(text: str) -> str:
    """Plain text safe in Markdown: no emphasis, links, HTML, math or headings by accident."""
    s = _MD_SPECIAL.sub(r"\\\1", text)
    s = re.sub(r"(?m)^(\s*)([-+=])", r"\1\\\2", s)
    return re.sub(r"(?m)^(\s*\d+)\.(?=\s)", r"\1\\.", s)


class Doc:
    """A small document model that renders to Markdown and to HTML the same way every run."""

    def __init__(self) -> None:
        self.nodes: list[tuple[Any, ...]] = []

    def h(self, level: int, *spans: Span) -> None:
        self.nodes.append(("h", level, spans))

    def p(self, *spans: Span) -> None:
        self.nodes.append(("p", spans))

    def quote(self, *spans: Span) -> None:
        self.nodes.append(("quote", spans))

    def math(self, latex: str) -> None:
        self.nodes.append(("math", latex))

    def items(self, items: list[tuple[Span, ...]]) -> None:
        self.nodes.append(("ul", items))

    def table(self, header: tuple[Span, ...], rows: list[tuple[Span, ...]]) -> None:
        self.nodes.append(("table", header, rows))

    def raw(self, markdown: str, html: str) -> None:
        """Raw content, given for each format (an SVG figure, an image reference)."""
        self.nodes.append(("raw", markdown, html))

    # -- Markdown
    @staticmethod
    def _md_spans(spans: tuple[Span, ...]) -> str:
        out = []
        for s in spans:
            if isinstance(s, M):
                out.append(f"${s.latex.strip()}$")
            elif isinstance(s, B):
                out.append(f"**{md_escape(s.text)}**")
            elif isinstance(s, Code):
                out.append(f"`{s.text}`")
            else:
                out.append(md_escape(s))
        return "".join(out)

    def markdown(self) -> str:
        parts = []
        for node in self.nodes:
            kind = node[0]
            if kind == "h":
                parts.append("#" * node[1] + " " + self._md_spans(node[2]))
            elif kind == "p":
                parts.append(self._md_spans(node[1]))
            elif kind == "quote":
                parts.append("> " + self._md_spans(node[1]).replace("\n", "\n> "))
            elif kind == "math":
                parts.append("$$\n" + node[1] + "\n$$")
            elif kind == "ul":
                parts.append("\n".join("- " + self._md_spans(item) for item in node[1]))
            elif kind == "table":
                header, rows = node[1], node[2]
                cell = lambda s: self._md_spans((s,)) if not isinstance(s, tuple) else self._md_spans(s)
                lines = ["| " + " | ".join(cell(c) for c in header) + " |",
                         "|" + "|".join(" --- " for _ in header) + "|"]
                lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
                parts.append("\n".join(lines))
            elif kind == "raw":
                parts.append(node[1])
        return "\n\n".join(parts) + "\n"

    # -- HTML
    @staticmethod
    def _html_spans(spans: tuple[Span, ...]) -> str:
        out = []
        for s in spans:
            if isinstance(s, M):
                out.append(mathml(s.latex))
            elif isinstance(s, B):
                out.append(f"<strong>{_html.escape(s.text)}</strong>")
            elif isinstance(s, Code):
                out.append(f"<code>{_html.escape(s.text)}</code>")
            else:
                out.append(_html.escape(s))
        return "".join(out)

    def html_body(self) -> str:
        parts = []
        for node in self.nodes:
            kind = node[0]
            if kind == "h":
                parts.append(f"<h{node[1]}>{self._html_spans(node[2])}</h{node[1]}>")
            elif kind == "p":
                parts.append(f"<p>{self._html_spans(node[1])}</p>")
            elif kind == "quote":
                parts.append(f"<blockquote><p>{self._html_spans(node[1])}</p></blockquote>")
            elif kind == "math":
                parts.append(f'<div class="math">{mathml(node[1], display=True)}</div>')
            elif kind == "ul":
                parts.append("<ul>\n" + "\n".join(f"<li>{self._html_spans(i)}</li>" for i in node[1]) + "\n</ul>")
            elif kind == "table":
                header, rows = node[1], node[2]
                cell = lambda s: self._html_spans(s if isinstance(s, tuple) else (s,))
                lines = ["<table>", "<tr>" + "".join(f"<th>{cell(c)}</th>" for c in header) + "</tr>"]
                lines += ["<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows]
                parts.append("\n".join(lines + ["</table>"]))
            elif kind == "raw":
                parts.append(node[2])
        return "\n".join(parts) + "\n"


PAGE_STYLE = """\
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5;
       max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #111827; }
math { font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Math TeX Gyre", math;
       font-size: 1.1em; }
div.math { overflow-x: auto; overflow-y: hidden; margin: 0.6em 0; padding: 0.3em 0; }
figure { margin: 1em 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
blockquote { border-left: 4px solid #d1d5db; margin: 1em 0; padding: 0 1em; color: #374151; }
table { border-collapse: collapse; } td, th { border: 1px solid #d1d5db; padding: 0.2em 0.6em; }
h2 { border-bottom: 1px solid #e5e7eb; padding-bottom: 0.2em; margin-top: 2em; }
"""


def html_page(title: str, body: str) -> str:
    """A self-contained HTML page: inline style, MathML, no scripts and no external references."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_html.escape(title)}</title>\n<style>\n{PAGE_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"{body}</main>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------------------- LaTeX -> MathML
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|[0-9]+(?:\.[0-9]+)?|.", re.S)

_SYMBOLS = {
    r"\partial": ("mi", "∂"), r"\sigma": ("mi", "σ"), r"\delta": ("mi", "δ"), r"\eta": ("mi", "η"),
    r"\theta": ("mi", "θ"), r"\Delta": ("mi", "Δ"), r"\top": ("mi", "⊤"), r"\infty": ("mi", "∞"), r"\ldots": ("mi", "…"),
    r"\cdot": ("mo", "⋅"), r"\odot": ("mo", "⊙"), r"\times": ("mo", "×"), r"\leftarrow": ("mo", "←"),
    r"\Rightarrow": ("mo", "⇒"), r"\approx": ("mo", "≈"), r"\neq": ("mo", "≠"), r"\le": ("mo", "≤"),
    r"\ge": ("mo", "≥"), r"\in": ("mo", "∈"), r"\cdots": ("mo", "⋯"), r"\vdots": ("mo", "⋮"),
    r"\ddots": ("mo", "⋱"), r"\to": ("mo", "→"), r"\sum": ("mo", "∑"), r"\backslash": ("mo", "\\"),
    r"\wedge": ("mo", "^"), r"\sim": ("mo", "~"), r"\{": ("mo", "{"), r"\}": ("mo", "}"),
    r"\_": ("mi", "_"), r"\#": ("mi", "#"), r"\$": ("mi", "$"), r"\%": ("mi", "%"), r"\&": ("mo", "&"),
    r"\ln": ("mi", "ln"), r"\log": ("mi", "log"), r"\exp": ("mi", "exp"), r"\tanh": ("mi", "tanh"),
    r"\max": ("mi", "max"), r"\min": ("mi", "min"),
}
_SPACES = {r"\,": "0.1667em", r"\;": "0.2778em", r"\quad": "1em", r"\qquad": "2em", "~": "0.2778em"}
_FENCES = {"bmatrix": ("[", "]"), "pmatrix": ("(", ")"), "matrix": ("", "")}
_ESCAPED = {r"\backslash": "\\", r"\wedge": "^", r"\sim": "~"}


class _MathML:
    """A strict converter for the LaTeX this module writes; anything else is a ValueError."""

    def __init__(self, latex: str):
        self.src = latex
        self.toks = _TOKEN.findall(latex)
        self.i = 0

    def fail(self, message: str) -> ValueError:
        return ValueError(f"{message} in LaTeX {self.src!r}")

    def peek(self) -> str | None:
        while self.i < len(self.toks) and self.toks[self.i].isspace():
            self.i += 1
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end")
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        got = self.take()
        if got != tok:
            raise self.fail(f"expected {tok!r}, got {got!r}")

    def raw_group(self) -> str:
        """The text of a ``{...}`` argument (``\\text``, ``\\mathrm``), spaces kept."""
        self.expect("{")
        out, depth = [], 0
        while self.i < len(self.toks):
            tok = self.toks[self.i]
            self.i += 1
            if tok == "{":
                depth += 1
            elif tok == "}":
                if depth == 0:
                    return "".join(out)
                depth -= 1
            elif tok.startswith("\\") and len(tok) > 1:
                if tok in _ESCAPED:
                    tok = _ESCAPED[tok]
                elif len(tok) == 2 and not tok[1].isalpha():
                    tok = tok[1]
                else:
                    raise self.fail(f"unsupported command {tok} in a text argument")
            out.append(tok)
        raise self.fail("unbalanced braces")

    def seq(self, stops: tuple[str, ...] = ()) -> list[str]:
        items = []
        while True:
            tok = self.peek()
            if tok is None or tok in stops:
                return items
            if tok == "}":
                raise self.fail("unbalanced '}'")
            items.append(self.scripted())

    def row(self, items: list[str]) -> str:
        return items[0] if len(items) == 1 else "<mrow>" + "".join(items) + "</mrow>"

    def arg(self) -> str:
        if self.peek() == "{":
            self.take()
            items = self.seq(("}",))
            self.expect("}")
            return self.row(items) if items else "<mrow></mrow>"
        return self.atom()

    def scripted(self) -> str:
        base = self.atom() if self.peek() not in ("^", "_") else "<mrow></mrow>"
        sub = sup = None
        while self.peek() in ("^", "_"):
            tok = self.take()
            if tok == "_":
                if sub is not None:
                    raise self.fail("double subscript")
                sub = self.arg()
            else:
                if sup is not None:
                    raise self.fail("double superscript")
                sup = self.arg()
        if sub is not None and sup is not None:
            return f"<msubsup>{base}{sub}{sup}</msubsup>"
        if sub is not None:
            return f"<msub>{base}{sub}</msub>"
        if sup is not None:
            return f"<msup>{base}{sup}</msup>"
        return base

    def fence(self) -> str:
        tok = self.take()
        if tok == ".":
            return ""
        if tok in ("(", ")", "[", "]", "|", r"\{", r"\}"):
            return f'<mo stretchy="true">{_html.escape(tok[-1])}</mo>'
        raise self.fail(f"unsupported delimiter {tok!r}")

    def atom(self) -> str:
        tok = self.take()
        if tok == "{":
            items = self.seq(("}",))
            self.expect("}")
            return "<mrow>" + "".join(items) + "</mrow>"
        if tok in (r"\frac", r"\tfrac", r"\dfrac"):
            return f"<mfrac>{self.arg()}{self.arg()}</mfrac>"
        if tok == r"\text":
            return f"<mtext>{_html.escape(self.raw_group())}</mtext>"
        if tok in (r"\mathrm", r"\operatorname"):
            text = self.raw_group()
            variant = ' mathvariant="normal"' if len(text) == 1 else ""
            return f"<mi{variant}>{_html.escape(text)}</mi>"
        if tok == r"\mathbf":
            text = self.raw_group()
            if text == "1":
                return "<mn>𝟏</mn>"
            return f'<mi mathvariant="bold">{_html.escape(text)}</mi>'
        if tok == r"\left":
            opening = self.fence()
            items = self.seq((r"\right",))
            self.expect(r"\right")
            return "<mrow>" + opening + "".join(items) + self.fence() + "</mrow>"
        if tok == r"\right":
            raise self.fail(r"\right without \left")
        if tok == r"\begin":
            env = self.raw_group()
            if env not in _FENCES:
                raise self.fail(f"unsupported environment {env!r}")
            rows, cells = [], []
            while True:
                cells.append("<mtd>" + "".join(self.seq(("&", r"\\", r"\end"))) + "</mtd>")
                tok = self.take()
                if tok == r"\\":
                    rows.append(cells)
                    cells = []
                elif tok == r"\end":
                    rows.append(cells)
                    if self.raw_group() != env:
                        raise self.fail(f"\\begin{{{env}}} closed by another environment")
                    break
            table = "<mtable>" + "".join("<mtr>" + "".join(r) + "</mtr>" for r in rows) + "</mtable>"
            left, right = _FENCES[env]
            if not left:
                return table
            return f'<mrow><mo stretchy="true">{left}</mo>{table}<mo stretchy="true">{right}</mo></mrow>'
        if tok == r"\end":
            raise self.fail(r"\end without \begin")
        if tok in _SPACES:
            return f'<mspace width="{_SPACES[tok]}"></mspace>'
        if tok == r"\!":
            return ""
        if tok in _SYMBOLS:
            tag, text = _SYMBOLS[tok]
            return f"<{tag}>{_html.escape(text)}</{tag}>"
        if tok.startswith("\\"):
            raise self.fail(f"unsupported command {tok}")
        if tok[0].isdigit():
            return f"<mn>{tok}</mn>"
        if tok.isalpha() or tok.isalnum():
            return f"<mi>{_html.escape(tok)}</mi>"
        if tok == "-":
            return "<mo>−</mo>"
        if tok == "'":
            return "<mo>′</mo>"
        if tok in "()[]|":  # plain delimiters keep their size; \left and \right stretch
            return f'<mo stretchy="false">{tok}</mo>'
        if tok in "+=<>,;:/!.*?":
            return f"<mo>{_html.escape(tok)}</mo>"
        if tok in ("&", "^", "_", "}", "\\", "$", "#", "%"):
            raise self.fail(f"unexpected {tok!r}")
        return f"<mo>{_html.escape(tok)}</mo>"  # other Unicode symbols

    def convert(self) -> str:
        items = self.seq()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r}")
        return "".join(items)


def mathml(latex: str, display: bool = False) -> str:
    """MathML for the LaTeX subset this module writes (raises ValueError on anything else)."""
    inner = _MathML(latex).convert()
    attr = ' display="block"' if display else ""
    return f"<math{attr}><mrow>{inner}</mrow></math>"


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


# ---------------------------------------------------------------------------- notation
class Notation:
    """The exercise's names as LaTeX, and its structure: which edges and biases exist."""

    def __init__(self, ex: Exercise):
        self.ex = ex
        self.L = ex.net.L
        self.sizes = ex.net.sizes
        self.wsym: dict[tuple[int, int, int], str] = {}
        self.bsym: dict[tuple[int, int], str] = {}
        self.wparam: dict[tuple[int, int, int], str] = {}
        self.bparam: dict[tuple[int, int], str] = {}
        for name, p in ex.parameters.items():
            for kind, l, idx in p.uses:
                sym = tex_name(name) if p.shape == () else _sub(tex_name(name), ",".join(str(k + 1) for k in idx))
                if kind == "W":
                    self.wsym[(l, *idx)] = sym
                    self.wparam[(l, *idx)] = name
                else:
                    self.bsym[(l, idx[0])] = sym
                    self.bparam[(l, idx[0])] = name
        self.edges = [np.zeros((0, 0), bool)] + [np.zeros((self.sizes[l], self.sizes[l - 1]), bool)
                                                  for l in range(1, self.L + 1)]
        for l, i, j in self.wsym:
            self.edges[l][i, j] = True
        self._vectors = self._vector_names()

    def _vector_names(self) -> list[str]:
        """Per layer, the layer's output vector: its declared name, else the neurons' common
        letter (``o`` for o1, o2) when no other layer shares it, else ``a^{(l)}``."""
        prefixes = []
        for names in self.ex.neurons:
            ms = [re.fullmatch(r"([A-Za-z]+)\d+", n) for n in names]
            common = {m[1] for m in ms if m}
            prefixes.append(common.pop() if len(common) == 1 and all(ms) else None)
        out = []
        for l, prefix in enumerate(prefixes):
            declared = self.ex.layer_names[l].get("output") if l < len(self.ex.layer_names) else None
            if declared:
                out.append(tex_name(declared))
            elif prefix and prefixes.count(prefix) == 1 and prefix not in self.ex.names and prefix != "E":
                out.append(_base(prefix))
            else:
                out.append(f"a^{{({l})}}")
        return out

    # -- scalars
    def a(self, l: int, i: int) -> str:
        return tex_name(self.ex.neurons[l][i])

    def z(self, l: int, i: int) -> str:
        return tex_name(self.ex.nets[l][i])

    def target(self, i: int) -> str:
        return _sup(self.a(self.L, i), r"\text{target}")

    def act(self, l: int) -> str:
        return self.ex.net.activations[l - 1]

    # -- vectors and matrices
    def va(self, l: int) -> str:
        return self._vectors[l]

    def vz(self, l: int) -> str:
        name = self.ex.layer_names[l].get("net")
        return tex_name(name) if name else f"z^{{({l})}}"

    def mW(self, l: int) -> str:
        name = self.ex.layer_names[l].get("weights")
        return tex_name(name) if name else f"W^{{({l})}}"

    def vb(self, l: int) -> str:
        name = self.ex.layer_names[l].get("bias")
        return tex_name(name) if name else f"b^{{({l})}}"

    def vt(self) -> str:
        return _sup(self.va(self.L), r"\text{target}")

    # -- formulas
    def net_terms(self, l: int, i: int) -> list[tuple[str, int | None]]:
        """The terms of z_i: (weight symbol, source neuron) for each edge, then (bias, None)."""
        terms: list[tuple[str, int | None]] = [
            (self.wsym[(l, i, j)], j) for j in range(self.sizes[l - 1]) if self.edges[l][i, j]]
        if (l, i) in self.bsym:
            terms.append((self.bsym[(l, i)], None))
        return terms

    def net_formula(self, l: int, i: int) -> str:
        """``w_{5} \\cdot x_{1} + w_{6} \\cdot x_{2} + b_{1}`` (Σ form for many terms)."""
        terms = self.net_terms(l, i)
        if not terms:
            return "0"
        if len(terms) > MAX_TERMS:
            bias = f" + {self.bsym[(l, i)]}" if (l, i) in self.bsym else ""
            return rf"\sum_{{j}} {_sub(self.mW(l), f'{i + 1},j')} \, {_sub(self.va(l - 1), 'j')}{bias}"
        return " + ".join(f"{w} \\cdot {self.a(l - 1, j)}" if j is not None else w for w, j in terms)

    def activation_formula(self, l: int, i: int) -> str:
        """``o_{1} = \\sigma(z_{1}) = \\frac{1}{1 + e^{-z_{1}}}``."""
        a, z = self.a(l, i), self.z(l, i)
        act = self.act(l)
        if act == "sigmoid":
            return rf"{a} = \sigma({z}) = \frac{{1}}{{1 + e^{{-{z}}}}}"
        if act == "tanh":
            return rf"{a} = \tanh({z})"
        if act == "relu":
            return rf"{a} = \max(0, {z})"
        if act == "linear":
            return f"{a} = {z}"
        zs = [self.z(l, k) for k in range(self.sizes[l])]
        den = " + ".join(f"e^{{{s}}}" for s in zs) if len(zs) <= MAX_TERMS else rf"\sum_{{k}} e^{{{_sub(self.vz(l), 'k')}}}"
        return rf"{a} = \frac{{e^{{{z}}}}}{{{den}}}"

    def loss_formula(self) -> str:
        """E in general form, as the sheet writes it."""
        y = _sub(self.va(self.L), "i")
        t = _sup(y, r"\text{target}")
        loss = self.ex.net.loss
        body = {
            "half_sse": rf"\frac{{1}}{{2}} \sum_{{i}} ({y} - {t})^{{2}}",
            "sse": rf"\sum_{{i}} ({y} - {t})^{{2}}",
            "mse": rf"\frac{{1}}{{K}} \sum_{{i}} ({y} - {t})^{{2}}",
            "binary_cross_entropy": rf"-\sum_{{i}} \left[{t} \ln {y} + (1 - {t}) \ln(1 - {y})\right]",
            "cross_entropy": rf"-\sum_{{i}} {t} \ln {y}",
        }[loss]
        S = self.ex.n_samples
        if S > 1:
            body = (r"\frac{1}{S} \sum_{s}" if self.ex.net.reduction == "mean" else r"\sum_{s}") + r" \left[" + body + r"\right]"
        return f"E = {body}"


# ---------------------------------------------------------------------------- numbers
@dataclass
class Vals:
    """One variant's values without the variant axis: W[l-1] (n, m), b[l-1] (n,), a[l]/z[l] (n, S)."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    x: np.ndarray
    t: np.ndarray
    z: list[Any]
    a: list[np.ndarray]

    @property
    def S(self) -> int:
        return int(self.x.shape[1])


def _vals(ex: Exercise, s: solver._State) -> Vals:
    fwd = solver.forward(ex.net, s.W, s.b, s.x)
    return Vals([w[..., 0].copy() for w in s.W], [c[:, 0, 0].copy() for c in s.b], s.x[..., 0].copy(),
                s.t[..., 0].copy(), [None] + [z[..., 0] for z in fwd.z[1:]], [a[..., 0] for a in fwd.a])


def _start(ex: Exercise, q: Question | None) -> solver._State:
    s = solver._State.of(solver.Values.of(ex))
    return solver._given(ex, s, q.given) if q is not None else s


def _sample(s: solver._State, k: int | None) -> solver._State:
    if k is None:
        return s
    return solver._State(s.W, s.b, s.x[:, k:k + 1], s.t[:, k:k + 1])


def fprime(act: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """f'(z) elementwise (not for softmax)."""
    if act == "sigmoid":
        return a * (1.0 - a)
    if act == "tanh":
        return 1.0 - a * a
    if act == "relu":
        return (z > 0).astype(float)
    return np.ones_like(a)


def _loss_grad(ex: Exercise, v: Vals) -> np.ndarray:
    return solver.loss_grad(ex.net, v.a[-1][..., None], v.t[..., None])[..., 0]


def _loss(ex: Exercise, v: Vals) -> float:
    return float(solver.loss(ex.net, v.a[-1][..., None], v.t[..., None])[0])


def _backward(ex: Exercise, v: Vals, A: Ref) -> tuple[list[np.ndarray], list[Any]]:
    """G[l] = ∂A/∂a^(l) and D[l] = ∂A/∂z^(l), each (n_l, S), zero above A's layer."""
    L = ex.net.L
    G = [np.zeros_like(a) for a in v.a]
    D: list[Any] = [None] + [np.zeros_like(a) for a in v.a[1:]]
    if A.kind == "E":
        k = L
        G[L] = _loss_grad(ex, v)
    else:
        k = A.layer
        (G if A.kind == "a" else D)[k][A.index] = 1.0
    for l in range(k, 0, -1):
        if not (A.kind == "z" and l == k):
            act = ex.net.activations[l - 1]
            if act == "softmax":
                D[l] = v.a[l] * (G[l] - (G[l] * v.a[l]).sum(axis=0, keepdims=True))
            else:
                D[l] = G[l] * fprime(act, v.z[l], v.a[l])
        G[l - 1] = v.W[l - 1].T @ D[l]
    return G, D


# ---------------------------------------------------------------------------- the writer
Node = tuple[str, int, int]  # ("a" | "z", layer, index)


class _Ctx:
    """Everything about one derivative dA/d… at one set of values."""

    def __init__(self, w: _Writer, v: Vals, A: Ref):
        self.w, self.v, self.A = w, v, A
        self.G, self.D = _backward(w.ex, v, A)
        self.sA = "E" if A.kind == "E" else (w.n.a(A.layer, A.index) if A.kind == "a" else w.n.z(A.layer, A.index))
        self.node = None if A.kind == "E" else (A.kind, A.layer, A.index)
        self.reach = self._upstream()

    @property
    def per_sample(self) -> bool:
        return self.A.kind != "E"

    def _parents(self, node: Node) -> list[Node]:
        kind, l, i = node
        n = self.w.n
        if kind == "a":
            if l == 0:
                return []
            if n.act(l) == "softmax":
                return [("z", l, k) for k in range(n.sizes[l])]
            return [("z", l, i)]
        return [("a", l - 1, j) for j in range(n.sizes[l - 1]) if n.edges[l][i, j]]

    def _children(self, node: Node) -> list[Node]:
        kind, l, i = node
        n = self.w.n
        if kind == "z":
            if n.act(l) == "softmax":
                return [("a", l, k) for k in range(n.sizes[l])]
            return [("a", l, i)]
        if l == n.L:
            return []
        return [("z", l + 1, k) for k in range(n.sizes[l + 1]) if n.edges[l + 1][k, i]]

    def _upstream(self) -> set[Node]:
        n = self.w.n
        todo = [("a", n.L, i) for i in range(n.sizes[n.L])] if self.node is None else [self.node]
        seen = set(todo)
        while todo:
            for p in self._parents(todo.pop()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    def between(self, starts: list[Node]) -> list[Node]:
        """Nodes on a path from any of ``starts`` to A (excluding the starts), from A backwards."""
        todo, seen = list(starts), set(starts)
        while todo:
            for c in self._children(todo.pop()):
                if c in self.reach and c not in seen:
                    seen.add(c)
                    todo.append(c)
        out = [x for x in seen if x not in starts]
        return sorted(out, key=lambda x: (-x[1], 0 if x[0] == "a" else 1, x[2]))

    def sym(self, node: Node) -> str:
        kind, l, i = node
        return self.w.n.a(l, i) if kind == "a" else self.w.n.z(l, i)

    def d(self, node: Node) -> str:
        return dd(self.sA, self.sym(node))

    def value(self, node: Node) -> np.ndarray:
        kind, l, i = node
        return self.G[l][i] if kind == "a" else self.D[l][i]

    def fp(self, l: int, i: int) -> np.ndarray:
        return fprime(self.w.n.act(l), self.v.z[l][i], self.v.a[l][i])


class _Writer:
    def __init__(self, ex: Exercise):
        self.ex = ex
        self.n = Notation(ex)
        self.doc = Doc()
        self.values: dict[str, Any] = {}
        self.base = _vals(ex, _start(ex, None))
        self.S = 1

    # -- numbers per sample: a (S,) array is one number or a row of numbers
    @property
    def op(self) -> str:
        return r"\cdot" if self.S == 1 else r"\odot"

    def V(self, arr: Any, digits: int = DIGITS) -> str:
        a = np.asarray(arr, dtype=float)
        if a.ndim == 0:
            return num(a, digits)
        if a.size == 1:
            return num(a.reshape(()), digits)
        return bmatrix(a[None, :], digits)

    def Vp(self, arr: Any) -> str:
        a = np.asarray(arr, dtype=float)
        return pnum(a.reshape(())) if a.size == 1 else self.V(a)

    # -- formulas with numbers
    def fprime_sym(self, l: int, i: int) -> str:
        a, z = self.n.a(l, i), self.n.z(l, i)
        return {"sigmoid": f"{a}(1 - {a})", "tanh": f"(1 - {square(a)})",
                "relu": rf"\mathbf{{1}}[{z} > 0]", "linear": "1"}[self.n.act(l)]

    def fprime_num(self, v: Vals, l: int, i: int) -> str:
        a, z = v.a[l][i], v.z[l][i]
        act = self.n.act(l)
        if act == "sigmoid":
            return f"{self.Vp(a)} {self.op} (1 - {self.V(a)})"
        if act == "tanh":
            return f"(1 - {square(self.Vp(a))})"
        if act == "relu":
            return rf"\mathbf{{1}}[{self.V(z)} > 0]"
        return "1"

    def fprime_word(self, l: int) -> str:
        return {"sigmoid": "The derivative of the sigmoid is:", "tanh": "The derivative of tanh is:",
                "relu": "The derivative of ReLU is 1 where its input is positive, else 0:",
                "linear": "A linear activation has derivative 1:"}[self.n.act(l)]

    def loss_sym(self, i: int) -> str:
        y, t = self.n.a(self.n.L, i), self.n.target(i)
        K = self.n.sizes[self.n.L]
        body = {"half_sse": f"{y} - {t}", "sse": f"2({y} - {t})", "mse": rf"\frac{{2}}{{{K}}}({y} - {t})",
                "binary_cross_entropy": rf"\frac{{{y} - {t}}}{{{y}(1 - {y})}}",
                "cross_entropy": rf"-\frac{{{t}}}{{{y}}}"}[self.ex.net.loss]
        if self.ex.net.reduction == "mean":
            body = rf"\frac{{1}}{{S}}\left({body}\right)"
        return body

    def loss_num(self, v: Vals, i: int) -> str:
        y, t = self.V(v.a[-1][i]), self.V(v.t[i])
        K = self.n.sizes[self.n.L]
        body = {"half_sse": f"{y} - {t}", "sse": f"2 \\cdot ({y} - {t})", "mse": rf"\frac{{2}}{{{K}}} \cdot ({y} - {t})",
                "binary_cross_entropy": rf"\frac{{{y} - {t}}}{{{self.Vp(v.a[-1][i])} {self.op} (1 - {y})}}",
                "cross_entropy": rf"-\frac{{{t}}}{{{y}}}"}[self.ex.net.loss]
        if self.ex.net.reduction == "mean":
            body = rf"\frac{{1}}{{{v.S}}}\left({body}\right)"
        return body

    def loss_words(self) -> str:
        return {"half_sse": "E is half the sum of squared errors", "sse": "E is the sum of squared errors",
                "mse": "E is the mean squared error over the K outputs",
                "binary_cross_entropy": "E is the binary cross-entropy",
                "cross_entropy": "E is the cross-entropy"}[self.ex.net.loss]

    # -- one node's derivative, top-down
    def node_eq(self, c: _Ctx, node: Node, listed: list[Node]) -> str | None:
        kind, l, i = node
        if node == c.node:
            return None
        L = self.n.L
        if kind == "a":
            if c.A.kind == "E" and l == L:
                if self.n.act(L) != "softmax" and ("z", L, i) in listed:
                    return None  # folded into ∂E/∂z
                return f"{c.d(node)} = {self.loss_sym(i)} = {self.loss_num(c.v, i)} = {self.V(c.value(node))}"
            return self.sum_eq(c, node)
        if self.n.act(l) == "softmax":
            return self.softmax_eq(c, node)
        a = ("a", l, i)
        if a == c.node:
            return f"{c.d(node)} = {self.fprime_sym(l, i)} = {self.fprime_num(c.v, l, i)} = {self.V(c.value(node))}"
        if c.A.kind == "E" and l == L:
            return (f"{c.d(node)} = {c.d(a)} \\cdot {dd(c.sym(a), c.sym(node))} = ({self.loss_sym(i)}) \\cdot "
                    f"{self.fprime_sym(l, i)} = {self.Vp(c.G[l][i])} {self.op} {self.Vp(c.fp(l, i))} = {self.V(c.value(node))}")
        return (f"{c.d(node)} = {c.d(a)} \\cdot {self.fprime_sym(l, i)} = {self.Vp(c.G[l][i])} {self.op} "
                f"{self.Vp(c.fp(l, i))} = {self.V(c.value(node))}")

    def sum_terms(self, c: _Ctx, node: Node) -> tuple[str, str]:
        """∂A/∂a_u = Σ_k ∂A/∂z_k · w_{u→k}: symbolic and numeric sums (over paths that reach A)."""
        _, l, u = node
        ks = [k for k in range(self.n.sizes[l + 1]) if self.n.edges[l + 1][k, u] and ("z", l + 1, k) in c.reach]
        if not ks:
            return "0", "0"
        if len(ks) > MAX_TERMS:
            sym = rf"\sum_{{k}} {dd(c.sA, _sub(self.n.vz(l + 1), 'k'))} \, {_sub(self.n.mW(l + 1), f'k,{u + 1}')}"
            return sym, ""
        syms, nums = [], []
        for k in ks:
            w = self.n.wsym[(l + 1, k, u)]
            wv = pnum(c.v.W[l][k, u])
            if ("z", l + 1, k) == c.node:
                syms.append(w)
                nums.append(wv)
            else:
                syms.append(f"{c.d(('z', l + 1, k))} \\cdot {w}")
                nums.append(f"{self.Vp(c.D[l + 1][k])} {self.op} {wv}")
        return " + ".join(syms), " + ".join(nums)

    def sum_eq(self, c: _Ctx, node: Node) -> str:
        sym, nums = self.sum_terms(c, node)
        mid = f" = {nums}" if nums and nums != "0" else ""
        return f"{c.d(node)} = {sym}{mid} = {self.V(c.value(node))}" if sym != "0" else f"{c.d(node)} = 0"

    def softmax_terms(self, c: _Ctx, node: Node) -> tuple[str, str]:
        _, l, i = node
        ks = [k for k in range(self.n.sizes[l]) if ("a", l, k) in c.reach]
        if len(ks) > MAX_TERMS:
            ak = _sub(self.n.va(l), "k")
            return rf"\sum_{{k}} {dd(c.sA, ak)} \, {ak}(\mathbf{{1}}[k = {i + 1}] - {self.n.a(l, i)})", ""
        ai = self.n.a(l, i)
        syms, nums = [], []
        for k in ks:
            ak = self.n.a(l, k)
            jac_sym = f"{ai}(1 - {ai})" if k == i else f"(-{ak} {ai})"
            jac = c.v.a[l][i] * (1 - c.v.a[l][i]) if k == i else -c.v.a[l][k] * c.v.a[l][i]
            if ("a", l, k) == c.node:
                syms.append(jac_sym)
                nums.append(self.Vp(jac))
            else:
                syms.append(f"{c.d(('a', l, k))} \\cdot {jac_sym}")
                nums.append(f"{self.Vp(c.G[l][k])} {self.op} {self.Vp(jac)}")
        return " + ".join(syms), " + ".join(nums)

    def softmax_eq(self, c: _Ctx, node: Node) -> str:
        sym, nums = self.softmax_terms(c, node)
        mid = f" = {nums}" if nums else ""
        return f"{c.d(node)} = {sym}{mid} = {self.V(c.value(node))}"

    def show_between(self, c: _Ctx, starts: list[Node], intro: str = "where, from the output back:") -> None:
        self.show_nodes(c, c.between(starts), intro)

    def show_nodes(self, c: _Ctx, listed: list[Node], intro: str) -> None:
        """The derivatives of the listed nodes, one equation each, or for many the matrix chain."""
        if len(listed) > 2 * MAX_TERMS:
            self.doc.p(intro.rstrip(":") + " (layer by layer in matrix form, as there are many):")
            self.chain(c, min(x[1] for x in listed if x[0] == "z"))
            return
        eqs = [e for e in (self.node_eq(c, x, listed) for x in listed) if e]
        if eqs:
            self.doc.p(intro)
            for e in eqs:
                self.doc.math(e)

    def explain_G(self, c: _Ctx, l: int, u: int) -> None:
        """∂A/∂a_u, with the derivatives it needs (sheet style: the sum over every next neuron)."""
        node = ("a", l, u)
        L = self.n.L
        if c.A.kind == "E" and l == L:
            self.doc.p(f"{self.ex.neurons[L][u]} is an output and ", M(self.n.loss_formula()),
                       f" ({self.loss_words()}), so:")
            self.doc.math(f"{c.d(node)} = {self.loss_sym(u)} = {self.loss_num(c.v, u)} = {self.V(c.value(node))}")
            return
        sym, nums = self.sum_terms(c, node)
        if sym == "0":
            self.doc.p(f"No path leads from {self.ex.neurons[l][u]} to {c.A.name}:")
            self.doc.math(f"{c.d(node)} = 0")
            return
        ks = [self.ex.nets[l + 1][k] for k in range(self.n.sizes[l + 1])
              if self.n.edges[l + 1][k, u] and ("z", l + 1, k) in c.reach]
        fed = _join(ks) if len(ks) <= MAX_TERMS else f"{len(ks)} neurons of layer {l + 1}"
        self.doc.p(f"{self.ex.neurons[l][u]} feeds {fed}, so ", M(c.d(node)),
                   " sums over every path through the next layer:")
        self.doc.math(f"{c.d(node)} = {sym}")
        self.show_between(c, [node])
        self.doc.math(f"{c.d(node)} = {nums + ' = ' if nums else ''}{self.V(c.value(node))}")

    # ------------------------------------------------------------------ derivative questions
    def derivative(self, v: Vals, A: Ref, B: Ref, matrix_form: bool = True) -> np.ndarray:
        """Write ∂A/∂B out and return its value (B's shape, then a sample axis when per sample)."""
        c = _Ctx(self, v, A)
        self.S = v.S
        if B.kind in ("W", "b", "A", "Z"):
            return self.matrix_derivative(c, B)
        if B.kind == "E":
            if A.kind == "E":
                self.doc.math(r"\frac{\partial E}{\partial E} = 1")
                return np.array(1.0)
            self.doc.p(f"{A.name} is computed before E, so it does not depend on E:")
            self.doc.math(f"{dd(c.sA, 'E')} = 0")
            return np.zeros(v.S)
        if B.kind == "param":
            return self.param_derivative(c, B, matrix_form)
        node: Node = ("a" if B.kind == "a" else "z", B.layer, B.index)
        sB = c.sym(node)
        if node == c.node:
            self.doc.math(f"{dd(sB, sB)} = 1")
            return np.ones(v.S)
        if node not in c.reach:
            self.doc.p(f"{A.name} does not depend on {B.name}: no path in the network leads from {B.name} to "
                       f"{A.name}, so")
            self.doc.math(f"{c.d(node)} = 0")
            return np.zeros(v.S)
        l, i = B.layer, B.index
        if B.kind == "a":
            self.explain_G(c, l, i)
        elif self.n.act(l) == "softmax":
            self.doc.p(f"{self.ex.neurons[l][i]} is computed by a softmax over the layer, ",
                       M(self.n.activation_formula(l, i)), ", so every output of the layer depends on ",
                       M(self.n.z(l, i)), ":")
            sym, _ = self.softmax_terms(c, node)
            self.doc.math(f"{c.d(node)} = {sym}")
            self.show_between(c, [node], "with")
            self.doc.math(self.softmax_eq(c, node))
        else:
            a: Node = ("a", l, i)
            if a == c.node:
                self.doc.p(M(self.n.activation_formula(l, i)), f". {self.fprime_word(l)}")
                self.doc.math(f"{c.d(node)} = {self.fprime_sym(l, i)} = {self.fprime_num(v, l, i)} = "
                              f"{self.V(c.value(node), FINAL)}")
            else:
                self.doc.p("We use the chain rule:")
                self.doc.math(f"{c.d(node)} = {c.d(a)} \\cdot {dd(c.sym(a), sB)}")
                self.step(1, M(c.d(a)))
                self.explain_G(c, l, i)
                self.step(2, M(dd(c.sym(a), sB)))
                self.doc.p(M(self.n.activation_formula(l, i)), f". {self.fprime_word(l)}")
                self.doc.math(f"{dd(c.sym(a), sB)} = {self.fprime_sym(l, i)} = {self.fprime_num(v, l, i)} = "
                              f"{self.V(c.fp(l, i))}")
                self.step(3, "Combine everything:")
                first = f"({self.loss_sym(i)})" if c.A.kind == "E" and l == self.n.L else c.d(a)
                self.doc.math(f"{c.d(node)} = {first} \\cdot {self.fprime_sym(l, i)} = {self.Vp(c.G[l][i])} "
                              f"{self.op} {self.Vp(c.fp(l, i))} = {self.V(c.value(node), FINAL)}")
        value = c.value(node).copy()
        if matrix_form:
            self.matrix_form_for(c, B, node)
        return value

    def step(self, k: int, *spans: Span) -> None:
        if len(spans) == 1 and isinstance(spans[0], str):
            self.doc.p(B(f"Step {k}."), " ", spans[0])
        else:
            self.doc.p(B(f"Step {k}."), " Compute ", *spans, ".")

    def param_derivative(self, c: _Ctx, B_: Ref, matrix_form: bool) -> np.ndarray:
        ex, v = self.ex, c.v
        p = ex.parameters[B_.name]
        sp = tex_name(p.name)
        uses = list(p.uses)
        dep = [u for u in uses if ("z", u[1], u[2][0]) in c.reach]
        self.doc.p(self.describe_param(p.name) + (" It is fixed: it does not train, but it still has a gradient."
                                                  if p.fixed else ""))
        if not dep:
            self.doc.p(f"{c.A.name} does not depend on {p.name}: no path leads from it to {c.A.name}, so")
            self.doc.math(f"{dd(c.sA, sp)} = 0")
            return np.zeros(v.S) if c.per_sample else np.array(0.0)
        total = np.zeros(v.S)
        if len(uses) == 1:
            kind, l, idx = uses[0]
            i = idx[0]
            zv: Node = ("z", l, i)
            av: Node = ("a", l, i)
            src = v.a[l - 1][idx[1]] if kind == "W" else np.ones(v.S)
            src_sym = self.n.a(l - 1, idx[1]) if kind == "W" else "1"
            dz = dd(self.n.z(l, i), sp)
            softmax = self.n.act(l) == "softmax"
            if zv == c.node:
                factors = [dz]
            elif not softmax and av == c.node:
                factors = [dd(c.sym(av), c.sym(zv)), dz]
            elif not softmax:
                factors = [c.d(av), dd(c.sym(av), c.sym(zv)), dz]
            else:
                factors = [c.d(zv), dz]
            self.doc.p("To compute the partial derivative of ", M(c.sA), " with respect to ", M(sp),
                       ", we use the chain rule:")
            self.doc.math(f"{dd(c.sA, sp)} = " + r" \cdot ".join(factors))
            k = 0
            subst, nums = [], []
            if factors[0] == c.d(av) and len(factors) == 3:
                k += 1
                self.step(k, M(c.d(av)))
                self.explain_G(c, l, i)
                subst.append(f"({self.loss_sym(i)})" if c.A.kind == "E" and l == self.n.L else c.d(av))
                nums.append(self.Vp(c.G[l][i]))
            if softmax and zv != c.node:
                k += 1
                self.step(k, M(c.d(zv)))
                self.doc.p(f"{self.ex.neurons[l][i]} is computed by a softmax over its layer, ",
                           M(self.n.activation_formula(l, i)), ", so ", M(self.n.z(l, i)),
                           " reaches every output of the layer:")
                sym, _ = self.softmax_terms(c, zv)
                self.doc.math(f"{c.d(zv)} = {sym}")
                self.show_between(c, [zv], "with")
                self.doc.math(self.softmax_eq(c, zv))
                subst.append(c.d(zv))
                nums.append(self.Vp(c.D[l][i]))
            if not softmax and zv != c.node:
                k += 1
                self.step(k, M(dd(c.sym(av), c.sym(zv))))
                self.doc.p(f"The output {self.ex.neurons[l][i]} is the {self.n.act(l)} of the weighted sum "
                           f"{self.ex.nets[l][i]}:")
                self.doc.math(self.n.activation_formula(l, i))
                self.doc.p(self.fprime_word(l))
                self.doc.math(f"{dd(c.sym(av), c.sym(zv))} = {self.fprime_sym(l, i)} = "
                              f"{self.fprime_num(v, l, i)} = {self.V(c.fp(l, i))}")
                subst.append(self.fprime_sym(l, i))
                nums.append(self.Vp(c.fp(l, i)))
            k += 1
            self.step(k, M(dz))
            self.doc.p(f"The weighted sum {self.ex.nets[l][i]} is:")
            self.doc.math(f"{self.n.z(l, i)} = {self.n.net_formula(l, i)}")
            self.doc.p("The partial derivative of ", M(self.n.z(l, i)), " with respect to ", M(sp), " is:")
            self.doc.math(f"{dz} = {src_sym}" + (f" = {self.V(src)}" if kind == "W" else ""))
            if kind == "W":
                self.doc.p(f"Here {self.ex.neurons[l - 1][idx[1]]} is the "
                           + ("input" if l == 1 else f"output of neuron {idx[1] + 1} of layer {l - 1}")
                           + f" that {p.name} multiplies.")
            subst.append(src_sym)
            nums.append(self.Vp(src))
            total = c.D[l][i] * src
            if len(factors) > 1 or c.A.kind == "E" and v.S > 1:
                k += 1
                self.step(k, "Combine everything:")
                self.doc.math(self.combine(c, sp, subst, nums, total))
            value = total if c.per_sample else np.array(total.sum())
        else:
            owners = sorted({self.ex.neurons[l][idx[0]] for _, l, idx in uses})
            self.doc.p(f"{p.name} is shared (tied): it enters " + _join(sorted({self.ex.nets[l][idx[0]] for _, l, idx in uses}))
                       + f" of {_join(owners)}, so its gradient is the sum over its uses:")
            terms_sym, terms_num, parts = [], [], []
            for kind, l, idx in dep:
                zv = ("z", l, idx[0])
                src = v.a[l - 1][idx[1]] if kind == "W" else np.ones(v.S)
                src_sym = self.n.a(l - 1, idx[1]) if kind == "W" else "1"
                first = "" if zv == c.node else f"{c.d(zv)} \\cdot "
                terms_sym.append(first + dd(self.n.z(l, idx[0]), sp))
                parts.append(f"{dd(self.n.z(l, idx[0]), sp)} = {src_sym}")
                terms_num.append(f"{self.Vp(c.D[l][idx[0]])} {self.op} {self.Vp(src)}")
                total = total + c.D[l][idx[0]] * src
            self.doc.math(f"{dd(c.sA, sp)} = " + " + ".join(terms_sym))
            skipped = [self.ex.nets[l][idx[0]] for kind, l, idx in uses if (kind, l, idx) not in dep]
            if skipped:
                self.doc.p(f"({_join(skipped)} does not lead to {c.A.name}: that term is 0.)")
            self.doc.p("Each use contributes the neuron's error signal times ", M(r"\partial z / \partial " + sp), ":")
            self.doc.math(r",\quad ".join(parts))
            starts = [("z", l, idx[0]) for _, l, idx in dep]
            listed = c.between(starts) + [x for x in starts if x != c.node]
            listed = sorted(set(listed), key=lambda x: (-x[1], 0 if x[0] == "a" else 1, x[2]))
            self.show_nodes(c, listed, "where, from the output back:")
            self.doc.p("Adding the uses:")
            value = total if c.per_sample else np.array(total.sum())
            line = f"{dd(c.sA, sp)} = " + " + ".join(terms_num)
            if not c.per_sample and v.S > 1:
                line += rf" = \sum_{{s}} {self.V(total)}"
            self.doc.math(f"{line} = {self.V(value, FINAL)}")
        if matrix_form:
            self.matrix_form_param(c, p.name, dep)
        return value

    def combine(self, c: _Ctx, sp: str, subst: list[str], nums: list[str], total: np.ndarray) -> str:
        line = f"{dd(c.sA, sp)} = " + r" \cdot ".join(subst) + " = " + f" {self.op} ".join(nums)
        if c.per_sample or c.v.S == 1:
            return f"{line} = {self.V(total, FINAL)}"
        return rf"{line} = \sum_{{s}} {self.V(total)} = {num(total.sum(), FINAL)}"

    def describe_param(self, name: str) -> str:
        p = self.ex.parameters[name]
        ex = self.ex
        if p.shape != ():
            kind, l, _ = p.uses[0]
            what = "weight matrix" if kind == "W" else "bias vector"
            return f"{name} is the {what} of layer {l}."
        if len(p.uses) == 1:
            kind, l, idx = p.uses[0]
            if kind == "W":
                return f"{name} is the weight of the edge {ex.neurons[l - 1][idx[1]]} → {ex.neurons[l][idx[0]]}."
            return f"{name} is the bias of {ex.neurons[l][idx[0]]}."
        owners = [ex.neurons[l][idx[0]] for _, l, idx in p.uses]
        what = "bias" if p.uses[0][0] == "b" else "weight"
        return f"{name} is one {what} shared by {_join(owners)}."

    # ------------------------------------------------------------------ matrix form
    def dsym(self, c: _Ctx, l: int) -> str:
        return rf"\delta^{{({l})}}" if c.A.kind == "E" else dd(c.sA, self.n.vz(l))

    def gsym(self, c: _Ctx, l: int) -> str:
        return dd(c.sA, self.n.va(l))

    def fprime_vec_sym(self, l: int) -> str:
        a, z = self.n.va(l), self.n.vz(l)
        return {"sigmoid": rf"{a} \odot (1 - {a})", "tanh": rf"(1 - {a} \odot {a})",
                "relu": rf"\mathbf{{1}}[{z} > 0]", "linear": "1"}[self.n.act(l)]

    def loss_vec_sym(self) -> str:
        y, t = self.n.va(self.n.L), self.n.vt()
        K = self.n.sizes[self.n.L]
        body = {"half_sse": f"{y} - {t}", "sse": f"2({y} - {t})", "mse": rf"\frac{{2}}{{{K}}}({y} - {t})",
                "binary_cross_entropy": rf"({y} - {t}) \oslash ({y} \odot (1 - {y}))",
                "cross_entropy": rf"-{t} \oslash {y}"}[self.ex.net.loss]
        body = body.replace(r"\oslash", "/")
        if self.ex.net.reduction == "mean":
            body = rf"\frac{{1}}{{S}}\left({body}\right)"
        return body

    def top_eq(self, c: _Ctx) -> None:
        """Where the matrix chain starts: ∂E/∂y from the loss, or a one-hot e_i for one neuron."""
        n, v = self.n, c.v
        if c.A.kind == "E":
            l = n.L
            nums = ""
            if self.ex.net.loss == "half_sse" and self.ex.net.reduction == "sum":
                nums = f"{bmatrix(v.a[-1])} - {bmatrix(v.t)} = "
            self.doc.math(f"{self.gsym(c, l)} = {self.loss_vec_sym()} = {nums}{bmatrix(c.G[l])}")
            return
        l = c.A.layer
        vec = n.va(l) if c.A.kind == "a" else n.vz(l)
        self.doc.math(f"{dd(c.sA, vec)} = {_sub('e', str(c.A.index + 1))} = "
                      + bmatrix((c.G if c.A.kind == "a" else c.D)[l]))

    def chain(self, c: _Ctx, lo: int) -> None:
        """The matrix chain from A down to ∂A/∂z^(lo), as in the sheet's matrix form."""
        n, v = self.n, c.v
        top = n.L if c.A.kind == "E" else c.A.layer
        for l in range(top, lo - 1, -1):
            if l == top:
                self.top_eq(c)
                if c.A.kind == "z":
                    continue
            else:
                self.doc.math(f"{self.gsym(c, l)} = {transpose(n.mW(l + 1))} {self.dsym(c, l + 1)} = "
                              f"{transpose(bmatrix(v.W[l]))} {bmatrix(c.D[l + 1])} = {bmatrix(c.G[l])}")
            if n.act(l) == "softmax":
                a = n.va(l)
                self.doc.p("A softmax layer's Jacobian is not diagonal: per sample, ",
                           M(r"\frac{\partial a_k}{\partial z_i} = a_k(\mathbf{1}[k = i] - a_i)"), ", so")
                sums = np.broadcast_to((c.G[l] * v.a[l]).sum(axis=0, keepdims=True), v.a[l].shape)
                self.doc.math(rf"{self.dsym(c, l)} = {a} \odot \left({self.gsym(c, l)} - {transpose(a)} "
                              rf"{self.gsym(c, l)}\right) = {bmatrix(v.a[l])} \odot \left({bmatrix(c.G[l])} - "
                              rf"{bmatrix(sums)}\right) = {bmatrix(c.D[l])}")
                continue
            if n.act(l) == "linear":
                self.doc.math(f"{self.dsym(c, l)} = {self.gsym(c, l)} = {bmatrix(c.D[l])}")
                continue
            f = fprime(n.act(l), v.z[l], v.a[l])
            self.doc.math(rf"{self.dsym(c, l)} = {self.gsym(c, l)} \odot {self.fprime_vec_sym(l)} = "
                          rf"{bmatrix(c.G[l])} \odot {bmatrix(f)} = {bmatrix(c.D[l])}")

    def dW_eq(self, c: _Ctx, l: int) -> tuple[str, np.ndarray]:
        v = c.v
        lhs = dd(c.sA, self.n.mW(l))
        if not c.per_sample:
            M_ = c.D[l] @ v.a[l - 1].T
            return (f"{lhs} = {self.dsym(c, l)} {transpose(self.n.va(l - 1))} = {bmatrix(c.D[l])} "
                    f"{transpose(bmatrix(v.a[l - 1]))} = {bmatrix(M_)}"), M_
        M_ = c.D[l][:, None, :] * v.a[l - 1][None, :, :]
        shown = bmatrix(M_[..., 0]) if v.S == 1 else bmatrix(M_)
        return f"{lhs} = {self.dsym(c, l)} {transpose(self.n.va(l - 1))} = {shown}", M_

    def db_eq(self, c: _Ctx, l: int) -> tuple[str, np.ndarray]:
        lhs = dd(c.sA, self.n.vb(l))
        if not c.per_sample and c.v.S > 1:
            M_ = c.D[l].sum(axis=1)
            return rf"{lhs} = {self.dsym(c, l)} \mathbf{{1}} = {bmatrix(M_)}", M_
        M_ = c.D[l] if c.per_sample else c.D[l][:, 0]
        return f"{lhs} = {self.dsym(c, l)} = {bmatrix(M_)}", M_

    def matrix_form_param(self, c: _Ctx, name: str, dep: list[Any]) -> None:
        if c.per_sample and c.v.S > 1:
            return
        p = self.ex.parameters[name]
        layers = sorted({l for _, l, _ in dep})
        self.doc.p(B("Matrix form."), " The same number comes out of the layer's matrices, as in the sheet:")
        self.chain(c, layers[0])
        picks, total = [], 0.0
        for l in reversed(layers):
            kinds = sorted({k for k, ll, _ in dep if ll == l}, reverse=True)
            for kind in kinds:
                eq, M_ = (self.dW_eq if kind == "W" else self.db_eq)(c, l)
                self.doc.math(eq)
                M_ = M_.reshape(M_.shape[:2] if kind == "W" else M_.shape[:1])
                for k2, ll, idx in dep:
                    if ll == l and k2 == kind:
                        mat = self.n.mW(l) if kind == "W" else self.n.vb(l)
                        picks.append((mat, idx, float(M_[idx])))
                        total += float(M_[idx])
        words = []
        for mat, idx, val in picks:
            pos = ", ".join(str(k + 1) for k in idx)
            entry = _sub(r"\left[" + dd(c.sA, mat) + r"\right]", pos)
            words.append(f"{entry} = {num(val)}")
        if any(k == "W" and not self.n.edges[l].all() for k, l, _ in dep):
            self.doc.p("(Entries for edges that are not in the network are not parameters: nothing uses them.)")
        text = (f"{p.name} is entry ({', '.join(str(k + 1) for k in dep[0][2])}) of that matrix (row = the neuron it feeds):"
                if len(picks) == 1 else f"{p.name} is several entries; their sum:")
        self.doc.p(text)
        self.doc.math(" + ".join(words) + (f" = {num(total)}" if len(picks) > 1 else ""))

    def matrix_form_for(self, c: _Ctx, B_: Ref, node: Node) -> None:
        """The matrix form of ∂A/∂(neuron or pre-activation): one entry of a layer vector."""
        if (c.per_sample and c.v.S > 1) or node == c.node:
            return
        kind, l, i = node
        top = self.n.L if c.A.kind == "E" else c.A.layer
        self.doc.p(B("Matrix form."), " As a layer vector (the entry for ", M(c.sym(node)), " is row ", str(i + 1), "):")
        if kind == "a" and l == top:
            self.top_eq(c)
        elif kind == "a":
            self.chain(c, l + 1)
            self.doc.math(f"{self.gsym(c, l)} = {transpose(self.n.mW(l + 1))} {self.dsym(c, l + 1)} = "
                          f"{transpose(bmatrix(c.v.W[l]))} {bmatrix(c.D[l + 1])} = {bmatrix(c.G[l])}")
        else:
            self.chain(c, l)

    def matrix_derivative(self, c: _Ctx, B_: Ref) -> np.ndarray:
        """∂A/∂W(l), ∂A/∂b(l), ∂A/∂z(l) or ∂A/∂a(l) in matrix form."""
        n, v = self.n, c.v
        kind, l = B_.kind, B_.layer
        top = n.L if c.A.kind == "E" else c.A.layer
        sB = {"W": n.mW, "b": n.vb, "Z": n.vz, "A": n.va}[kind](l)
        shape = {"W": v.W[l - 1].shape if l > 0 else (0,), "b": v.b[l - 1].shape if l > 0 else (0,),
                 "Z": v.a[l].shape, "A": v.a[l].shape}[kind]
        depends = l < top or (l == top and (kind != "A" or c.A.kind in ("a", "E")))
        if c.A.kind == "z" and l == top and kind == "A":
            depends = False
        if not depends:
            self.doc.p(f"{c.A.name} does not depend on {B_.name}: nothing leads from it to {c.A.name}, so every entry is 0.")
            self.doc.math(f"{dd(c.sA, sB)} = 0")
            zero = np.zeros(shape)
            if c.per_sample and kind in ("W", "b"):
                zero = np.zeros((*shape, v.S))
            return zero
        self.doc.p("In matrix form, as in the sheet (columns are samples):" if v.S > 1 else
                   "In matrix form, as in the sheet:")
        if kind == "A":
            if l == top:
                self.top_eq(c)
                return c.G[l].copy()
            self.chain(c, l + 1)
            self.doc.math(f"{self.gsym(c, l)} = {transpose(n.mW(l + 1))} {self.dsym(c, l + 1)} = "
                          f"{transpose(bmatrix(v.W[l]))} {bmatrix(c.D[l + 1])} = {bmatrix(c.G[l])}")
            return c.G[l].copy()
        self.chain(c, l)
        if kind == "Z":
            return c.D[l].copy()
        eq, M_ = (self.dW_eq if kind == "W" else self.db_eq)(c, l)
        if kind == "W" and v.S > 1 and not c.per_sample:
            self.doc.p("The product sums over the samples:")
        self.doc.math(eq)
        return np.array(M_)

    # ------------------------------------------------------------------ values
    def forward_neuron(self, v: Vals, l: int, i: int, final: bool = False) -> str:
        """``z_{3} = w_{5} \\cdot x_{1} + … = 0.15 \\cdot 0.05 + … = 0.3775``."""
        self.S = v.S
        terms = self.n.net_terms(l, i)
        sym = self.n.net_formula(l, i)
        if terms and len(terms) <= MAX_TERMS:
            nums = " + ".join(f"{pnum(v.W[l - 1][i, j])} {self.op} {self.Vp(v.a[l - 1][j])}" if j is not None
                              else pnum(v.b[l - 1][i]) for _, j in terms)
            return f"{self.n.z(l, i)} = {sym} = {nums} = {self.V(v.z[l][i], FINAL if final else DIGITS)}"
        return f"{self.n.z(l, i)} = {sym} = {self.V(v.z[l][i], FINAL if final else DIGITS)}"

    def activation_neuron(self, v: Vals, l: int, i: int, final: bool = False) -> str:
        a, z = self.n.a(l, i), self.n.z(l, i)
        act = self.n.act(l)
        zv = v.z[l][i]
        out = self.V(v.a[l][i], FINAL if final else DIGITS)
        if act == "sigmoid":
            mid = rf"\frac{{1}}{{1 + e^{{{num(-zv[0])}}}}}" if v.S == 1 else ""
            return rf"{a} = \sigma({z}) = " + (f"{mid} = " if mid else "") + out
        if act == "tanh":
            return rf"{a} = \tanh({z}) = \tanh({self.V(zv)}) = {out}"
        if act == "relu":
            return rf"{a} = \max(0, {z}) = \max(0, {self.V(zv)}) = {out}"
        if act == "linear":
            return f"{a} = {z} = {out}"
        return f"{self.n.activation_formula(l, i)} = {out}"

    def forward_layer_matrix(self, v: Vals, l: int, final: bool = False) -> None:
        n = self.n
        d = FINAL if final else DIGITS
        self.doc.math(f"{n.vz(l)} = {n.mW(l)} {n.va(l - 1)} + {n.vb(l)} = {bmatrix(v.W[l - 1])} {bmatrix(v.a[l - 1])} + "
                      f"{bmatrix(v.b[l - 1])} = {bmatrix(v.z[l], d)}")
        f = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\max(0, \cdot)", "linear": "",
             "softmax": r"\operatorname{softmax}"}[n.act(l)]
        rhs = f"{f}({n.vz(l)})" if f else n.vz(l)
        self.doc.math(f"{n.va(l)} = {rhs} = {bmatrix(v.a[l], d)}")

    def loss_numbers(self, v: Vals) -> str:
        """E with its numbers, for one sample and a few outputs."""
        n = self.n
        K = n.sizes[n.L]
        if v.S != 1 or K > MAX_TERMS:
            return ""
        ys, ts = v.a[-1][:, 0], v.t[:, 0]
        loss = self.ex.net.loss
        if loss in ("half_sse", "sse", "mse"):
            inner = " + ".join(f"({num(y)} - {num(t)})^{{2}}" for y, t in zip(ys, ts, strict=True))
            pre = {"half_sse": r"\frac{1}{2}", "sse": "", "mse": rf"\frac{{1}}{{{K}}}"}[loss]
            return rf"{pre}\left[{inner}\right]"
        if loss == "binary_cross_entropy":
            inner = " + ".join(rf"{num(t)} \ln {num(y)} + (1 - {num(t)}) \ln(1 - {num(y)})" for y, t in zip(ys, ts, strict=True))
            return rf"-\left[{inner}\right]"
        inner = " + ".join(rf"{num(t)} \ln {num(y)}" for y, t in zip(ys, ts, strict=True))
        return rf"-\left[{inner}\right]"

    def loss_symbols(self) -> str:
        n = self.n
        K = n.sizes[n.L]
        if K > MAX_TERMS:
            return ""
        loss = self.ex.net.loss
        pairs = [(n.a(n.L, i), n.target(i)) for i in range(K)]
        if loss in ("half_sse", "sse", "mse"):
            inner = " + ".join(f"({y} - {t})^{{2}}" for y, t in pairs)
            pre = {"half_sse": r"\frac{1}{2}", "sse": "", "mse": rf"\frac{{1}}{{{K}}}"}[loss]
            return rf"{pre}\left[{inner}\right]"
        if loss == "binary_cross_entropy":
            return r"-\left[" + " + ".join(rf"{t} \ln {y} + (1 - {t}) \ln(1 - {y})" for y, t in pairs) + r"\right]"
        return r"-\left[" + " + ".join(rf"{t} \ln {y}" for y, t in pairs) + r"\right]"

    def loss_eq(self, v: Vals) -> tuple[str, float]:
        E = _loss(self.ex, v)
        parts = [self.n.loss_formula()]
        if v.S == 1:
            sym = self.loss_symbols()
            if sym:
                parts.append(sym)
            nums = self.loss_numbers(v)
            if nums:
                parts.append(nums)
        parts.append(num(E, FINAL))
        return " = ".join(parts), E

    def value(self, v: Vals, B_: Ref) -> np.ndarray:
        """Write the value of B out (its formula with numbers) and return it."""
        n = self.n
        self.S = v.S
        kind = B_.kind
        if kind == "E":
            eq, E = self.loss_eq(v)
            self.doc.p(f"{self.loss_words()}:")
            self.doc.math(eq)
            return np.array(E)
        if kind == "param":
            p = self.ex.parameters[B_.name]
            k2, l, idx = p.uses[0]
            val = v.W[l - 1][idx] if k2 == "W" else v.b[l - 1][idx]
            self.doc.p(self.describe_param(B_.name))
            self.doc.math(f"{tex_name(B_.name)} = {num(val, FINAL)}")
            return np.array(val)
        if kind in ("W", "b"):
            val = v.W[B_.layer - 1] if kind == "W" else v.b[B_.layer - 1]
            self.doc.math(f"{(n.mW if kind == 'W' else n.vb)(B_.layer)} = {bmatrix(val, FINAL)}")
            return val.copy()
        l = B_.layer
        if kind == "a" and l == 0:
            self.doc.p(f"{B_.name} is an input:")
            self.doc.math(f"{n.a(0, B_.index)} = {self.V(v.a[0][B_.index], FINAL)}")
            return v.a[0][B_.index].copy()
        if kind == "A" and l == 0:
            self.doc.p("The inputs:")
            self.doc.math(f"{n.va(0)} = {bmatrix(v.a[0], FINAL)}")
            return v.a[0].copy()
        if kind in ("a", "z"):
            i = B_.index
            if l > 1:
                self.doc.p("From the forward pass, the layer below gives ",
                           *_sep([M(f"{n.a(l - 1, j)} = {self.V(v.a[l - 1][j])}") for j in range(n.sizes[l - 1])
                                  if n.edges[l][i, j]][:MAX_TERMS]), ".")
            self.doc.p(f"The weighted sum {self.ex.nets[l][i]} of {self.ex.neurons[l][i]}:")
            self.doc.math(self.forward_neuron(v, l, i, final=kind == "z"))
            if kind == "z":
                return v.z[l][i].copy()
            self.doc.p(f"and its {n.act(l)} output:")
            self.doc.math(self.activation_neuron(v, l, i, final=True))
            return v.a[l][i].copy()
        self.doc.p("In matrix form, as in the sheet:")
        if kind == "Z":
            self.doc.math(f"{n.vz(l)} = {n.mW(l)} {n.va(l - 1)} + {n.vb(l)} = {bmatrix(v.W[l - 1])} "
                          f"{bmatrix(v.a[l - 1])} + {bmatrix(v.b[l - 1])} = {bmatrix(v.z[l], FINAL)}")
            return v.z[l].copy()
        self.forward_layer_matrix(v, l, final=True)
        return v.a[l].copy()

    # ------------------------------------------------------------------ training
    def training_words(self, q: Question) -> None:
        ex = self.ex
        N = q.after_epochs
        eta = num(ex.learning_rate)
        how = ("full-batch gradient descent: one step per epoch on E over all samples" if ex.mode == "batch"
               and ex.n_samples > 1 else "gradient descent: one step per epoch" if ex.mode == "batch"
               else "online gradient descent: one step per sample, in order, each epoch")
        self.doc.p(f"Training: {how}, for {N} epoch{'s' if N != 1 else ''} with learning rate ",
                   M(rf"\eta = {eta}"), ". Every parameter moves against its gradient:")
        self.doc.math(r"\theta \leftarrow \theta - \eta \, \frac{\partial E}{\partial \theta}")
        fixed = [name for name, p in ex.parameters.items() if p.fixed]
        tied = [name for name, p in ex.parameters.items() if p.shape == () and len(p.uses) > 1 and not p.fixed]
        notes = []
        if fixed:
            notes.append(f"Fixed parameters ({', '.join(fixed)}) do not train: they keep their values.")
        if tied:
            notes.append(f"A shared parameter ({', '.join(tied)}) moves once per step, by the sum of its "
                         "gradients over its uses.")
        if any(not ex.net.W_train[l].all() for l in range(ex.net.L)) and not fixed:
            notes.append("Edges that are not in the network stay 0.")
        if notes:
            self.doc.p(" ".join(notes))

    def trained_params(self, v: Vals) -> None:
        n = self.n
        scalars = [(name, p) for name, p in self.ex.parameters.items() if p.shape == ()]
        if scalars:
            cells = []
            for name, p in scalars:
                kind, l, idx = p.uses[0]
                val = v.W[l - 1][idx] if kind == "W" else v.b[l - 1][idx]
                cells.append(f"{tex_name(name)} = {num(val)}")
            for k in range(0, len(cells), 4):
                self.doc.math(r",\quad ".join(cells[k:k + 4]))
        for l in range(1, n.L + 1):
            if any(p.shape != () and p.uses[0][1] == l for p in self.ex.parameters.values()):
                self.doc.math(f"{n.mW(l)} = {bmatrix(v.W[l - 1])},\\quad {n.vb(l)} = {bmatrix(v.b[l - 1])}")

    def one_step(self, q: Question, v0: Vals, B_: Ref) -> np.ndarray:
        """One gradient step on a parameter, written out; returns the new value."""
        ex, n = self.ex, self.n
        eta = num(ex.learning_rate)
        E = Ref("E", "E")
        if B_.kind == "param":
            p = ex.parameters[B_.name]
            sp = tex_name(p.name)
            kind, l, idx = p.uses[0]
            old = v0.W[l - 1][idx] if kind == "W" else v0.b[l - 1][idx]
            if p.fixed:
                self.doc.p(f"{p.name} is fixed: it does not train, so after the step it still has its value:")
                self.doc.math(f"{sp} = {num(old, FINAL)}")
                return np.array(old)
            self.doc.p("First the gradient at the starting values.")
            g = float(self.derivative(v0, E, B_, matrix_form=False))
            new = old - ex.learning_rate * g
            self.doc.p("Then one step:")
            self.doc.math(rf"{sp} \leftarrow {sp} - \eta \, {dd('E', sp)} = {num(old)} - {eta} \cdot {pnum(g)} = "
                          f"{num(new, FINAL)}")
            return np.array(new)
        l = B_.layer
        kind = B_.kind
        self.doc.p("First the gradient at the starting values.")
        g = self.derivative(v0, E, B_)
        eff, mask = self._effective(v0, l, kind, g)
        old = v0.W[l - 1] if kind == "W" else v0.b[l - 1]
        new = old - ex.learning_rate * eff * mask
        sym = n.mW(l) if kind == "W" else n.vb(l)
        changed = not (mask.all() and np.array_equal(eff, g))
        if changed:
            self.doc.p("Only entries that train move (fixed parameters and missing edges stay; a shared "
                       "parameter moves by its summed gradient), so the step uses")
            self.doc.math(rf"\Delta = {bmatrix(eff * mask)}")
            grad = r"\Delta"
        else:
            grad = dd("E", sym)
        self.doc.p("Then one step:")
        self.doc.math(rf"{sym} \leftarrow {sym} - \eta \, {grad} = {bmatrix(old)} - {eta} {bmatrix(eff * mask)} = "
                      f"{bmatrix(new, FINAL)}")
        return new

    def _effective(self, v0: Vals, l: int, kind: str, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gradient a step applies to W(l)/b(l): tied entries summed, untrained entries masked."""
        ex = self.ex
        c = _Ctx(self, v0, Ref("E", "E"))
        dW = [c.D[k] @ v0.a[k - 1].T for k in range(1, ex.net.L + 1)]
        db = [c.D[k].sum(axis=1) for k in range(1, ex.net.L + 1)]
        eff = np.array(g, dtype=float)
        for group in ex.net.ties:
            total = sum((dW if kk == "W" else db)[ll - 1][idx] for kk, ll, idx in group)
            for kk, ll, idx in group:
                if kk == kind and ll == l:
                    eff[idx] = total
        mask = (ex.net.W_train if kind == "W" else ex.net.b_train)[l - 1].astype(float)
        return eff, mask

    # ------------------------------------------------------------------ sections
    def network(self) -> None:
        ex, n = self.ex, self.n
        self.doc.h(2, "The network")
        names = []
        for l in range(n.L + 1):
            what = "inputs" if l == 0 else "outputs" if l == n.L else f"layer {l} ({n.act(l)})"
            names.append(f"{what} {', '.join(ex.neurons[l])}" if n.sizes[l] <= 12 else f"{what}: {n.sizes[l]} neurons")
        self.doc.p("The network has " + "; ".join(names) + ". The connections are:")
        for l in range(1, n.L + 1):
            if n.sizes[l] > MAX_TERMS:
                self.doc.math(f"{n.vz(l)} = {n.mW(l)} {n.va(l - 1)} + {n.vb(l)} \\Rightarrow {n.va(l)} = "
                              f"{_act_vec(n.act(l))}({n.vz(l)})")
                continue
            for i in range(n.sizes[l]):
                act = n.activation_formula(l, i).split(" = ")[1]
                self.doc.math(rf"{n.z(l, i)} = {n.net_formula(l, i)} \Rightarrow {n.a(l, i)} = {act}")
        mats = []
        for l in range(1, n.L + 1):
            if n.sizes[l] <= MAX_SHOWN and n.sizes[l - 1] <= MAX_SHOWN:
                cells = [[n.wsym.get((l, i, j), "0") for j in range(n.sizes[l - 1])] for i in range(n.sizes[l])]
                mats.append(f"{n.mW(l)} = {symbolic_matrix(cells)}")
        if mats:
            self.doc.p("Matrix representation (rows are the neurons a layer feeds):")
            self.doc.math(r",\quad ".join(mats))
            self.doc.math(r",\quad ".join(
                f"{n.vz(l)} = {n.mW(l)} {n.va(l - 1)} + {n.vb(l)}, \\; {n.va(l)} = {_act_vec(n.act(l))}({n.vz(l)})"
                for l in range(1, n.L + 1)))
        self.doc.p("The error (", Code(ex.net.loss), "), with ", M("E"), " for ", M(r"E_{\text{total}}"),
                   " as the sheet writes it:")
        self.doc.math(n.loss_formula())

    def forward_section(self) -> None:
        n, v = self.n, self.base
        self.S = v.S
        self.doc.h(2, "Forward pass")
        data = [M(f"{n.a(0, j)} = {self.V(v.x[j])}") for j in range(min(n.sizes[0], MAX_TERMS))]
        if not np.isnan(v.t).all():
            data += [M(f"{n.target(i)} = {self.V(v.t[i])}") for i in range(min(n.sizes[n.L], MAX_TERMS))]
        self.doc.p("With the exercise's values (", *_sep(data), "), layer by layer:")
        self.forward_all(v)
        if not np.isnan(v.t).all():
            eq, _ = self.loss_eq(v)
            self.doc.math(eq)

    def forward_all(self, v: Vals) -> None:
        n = self.n
        for l in range(1, n.L + 1):
            if sum(n.sizes) <= MAX_NEURONS and n.act(l) != "softmax" and max(n.sizes) <= MAX_TERMS:
                for i in range(n.sizes[l]):
                    self.doc.math(self.forward_neuron(v, l, i) + r" \quad\Rightarrow\quad " + self.activation_neuron(v, l, i))
            else:
                self.forward_layer_matrix(v, l)

    def forward_values(self, v: Vals) -> None:
        """A compact list of the forward pass's values (for a question's own values)."""
        n = self.n
        if sum(n.sizes) > MAX_NEURONS:
            return
        self.S = v.S
        for l in range(1, n.L + 1):
            self.doc.math(r",\quad ".join(f"{n.z(l, i)} = {self.V(v.z[l][i])}, \\; {n.a(l, i)} = {self.V(v.a[l][i])}"
                                          for i in range(n.sizes[l])))

    def question(self, q: Question) -> None:
        ex = self.ex
        A, B_ = q.quantity.a, q.quantity.b
        pts = f"{format(q.points, 'g')} point{'s' if q.points != 1 else ''}"
        self.doc.h(2, f"Question {q.id}: {q.ask} ({pts})")
        if q.text:
            self.doc.quote(q.text)
        if q.given:
            self.doc.p("Given (for this question only): ",
                       *_sep([M(f"{tex_name(name)} = {_given_tex(value)}") for name, value in q.given]), ".")
        start = _start(ex, q)
        v0 = _vals(ex, start)
        if q.after_epochs:
            self.training_words(q)
            scalar_param = B_.kind == "param" or (B_.kind in ("W", "b") and A is None)
            if (A is None and scalar_param and q.after_epochs == 1
                    and (ex.mode == "batch" or ex.n_samples == 1)):
                value = self.one_step(q, v0, B_)
                self.answer(q, value)
                return
            solver._train(ex.net, start, ex.learning_rate, q.after_epochs, ex.mode)
            trained = _vals(ex, start)
            self.doc.p(f"After {q.after_epochs} epoch{'s' if q.after_epochs != 1 else ''} (a program repeats the "
                       "steps of the questions above) the parameters are:")
            self.trained_params(trained)
        if q.sample is not None:
            self.doc.p(f"The question is about sample {q.sample} alone (numbered from 0).")
        s = _sample(start, q.sample)
        v = _vals(ex, s)
        if (q.given or q.after_epochs or q.sample is not None) and (A is not None or B_.kind in ("E",)) \
                and sum(self.n.sizes) <= MAX_NEURONS:
            self.doc.p("The forward pass with these values gives:")
            self.forward_values(v)
        value = self.value(v, B_) if A is None else self.derivative(v, A, B_)
        if solver.per_sample(A, B_) and (q.sample is not None or not ex.has_samples):
            value = value[..., 0] if np.ndim(value) else value
        self.answer(q, value)

    def answer(self, q: Question, value: Any) -> None:
        value = np.asarray(value, dtype=float)
        self.values[q.id] = value
        A, B_ = q.quantity.a, q.quantity.b
        lhs = (dd(tex_name(A.name) if A.kind != "E" else "E", _ref_tex(self.n, B_)) if A is not None
               else _ref_tex(self.n, B_))
        when = f"\\text{{ after {q.after_epochs} epoch{'s' if q.after_epochs != 1 else ''}}}" if q.after_epochs else ""
        shown = num(value, FINAL) if value.ndim == 0 else bmatrix(value, FINAL)
        self.doc.p(B("Answer:"))
        self.doc.math(f"{lhs}{when} = {shown}")

    def build(self, figure_node: tuple[str, str] | None) -> Doc:
        ex = self.ex
        self.doc.h(1, f"Worked solution: {ex.title}")
        if ex.description:
            self.doc.p(ex.description)
        self.doc.p("Exercise ", Code(ex.id), "; learning rate ", M(rf"\eta = {num(ex.learning_rate)}"),
                   f"; {ex.n_samples} sample{'s' if ex.n_samples != 1 else ''}.")
        if figure_node is not None:
            self.doc.raw(*figure_node)
        self.network()
        if ex.questions:
            self.forward_section()
        for q in ex.questions:
            self.question(q)
        return self.doc


def _act_vec(act: str) -> str:
    return {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\operatorname{relu}", "linear": "",
            "softmax": r"\operatorname{softmax}"}[act]


def _ref_tex(n: Notation, ref: Ref) -> str:
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


def _figure_nodes(ex: Exercise, figure_src: str | None) -> tuple[str, str]:
    if figure_src is not None:
        alt = f"Network of {ex.id}"
        return (f"![{md_escape(alt)}]({figure_src})",
                f'<figure><img src="{_html.escape(figure_src)}" alt="{_html.escape(alt)}"></figure>')
    svg = figure.svg(ex).strip()
    inline = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)  # implied inside HTML
    return svg, f"<figure>\n{inline}\n</figure>"


# ---------------------------------------------------------------------------- public API
def build(ex: Exercise, figure_src: str | None = None, with_figure: bool = False) -> tuple[Doc, dict[str, Any]]:
    """The worked solution as a :class:`Doc`, and each question's value as derived in it."""
    w = _Writer(ex)
    node = _figure_nodes(ex, figure_src) if with_figure or figure_src is not None else None
    doc = w.build(node)
    return doc, w.values


def markdown(ex: Exercise, figure_src: str | None = None) -> str:
    """The whole worked solution as Markdown with ``$$`` LaTeX (GitHub, Jupyter).

    ``figure_src``: a path or URL of the network figure (``grade figure``) to reference as an
    image; by default the Markdown carries no figure (GitHub would strip an inline SVG).
    """
    return build(ex, figure_src)[0].markdown()


def html(ex: Exercise) -> str:
    """One self-contained HTML page: formulas as MathML, the SVG figure inline, no network needed."""
    doc, _ = build(ex, with_figure=True)
    return html_page(f"Worked solution: {ex.title}", doc.html_body())


def values(ex: Exercise) -> dict[str, Any]:
    """Each question's value as the worked solution derives it (for checking against the key)."""
    return build(ex)[1]
