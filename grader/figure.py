"""The network as an SVG figure, drawn from the spec alone (no answers).

Layers run left to right; each neuron is a circle with its name inside and its pre-activation
name below; each edge is a line labelled with its parameter's name and value (a whole-matrix
layer labels ``W(1)[i,j]``, or no edge at all above :data:`MAX_LABELLED_EDGES` edges); each bias
is a small box above its neuron (a tied bias shows its one name on every neuron it feeds). Inputs
carry their values on the left, outputs their targets on the right. Fixed parameters are dashed.

:func:`svg` is pure and deterministic: the same exercise gives the same bytes every run.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from .spec import Exercise

R = 22  # neuron radius
DX = 250  # distance between layers
DY = 110  # distance between neurons of a layer
LEFT, RIGHT, TOP, BOTTOM = 110, 140, 92, 34
MAX_SHOWN = 10  # a larger layer shows its first 6 and last 3 neurons around a ⋮
MAX_LABELLED_EDGES = 30  # per layer: above this the edges go unlabelled

LOSS_TEXT = {
    "half_sse": "E = ½ Σ (y − target)²",
    "sse": "E = Σ (y − target)²",
    "mse": "E = (1/K) Σ (y − target)²",
    "binary_cross_entropy": "E = −Σ [target ln y + (1 − target) ln(1 − y)]",
    "cross_entropy": "E = −Σ target ln y",
}
FILL = ("#dbeafe", "#dcfce7", "#ffedd5")  # input, hidden, output


def value_text(v: float) -> str:
    """A parameter or data value as the figure prints it (4 significant figures, true minus)."""
    v = float(v)
    return "0" if v == 0 else format(v, ".4g").replace("-", "−")


def _c(x: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros."""
    s = format(round(x, 1) + 0.0, ".1f")
    return s[:-2] if s.endswith(".0") else s


def _slots(n: int) -> list[int | None]:
    if n <= MAX_SHOWN:
        return list(range(n))
    return [*range(6), None, *range(n - 3, n)]


def _text(x: float, y: float, text: str, size: int = 12, anchor: str = "middle", extra: str = "") -> str:
    return (f'<text x="{_c(x)}" y="{_c(y)}" font-size="{size}" text-anchor="{anchor}"{extra}>'
            f"{escape(text)}</text>")


def entry_labels(ex: Exercise) -> dict[tuple[str, int, tuple[int, ...]], tuple[str, bool, str]]:
    """``(kind, layer, index)`` -> (label, fixed, parameter): ``w5``, ``b1``, or ``W(1)[1,2]``."""
    out = {}
    for name, p in ex.parameters.items():
        for kind, l, idx in p.uses:
            label = name if p.shape == () else f"{name}[{','.join(str(k + 1) for k in idx)}]"
            out[(kind, l, idx)] = (label, p.fixed, name)
    return out


def _data_text(values: np.ndarray) -> str:
    vals = [value_text(v) for v in values[:3]]
    return ", ".join(vals) + (", …" if len(values) > 3 else "")


