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

Modules: :mod:`.doc` (the document model), :mod:`.mathml` (LaTeX to MathML), :mod:`.tex` (LaTeX
pieces), :mod:`.notation` (the exercise's names), :mod:`.numbers` (values and the backward pass),
and the writer in layers: :mod:`.chain` (derivatives), :mod:`.matrix` (matrix form),
:mod:`.forward` (values), :mod:`.training` (after_epochs), :mod:`.writer` (sections, entry points).
"""

from __future__ import annotations

from .doc import Doc, html_page, md_escape
from .mathml import mathml
from .tex import bmatrix, num, pnum, tex_name
from .writer import build, html, markdown, markdown_files, values

__all__ = ["Doc", "bmatrix", "build", "html", "html_page", "markdown", "markdown_files", "mathml", "md_escape", "num", "pnum",
           "tex_name", "values"]
