"""A strict LaTeX-to-MathML converter for the LaTeX the worked solutions write."""

from __future__ import annotations

import html as _html
import re

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
_FENCES = {"bmatrix": ("[", "]"), "pmatrix": ("(", ")"), "matrix": ("", ""), "aligned": ("", "")}
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
                cell = "".join(self.seq(("&", r"\\", r"\end")))
                if env == "aligned":  # rows of "left & = right": the relation lines up
                    side = "right" if len(cells) % 2 == 0 else "left"
                    cells.append(f'<mtd style="text-align: {side}; padding: 0.15em 0">{cell}</mtd>')
                else:
                    cells.append("<mtd>" + cell + "</mtd>")
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
