"""Display formulas that fit the page: long ones set as aligned rows, the widest scaled down.

The HTML page must read at a 1200 px window and print on A4 (180 mm of text, about 680 px) with
no formula cut off or scrolled. MathML in browsers does not break lines by itself, so a formula
is measured here, in em, from its MathML (an estimate on the generous side); one wider than
:data:`BUDGET` is set as rows at its top-level ``=`` (``lhs = a`` / ``= b`` / …), a row still too
wide is broken before its top-level ``+`` and ``-``, and what is still too wide is scaled down.
The tests measure the result in headless Chromium.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .mathml import _TOKEN, mathml

# estimated em; A4 text (680 px) is 38.6 em of the formula font (1.1 × 16 px); the estimate runs
# up to 25 % short, and a 30 em row once measured 4 px over the A4 box
BUDGET = 29.0
MIN_SCALE = 0.55

_REL = {"=", "←", "⇒", "→", "≈", "≤", "≥", "≠", "∈"}
_BIN = {"+", "−", "⋅", "⊙", "×", "/"}


def _text_width(text: str, per: float) -> float:
    return sum(0.3 if ch in ".,:;'′ " else per for ch in text)


def _width(el: ET.Element, scale: float = 1.0) -> float:
    tag = el.tag
    text = (el.text or "").strip()
    if tag == "mn":
        return scale * _text_width(text, 0.52)
    if tag == "mi":
        return scale * _text_width(text, 0.6 if len(text) == 1 else 0.52)
    if tag == "mtext":
        return scale * _text_width(el.text or "", 0.52)
    if tag == "mo":
        pad = 0.6 if text in _REL else 0.5 if text in _BIN else 0.2 if text == "," else 0.05
        return scale * (_text_width(text, 0.6) + pad)
    if tag == "mspace":
        w = el.get("width", "0em")
        return scale * float(w[:-2]) if w.endswith("em") else 0.0
    kids = list(el)
    if tag == "mfrac":
        return max(_width(k, scale * 0.9) for k in kids) + 0.3 * scale
    if tag in ("msub", "msup"):
        return _width(kids[0], scale) + _width(kids[1], scale * 0.75) + 0.05
    if tag == "msubsup":
        return _width(kids[0], scale) + max(_width(kids[1], scale * 0.75), _width(kids[2], scale * 0.75)) + 0.05
    if tag == "mtable":
        cols: dict[int, float] = {}
        for tr in kids:
            for k, td in enumerate(tr):
                cols[k] = max(cols.get(k, 0.0), sum(_width(c, scale) for c in td) + 0.9 * scale)
        return sum(cols.values())
    return sum(_width(k, scale) for k in kids)


def width(latex: str) -> float:
    """The estimated width of a display formula, in em."""
    return _width(ET.fromstring(mathml(latex, display=True)))


def _split(latex: str, seps: set[str]) -> list[tuple[str, str]]:
    """``latex`` cut before each top-level separator token: [(separator, text after it), …]."""
    out: list[tuple[str, str]] = [("", "")]
    depth = 0
    for tok in _TOKEN.findall(latex):
        if tok in ("{", r"\left", r"\begin"):
            depth += 1
        elif tok in ("}", r"\right", r"\end"):
            depth -= 1
        if depth == 0 and tok in seps and out[-1][1].strip():
            out.append((tok, ""))
            continue
        sep, text = out[-1]
        out[-1] = (sep, text + tok)
    return [(sep, text.strip()) for sep, text in out]


_SPACE = (r"\quad", r"\;", r"\qquad")


def _equations(latex: str) -> list[str]:
    """A formula that lists several equations (``a = 1,\\quad b = 2``, ``z = …, \\; o = …`` or
    ``… \\Rightarrow …``): each equation."""
    toks = _TOKEN.findall(latex)
    solid = [k for k, t in enumerate(toks) if not t.isspace()]
    out, cur, depth = [], [], 0
    for n, k in enumerate(solid):
        tok = toks[k]
        if tok in ("{", r"\left", r"\begin"):
            depth += 1
        elif tok in ("}", r"\right", r"\end"):
            depth -= 1
        nxt = toks[solid[n + 1]] if n + 1 < len(solid) else ""
        if depth == 0 and (tok == r"\Rightarrow" or (tok == "," and nxt in _SPACE)):
            out.append(cur)
            cur = []
            continue
        cur.append(k)
    out.append(cur)
    parts = []
    for ks in out:
        while ks and toks[ks[0]] in _SPACE:
            ks = ks[1:]
        while ks and toks[ks[-1]] in _SPACE:
            ks = ks[:-1]
        if ks:
            parts.append("".join(toks[ks[0]:ks[-1] + 1]).strip())
    return parts


def _rows(eq: str) -> list[tuple[str, str]]:
    """One equation as aligned rows (left side, right side starting with its relation)."""
    parts = _split(eq, {"=", r"\leftarrow", r"\approx"})
    lhs, rows = parts[0][1], []
    for sep, text in parts[1:]:
        row = f"{sep} {text}"
        if width(row) > BUDGET:  # a long sum: break before its top-level + and −
            terms = _split(text, {"+", "-"})
            line = f"{sep} {terms[0][1]}"
            for op, term in terms[1:]:
                if width(f"{line} {op} {term}") > BUDGET:
                    rows.append(line)
                    line = rf"\quad {op} {term}"
                else:
                    line = f"{line} {op} {term}"
            rows.append(line)
        else:
            rows.append(row)
    if not rows:
        return [(lhs, "")]
    return [(lhs if k == 0 else "", r) for k, r in enumerate(rows)]


def fit(latex: str) -> tuple[str, float]:
    """The formula as it should be set, and a font scale (1 where it fits as it is)."""
    if width(latex) <= BUDGET:
        return latex, 1.0
    rows: list[tuple[str, str]] = []
    for eq in _equations(latex):
        rows += _rows(eq)
    body = r" \\ ".join(f"{left} & {right}" for left, right in rows)
    aligned = r"\begin{aligned} " + body + r" \end{aligned}"
    w = width(aligned)
    scale = 1.0 if w <= BUDGET else max(MIN_SCALE, BUDGET / w)
    return aligned, round(scale, 2)
