"""The sections of a worked solution, question by question, and the public entry points."""

from __future__ import annotations

import html as _html
from pathlib import Path
from typing import Any

import numpy as np

from .. import figure, solver
from ..chain import derivative_formula
from ..spec import Exercise, Question
from .doc import B, Code, Doc, M, html_page, md_escape
from .numbers import Vals, _sample, _start, _vals
from .tex import (
    FINAL,
    MAX_NEURONS,
    MAX_SHOWN,
    MAX_TERMS,
    _act_vec,
    _given_tex,
    _ref_tex,
    _sep,
    bmatrix,
    dd,
    num,
    symbolic_matrix,
    tex_name,
)
from .training import _Training


class _Writer(_Training):
    """The whole document: network, forward pass, one section per question."""

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
            self.given_words(q)
        start = _start(ex, q)
        v0 = _vals(ex, start)
        if q.after_epochs:
            self.training_words(q)
            parameter = A is None and B_.kind in ("param", "W", "b")
            online = ex.mode == "online" and ex.n_samples > 1
            if parameter and q.after_epochs == 1 and not online:  # the one step is the answer
                value = self.one_step(q, v0, B_)
                self.answer(q, value)
                return
            self.first_step(q, start, B_ if parameter else None)
            if q.after_epochs > 1:
                self.show_curve(q, start)
            solver._train(ex.net, start, ex.learning_rate, q.after_epochs, ex.mode)
            trained = _vals(ex, start)
            self.doc.p(f"After {q.after_epochs} epoch{'s' if q.after_epochs != 1 else ''} (a program repeats the "
                       "steps of the questions above) the parameters are:")
            self.trained_params(trained)
        s = _sample(start, q.sample)
        if q.sample is not None:
            self.sample_words(q, _vals(ex, s))
        v = _vals(ex, s)
        if (q.given or q.after_epochs or q.sample is not None) and (A is not None or B_.kind in ("E",)) \
                and sum(self.n.sizes) <= MAX_NEURONS:
            self.doc.p("The forward pass with these values gives:")
            self.forward_values(v)
        value = self.value(v, B_) if A is None else self.derivative(v, A, B_)
        if solver.per_sample(A, B_) and (q.sample is not None or not ex.has_samples):
            value = value[..., 0] if np.ndim(value) else value
        self.answer(q, value)

    def given_words(self, q: Question) -> None:
        """What ``given`` changes: each new value and the exercise's own one it replaces."""
        spans = []
        for name, value in q.given:
            old = _original(self.ex, name)
            row = self.ex.names[name].kind == "a"  # a neuron's value per sample: a row, one column per sample
            was = rf"\;\text{{(instead of}}\; {_shown_given(old, row)}\text{{)}}" if old is not None else ""
            spans.append(M(f"{tex_name(name)} = {_shown_given(value, row)}{was}"))
        self.doc.p("Given, for this question only (everything else keeps the exercise's values): ", *_sep(spans), ".")

    def sample_words(self, q: Question, v: Vals) -> None:
        """What ``sample`` changes: the data of that sample alone, and what E then is."""
        n = self.n
        data = [M(f"{n.a(0, j)} = {self.V(v.x[j])}") for j in range(min(n.sizes[0], MAX_TERMS))]
        if not np.isnan(v.t).all():
            data += [M(f"{n.target(i)} = {self.V(v.t[i])}") for i in range(min(n.sizes[n.L], MAX_TERMS))]
        trained = " Training used every sample; only what is evaluated is this one." if q.after_epochs else ""
        mean = (" E is this sample's loss alone: the mean over one sample is that sample's loss, so no 1/S."
                if self.ex.net.reduction == "mean" else " E is this sample's loss alone.")
        self.doc.p(f"The question is about sample {q.sample} alone (numbered from 0): ", *_sep(data), ".",
                   trained, mean)

    def answer(self, q: Question, value: Any) -> None:
        value = np.asarray(value, dtype=float)
        self.values[q.id] = value
        A, B_ = q.quantity.a, q.quantity.b
        lhs = (dd(tex_name(A.name) if A.kind != "E" else "E", _ref_tex(B_)) if A is not None
               else _ref_tex(B_))
        when = (rf"\;\text{{after {q.after_epochs} epoch{'s' if q.after_epochs != 1 else ''}}}"
                if q.after_epochs else "")
        shown = num(value, FINAL) if value.ndim == 0 else bmatrix(value, FINAL)
        self.doc.p(B("Answer:"))
        self.doc.math(f"{lhs}{when} = {shown}")
        formula = derivative_formula(self.ex, q)  # the very expression of grade key --formulas
        if isinstance(formula, str):
            self.doc.p("As a formula answer, in the exercise's names: ", Code(formula))
        elif isinstance(formula, list) and np.size(formula) <= 6:
            entries = [(idx, f) for idx, f in np.ndenumerate(np.array(formula, dtype=object))]
            self.doc.p("As a formula answer, entry by entry, in the exercise's names:")
            self.doc.items([(Code("".join(f"[{i}]" for i in idx)), ": ", Code(f)) for idx, f in entries])

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



