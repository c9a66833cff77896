"""A small document model (paragraphs, display math, tables) rendered to Markdown and HTML."""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass
from typing import Any

from .layout import fit
from .mathml import mathml


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

    def code(self, text: str, lang: str = "") -> None:
        """A block of code or data, shown verbatim."""
        self.nodes.append(("code", text, lang))

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
            elif kind == "code":
                fence = "````" if "```" in node[1] else "```"
                parts.append(f"{fence}{node[2]}\n{node[1].rstrip()}\n{fence}")
            elif kind == "raw" and node[1]:
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
                latex, scale = fit(node[1])
                style = f' style="font-size: {round(scale * 100)}%"' if scale < 1 else ""
                parts.append(f'<div class="math"{style}>{mathml(latex, display=True)}</div>')
            elif kind == "ul":
                parts.append("<ul>\n" + "\n".join(f"<li>{self._html_spans(i)}</li>" for i in node[1]) + "\n</ul>")
            elif kind == "table":
                header, rows = node[1], node[2]
                cell = lambda s: self._html_spans(s if isinstance(s, tuple) else (s,))
                lines = ["<table>", "<tr>" + "".join(f"<th>{cell(c)}</th>" for c in header) + "</tr>"]
                lines += ["<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows]
                parts.append("\n".join(lines + ["</table>"]))
            elif kind == "code":
                parts.append(f"<pre><code>{_html.escape(node[1].rstrip())}</code></pre>")
            elif kind == "raw":
                parts.append(node[2])
        return "\n".join(parts) + "\n"


PAGE_STYLE = """\
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5;
       max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #111827; }
math { font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Math TeX Gyre", math;
       font-size: 1.1em; }
div.math { overflow-x: auto; overflow-y: hidden; margin: 0.6em 0; padding: 0.3em 0; }
div.math math { max-width: 100%; }
figure { margin: 1em 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
blockquote { border-left: 4px solid #d1d5db; margin: 1em 0; padding: 0 1em; color: #374151; }
table { border-collapse: collapse; } td, th { border: 1px solid #d1d5db; padding: 0.2em 0.6em; }
h2 { border-bottom: 1px solid #e5e7eb; padding-bottom: 0.2em; margin-top: 2em; }
@page { size: A4; margin: 15mm; }
@media print { body { max-width: none; margin: 0; padding: 0; } h2 { break-after: avoid; }
               div.math, figure, table { break-inside: avoid; } }
"""


def html_page(title: str, body: str) -> str:
    """A self-contained HTML page: inline style, MathML, no scripts and no external references."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_html.escape(title)}</title>\n<style>\n{PAGE_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"{body}</main>\n</body>\n</html>\n"
    )