def svg(ex: Exercise) -> str:
    """The network of ``ex`` as a standalone SVG document (also valid inline in HTML)."""
    sizes = ex.net.sizes
    L = ex.net.L
    slots = [_slots(n) for n in sizes]
    rows = max(len(s) for s in slots)
    width = LEFT + L * DX + RIGHT
    height = TOP + (rows - 1) * DY + R + BOTTOM + 34
    labels = entry_labels(ex)

    def pos(l: int, k: int) -> tuple[float, float]:
        return LEFT + l * DX, TOP + (rows - len(slots[l])) * DY / 2 + k * DY

    where = [{i: pos(l, k) for k, i in enumerate(s) if i is not None} for l, s in enumerate(slots)]
    title = f"Network of {ex.id}: " + " → ".join(str(n) for n in sizes)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_c(height)}" '
        f'viewBox="0 0 {width} {_c(height)}" font-family="sans-serif" role="img" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{_c(height)}" fill="white"/>',
    ]
    drawn: set[str] = set()

    # layer headers, and the layer's matrix names between the layers
    for l in range(L + 1):
        x = LEFT + l * DX
        names = ex.layer_names[l] if l < len(ex.layer_names) else {}
        if l == 0:
            head, sub = "Inputs", names.get("output", "")
        else:
            act = ex.net.activations[l - 1]
            head = f"{'Output layer' if l == L else f'Layer {l}'}: {act}"
            sub = " → ".join(n for n in (names.get("net"), names.get("output")) if n)
        out.append(_text(x, 22, head, 13, extra=' font-weight="bold"'))
        if sub:
            out.append(_text(x, 40, sub, 12, extra=' fill="#374151"'))
        if l > 0:
            mats = [names[k] for k in ("weights", "bias") if k in names]
            mats += [n for n, p in ex.parameters.items() if p.shape != () and p.uses[0][1] == l and n not in mats]
            if mats:
                dims = f"{sizes[l]}×{sizes[l - 1]}"
                out.append(_text(x - DX / 2, 58, f"{', '.join(mats)} ({dims})", 12, extra=' fill="#6b21a8"'))
                drawn.update(mats)

    # edges, each with its weight name and value
    for l in range(1, L + 1):
        edges = [(i, j) for i in where[l] for j in where[l - 1] if ("W", l, (i, j)) in labels]
        total = sum(1 for key in labels if key[0] == "W" and key[1] == l)
        labelled = total <= MAX_LABELLED_EDGES and len(edges) == total
        src_rank = {j: k for k, j in enumerate(sorted(where[l - 1]))}
        m = len(src_rank)
        texts = []
        for i, j in edges:
            (x0, y0), (x1, y1) = where[l - 1][j], where[l][i]
            label, fixed, pname = labels[("W", l, (i, j))]
            dash = ' stroke-dasharray="6 4"' if fixed else ""
            out.append(f'<line x1="{_c(x0)}" y1="{_c(y0)}" x2="{_c(x1)}" y2="{_c(y1)}" stroke="#6b7280" '
                       f'stroke-width="1.3"{dash}/>')
            if labelled:
                t = 0.3 + 0.4 * src_rank[j] / (m - 1) if m > 1 else 0.5
                px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
                value = value_text(ex.W[l - 1][i, j])
                texts.append(
                    _text(px, py - 4, f"{label} = {value}", 12,
                          extra=f' transform="rotate({_c(angle)} {_c(px)} {_c(py)})" stroke="white" '
                          'stroke-width="4" paint-order="stroke" fill="#111827"'))
                drawn.add(pname)
        out.extend(texts)  # above every line of the layer

    # neurons, biases, inputs and targets
    for l in range(L + 1):
        fill = FILL[0] if l == 0 else FILL[2] if l == L else FILL[1]
        for k, i in enumerate(slots[l]):
            x, y = pos(l, k)
            if i is None:
                out.append(_text(x, y + 8, "⋮", 24))
                continue
            out.append(f'<circle cx="{_c(x)}" cy="{_c(y)}" r="{R}" fill="{fill}" stroke="#1f2937" stroke-width="1.5"/>')
            out.append(_text(x, y + 5, ex.neurons[l][i], 14 if len(ex.neurons[l][i]) <= 4 else 10))
            if l > 0:
                out.append(_text(x, y + R + 15, ex.nets[l][i], 11, extra=' fill="#4b5563" font-style="italic"'))
            if l > 0 and ("b", l, (i,)) in labels:
                label, fixed, pname = labels[("b", l, (i,))]
                text = f"{label} = {value_text(ex.b[l - 1][i])}"
                w = 6.6 * len(text) + 10
                top = y - R - 26
                dash = ' stroke-dasharray="4 3"' if fixed else ""
                out.append(f'<line x1="{_c(x)}" y1="{_c(top + 17)}" x2="{_c(x)}" y2="{_c(y - R)}" stroke="#9333ea"/>')
                out.append(f'<rect x="{_c(x - w / 2)}" y="{_c(top)}" width="{_c(w)}" height="17" rx="3" '
                           f'fill="#f3e8ff" stroke="#9333ea"{dash}/>')
                out.append(_text(x, top + 12.5, text, 11, extra=' fill="#581c87"'))
                drawn.add(pname)
            if l == 0:
                out.append(_text(x - R - 8, y + 4, _data_text(ex.x[i]), 12, "end", ' fill="#1e3a8a"'))
            if l == L and not np.isnan(ex.t[i]).all():
                out.append(_text(x + R + 8, y + 4, "target " + _data_text(ex.t[i]), 12, "start", ' fill="#7c2d12"'))

    # loss, legend, and any parameter the drawing could not show
    foot = [f"Loss: {LOSS_TEXT.get(ex.net.loss, ex.net.loss)}"
            + (" (mean over samples)" if ex.net.reduction == "mean" else "")]
    if any(p.fixed for p in ex.parameters.values()):
        foot.append("dashed: fixed (does not train)")
    missing = [n for n in ex.parameters if n not in drawn]
    if missing:
        foot.append("not drawn: " + ", ".join(missing))
    y = height - 12 - 16 * (len(foot) - 1)
    for k, line in enumerate(foot):
        out.append(_text(12, y + 16 * k, line, 12, "start", ' fill="#374151"'))
    out.append("</svg>")
    return "\n".join(out) + "\n"