def _shown_given(value: Any, row: bool) -> str:
    arr = np.asarray(value, dtype=float)
    return bmatrix(arr[None, :]) if row and arr.ndim == 1 else _given_tex(arr)


def _original(ex: Exercise, name: str) -> Any:
    """The exercise's own value of a name that ``given`` may set (None where there is none)."""
    ref = ex.names.get(name)
    if ref is None:
        return None
    if ref.kind == "param":
        p = ex.parameters[name]
        if p.shape != ():
            kind, l, _ = p.uses[0]
            return (ex.W if kind == "W" else ex.b)[l - 1]
        kind, l, idx = p.uses[0]
        return (ex.W if kind == "W" else ex.b)[l - 1][idx]
    if ref.kind in ("W", "b"):
        return (ex.W if ref.kind == "W" else ex.b)[ref.layer - 1]
    data = ex.x if ref.layer == 0 else ex.t
    if ref.kind == "a":
        row = data[ref.index]
        return row if ex.has_samples else row[0]
    return data if ex.has_samples else data[:, 0]


def _figure_nodes(ex: Exercise, figure_src: str | None) -> tuple[str, str]:
    if figure_src is not None:
        alt = f"Network of {ex.id}"
        return (f"![{md_escape(alt)}]({figure_src})",
                f'<figure><img src="{_html.escape(figure_src)}" alt="{_html.escape(alt)}"></figure>')
    svg = figure.svg(ex).strip()
    inline = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)  # implied inside HTML
    return svg, f"<figure>\n{inline}\n</figure>"


# ---------------------------------------------------------------------------- public API
def _writer(ex: Exercise, figure_src: str | None, with_figure: bool, assets: str | None) -> tuple[_Writer, Doc]:
    w = _Writer(ex)
    w.assets = assets
    node = _figure_nodes(ex, figure_src) if with_figure or figure_src is not None else None
    return w, w.build(node)


def build(ex: Exercise, figure_src: str | None = None, with_figure: bool = False) -> tuple[Doc, dict[str, Any]]:
    """The worked solution as a :class:`Doc`, and each question's value as derived in it."""
    w, doc = _writer(ex, figure_src, with_figure, None)
    return doc, w.values


def markdown(ex: Exercise, figure_src: str | None = None) -> str:
    """The whole worked solution as Markdown with ``$$`` LaTeX (GitHub, Jupyter).

    ``figure_src``: a path or URL of the network figure (``grade figure``) to reference as an
    image; by default the Markdown carries no figure (GitHub would strip an inline SVG). Training
    curves are tables here; :func:`markdown_files` also writes them as pictures.
    """
    return build(ex, figure_src)[0].markdown()


def markdown_files(ex: Exercise, path: str | Path, figure_src: str | None = None) -> dict[Path, str]:
    """The Markdown for ``path`` and, beside it, each training curve as an SVG it references
    (``<stem>-<question id>-curve.svg``): path -> text, the Markdown first."""
    path = Path(path)
    w, doc = _writer(ex, figure_src, False, path.stem)
    return {path: doc.markdown(), **{path.with_name(name): svg for name, svg in w.files.items()}}


def html(ex: Exercise) -> str:
    """One self-contained HTML page: formulas as MathML, the SVG figure inline, no network needed."""
    doc, _ = build(ex, with_figure=True)
    return html_page(f"Worked solution: {ex.title}", doc.html_body())


def values(ex: Exercise) -> dict[str, Any]:
    """Each question's value as the worked solution derives it (for checking against the key)."""
    return build(ex)[1]
