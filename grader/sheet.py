r"""The student version of an exercise: the figure, the values and the questions, no answers.

:func:`markdown` writes Markdown with ``$$`` LaTeX, like :mod:`grader.worked`, from the spec
alone: the network's structure and starting values, the learning rate and loss, and each
question with its ``text``, ``given`` values, ``after_epochs`` and ``sample``. Nothing here calls
the solver, so no answer can leak into it. Pure and deterministic.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .spec import Exercise, Question
from .spec.functions import _CONVENTION
from .worked.doc import B, Code, Doc, M
from .worked.notation import Notation
from .worked.tex import bmatrix, dd, num, tex_name
from .worked.writer import _figure_nodes, _Writer


def ask_tex(q: Question) -> str:
    """What a question asks, as LaTeX: ``\\frac{\\partial E}{\\partial w_{6}}`` or ``w_{6}``."""
    A, B_ = q.quantity.a, q.quantity.b
    bottom = "E" if B_.kind == "E" else tex_name(B_.name)
    if A is None:
        return bottom
    return dd("E" if A.kind == "E" else tex_name(A.name), bottom)


def _given(value: Any) -> str:
    arr = np.asarray(value, dtype=float)
    return num(arr) if arr.ndim == 0 else bmatrix(arr)


def _parameter_rows(ex: Exercise, n: Notation) -> tuple[list[tuple[Any, ...]], list[str]]:
    rows, matrices = [], []
    for name, p in ex.parameters.items():
        trains = "no (fixed)" if p.fixed else "yes"
        if p.shape != ():
            kind, l, _ = p.uses[0]
            what = f"{'weights' if kind == 'W' else 'biases'} of layer {l} ({' × '.join(map(str, p.shape))})"
            value = ex.W[l - 1] if kind == "W" else ex.b[l - 1]
            rows.append((M(tex_name(name)), what, "below", trains))
            matrices.append(f"{tex_name(name)} = {bmatrix(value)}")
            continue
        kind, l, idx = p.uses[0]
        if kind == "W":
            what = f"edge {ex.neurons[l - 1][idx[1]]} → {ex.neurons[l][idx[0]]}"
            value = ex.W[l - 1][idx]
        else:
            owners = [ex.neurons[ll][ii[0]] for _, ll, ii in p.uses]
            what = f"bias of {', '.join(owners)}" + (" (shared)" if len(owners) > 1 else "")
            value = ex.b[l - 1][idx]
        if kind == "W" and len(p.uses) > 1:
            what = "edges " + ", ".join(f"{ex.neurons[ll - 1][ii[1]]} → {ex.neurons[ll][ii[0]]}"
                                        for _, ll, ii in p.uses) + " (shared)"
        rows.append((M(tex_name(name)), what, M(num(value)), trains))
    return rows, matrices


def _data(doc: Doc, ex: Exercise, n: Notation, label: str, layer: int, data: np.ndarray) -> None:
    names = ex.neurons[layer]
    sym = (lambda i: n.target(i)) if layer else (lambda i: n.a(0, i))
    if not ex.has_samples:
        if len(names) <= 12:
            cells: list[Any] = []
            for i in range(len(names)):
                cells += [", "] if cells else []
                cells.append(M(f"{sym(i)} = {num(data[i, 0])}"))
            doc.p(B(f"{label}:"), " ", *cells, ".")
        else:
            doc.p(B(f"{label}:"))
            doc.math(f"{n.va(layer) if layer == 0 else n.vt()} = {bmatrix(data[:, 0])}")
        return
    S = data.shape[1]
    doc.p(B(f"{label}"), f" ({S} sample{'s' if S != 1 else ''}, one column each):")
    header = ("", *[f"sample {s}" for s in range(S)])
    doc.table(header, [(M(sym(i)), *[M(num(v)) for v in data[i]]) for i in range(len(names))])


def build(ex: Exercise, figure_src: str | None = None) -> Doc:
    """The student sheet as a :class:`~grader.worked.Doc` (figure inline unless ``figure_src``)."""
    w = _Writer(ex)
    n = w.n
    doc = w.doc
    doc.h(1, ex.title)
    if ex.description:
        doc.p(ex.description)
    doc.p("Exercise ", Code(ex.id), f". {len(ex.questions)} question{'s' if len(ex.questions) != 1 else ''}, "
          f"{format(ex.max_score, 'g')} points.")
    doc.raw(*_figure_nodes(ex, figure_src))
    w.network()

    doc.h(2, "Values")
    _data(doc, ex, n, "Inputs", 0, ex.x)
    if not np.isnan(ex.t).all():
        _data(doc, ex, n, "Targets", n.L, ex.t)
    rows, matrices = _parameter_rows(ex, n)
    if rows:
        doc.p(B("Parameters"), " (starting values):")
        doc.table(("parameter", "connects", "value", "trains"), rows)
        for m in matrices:
            doc.math(m)
    how = ("online gradient descent (one step per sample, in order, each epoch)" if ex.mode == "online"
           else "full-batch gradient descent (one step per epoch on E over all samples)" if ex.n_samples > 1
           else "gradient descent (one step per epoch)")
    doc.p(B("Training:"), f" {how}, ", M(r"\theta \leftarrow \theta - \eta \, \frac{\partial E}{\partial \theta}"),
          " with learning rate ", M(rf"\eta = {num(ex.learning_rate)}"), ".")
    doc.p(B("Loss:"), " ", Code(ex.net.loss), (", averaged over the samples" if ex.net.reduction == "mean" else ""),
          ", ", M(n.loss_formula()), ".")

    doc.h(2, "Questions")
    items = []
    for q in ex.questions:
        pts = f"{format(q.points, 'g')} point{'s' if q.points != 1 else ''}"
        spans: list[Any] = [B(f"Question {q.id}"), " ", M(ask_tex(q)), f" ({pts})"]
        if q.text:
            spans += [": ", q.text]
        clauses: list[list[Any]] = []
        if q.given:
            given: list[Any] = ["given "]
            for j, (name, value) in enumerate(q.given):
                given += [", "] if j else []
                given.append(M(f"{tex_name(name)} = {_given(value)}"))
            clauses.append([*given, " (this question only)"])
        if q.after_epochs:
            clauses.append([f"after {q.after_epochs} epoch{'s' if q.after_epochs != 1 else ''} of training"])
        if q.sample is not None:
            clauses.append([f"for sample {q.sample} alone (numbered from 0)"])
        for j, clause in enumerate(clauses):
            spans += [" — " if j == 0 else "; ", *clause]
        items.append(tuple(spans))
    doc.items(items)
    submitting(doc, ex)
    return doc


# ---------------------------------------------------------------------------- how to submit
def answers_template(ex: Exercise) -> dict[str, Any]:
    """An answers file with every question id and ``null``: ``{"exercise": ID, "answers": {…}}``."""
    return {"exercise": ex.id, "answers": {q.id: None for q in ex.questions}}


def template_json(ex: Exercise) -> str:
    return json.dumps(answers_template(ex), indent=2, ensure_ascii=False) + "\n"


def _shape(ex: Exercise, name: str) -> str:
    """The shape of a conventional argument or return name in this exercise (columns are samples)."""
    sizes, S = ex.net.sizes, "S"
    m = _CONVENTION.fullmatch(name)
    if name == "x":
        return f"({sizes[0]}, {S}): one column per sample"
    if name == "t":
        return f"({sizes[-1]}, {S})"
    if name in ("z", "a"):
        return "any shape (elementwise)"
    if name == "E":
        return "a number"
    if name == "lr":
        return "a number (the learning rate)"
    if name == "epochs":
        return "an int"
    if m:
        what, l = m[1], int(m[2])
        if 1 <= l < len(sizes):
            if what in ("W", "dW"):
                return f"({sizes[l]}, {sizes[l - 1]})"
            if what in ("b", "db"):
                return f"({sizes[l]}, 1): a column"
            return f"({sizes[l]}, {S})"
    return "as in the exercise"


def _function_rows(ex: Exercise) -> list[tuple[Any, ...]]:
    rows = []
    for f in ex.functions:
        ret = ", ".join(f.returns)
        sig = f"def {f.name}({', '.join(f.args)}) -> {'(' + ret + ')' if len(f.returns) > 1 else ret}"
        label = dict(zip(f.returns, f.labels, strict=False))
        shapes = "; ".join(f"{a}" + (f" (= {label[a]})" if label.get(a, a) != a else "") + f": {_shape(ex, a)}"
                           for a in dict.fromkeys((*f.args, *f.returns)))
        rows.append((Code(sig), shapes))
    return rows


def submitting(doc: Doc, ex: Exercise) -> None:
    """How to hand in: the answers file and its template, the functions' calling convention, and
    how to check oneself with ``grade``."""
    doc.h(2, "How to submit")
    doc.p(B("Typed answers."), " Write an answers file (JSON) with one entry per question id: a number, or a "
          "nested list (one row per neuron, one column per sample) for a vector or matrix; numbers may be strings "
          "such as \"8.22e-2\". ", Code(f"grade sheet {ex.id} --answers-template -o answers.json"),
          " writes this empty template:")
    doc.code(template_json(ex), "json")
    if ex.functions:
        doc.p(B("Code."), " Define these functions in ", Code("submission.py"), " (or a notebook), vectorised "
              "with NumPy; arguments are positional, several results are returned as a tuple in this order. "
              "Columns are samples, biases are columns; hidden tests call them with other sizes and several samples "
              "at once (S is the number of samples):")
        doc.table(("function", "shapes in this exercise"), _function_rows(ex))
        doc.p("Put ", Code(f'EXERCISE = "{ex.id}"'), " in the file so that it is graded against this exercise; it may "
              "also define ", Code("ANSWERS = {...}"), " (graded like an answers file).")
    doc.p(B("Check yourself."), " With the grader installed (", Code("pip install backprop-grader"), "), run ",
          Code(f"grade answers.json --exercise {ex.id}"),
          *([" or ", Code(f"grade submission.py --exercise {ex.id}")] if ex.functions else []),
          ": it prints your score and, for a wrong answer, the step that went wrong.")


def markdown(ex: Exercise, figure_src: str | None = None) -> str:
    """The student sheet as Markdown: title, description, the network figure (inline SVG, or an
    image reference to ``figure_src``), values, questions with their conditions. No answers."""
    return build(ex, figure_src).markdown()


