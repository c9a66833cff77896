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


# ---------------------------------------------------------------------------- label placement
CHAR_W = 7.0  # width of one character of 12 px sans-serif, rounded up (the label test measures real glyphs)
HALO = 2.0  # the white stroke around a label
_CANDIDATES = (0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8, 0.33, 0.67, 0.44, 0.56, 0.24, 0.76, 0.16, 0.84)


def label_box(px: float, py: float, angle: float, text: str) -> list[tuple[float, float]]:
    """The corners of an edge label drawn at (px, py - 4) and rotated by ``angle`` about (px, py)."""
    w = CHAR_W * len(text) / 2 + HALO
    a = math.radians(angle)
    ca, sa = math.cos(a), math.sin(a)
    return [(px + u * ca - v * sa, py + u * sa + v * ca) for u, v in ((-w, -15.5), (w, -15.5), (w, 0.5), (-w, 0.5))]


def _axes(poly: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(poly[k][1] - poly[k - 1][1], poly[k - 1][0] - poly[k][0]) for k in range(len(poly))]


def polygons_overlap(p: list[tuple[float, float]], q: list[tuple[float, float]]) -> bool:
    """Whether two convex polygons overlap (separating axis theorem)."""
    for ax, ay in _axes(p) + _axes(q):
        a = [x * ax + y * ay for x, y in p]
        b = [x * ax + y * ay for x, y in q]
        if max(a) <= min(b) or max(b) <= min(a):
            return False
    return True


def circle_overlaps(poly: list[tuple[float, float]], cx: float, cy: float, r: float) -> bool:
    """Whether a convex polygon and a circle overlap."""
    if polygons_overlap(poly, [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]):
        for k in range(len(poly)):  # near a corner of the square: measure the distance to the polygon
            (x0, y0), (x1, y1) = poly[k - 1], poly[k]
            dx, dy = x1 - x0, y1 - y0
            t = max(0.0, min(1.0, ((cx - x0) * dx + (cy - y0) * dy) / (dx * dx + dy * dy or 1.0)))
            if math.hypot(x0 + t * dx - cx, y0 + t * dy - cy) < r:
                return True
        inside = all((x1 - x0) * (cy - y0) - (y1 - y0) * (cx - x0) >= 0
                     for (x0, y0), (x1, y1) in zip(poly[-1:] + poly[:-1], poly, strict=True))
        return inside or all((x1 - x0) * (cy - y0) - (y1 - y0) * (cx - x0) <= 0
                             for (x0, y0), (x1, y1) in zip(poly[-1:] + poly[:-1], poly, strict=True))
    return False


def _place(edges: list[tuple[tuple[float, float], tuple[float, float], str]], circles: list[tuple[float, float]],
           boxes: list[list[tuple[float, float]]]) -> list[tuple[float, float, float]] | None:
    """A point and an angle on each edge where its label overlaps no other label, no neuron and
    no box; None where some edge has no such point (the caller spreads the layers further)."""
    placed: list[tuple[float, float, float]] = []
    taken = list(boxes)
    for (x0, y0), (x1, y1), text in edges:
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        for t in _CANDIDATES:
            px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            poly = label_box(px, py, angle, text)
            if any(circle_overlaps(poly, cx, cy, R + 3) for cx, cy in circles):
                continue
            if any(polygons_overlap(poly, other) for other in taken):
                continue
            placed.append((px, py, angle))
            taken.append(poly)
            break
        else:
            return None
    return placed


def _rect(x: float, y: float, w: float, h: float) -> list[tuple[float, float]]:
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def _data_text(values: np.ndarray) -> str:
    vals = [value_text(v) for v in values[:3]]
    return ", ".join(vals) + (", …" if len(values) > 3 else "")


def svg(ex: Exercise) -> str:
    """The network of ``ex`` as a standalone SVG document (also valid inline in HTML). The layers
    are spread further apart until every edge label has a place of its own."""
    for dx in range(DX, 4 * DX + 1, 30):
        out = _svg(ex, dx)
        if out is not None:
            return out
    return _svg(ex, 4 * DX, force=True)


def _group_label(ex: Exercise, l: int) -> list[str]:
    """The names of layer l's weight matrix and bias vector (declared, else the default ``W(l)``,
    ``b(l)``), whether the spec names its edges one by one or the layer as a matrix."""
    names = ex.layer_names[l] if l < len(ex.layer_names) else {}
    out = [names[k] for k in ("weights", "bias") if k in names]
    out += [n for n, p in ex.parameters.items() if p.shape != () and p.uses[0][1] == l and n not in out]
    kinds = {ex.names[n].kind for n in out if n in ex.names}
    for kind, default in (("W", f"W({l})"), ("b", f"b({l})")):
        if kind in kinds:
            continue
        has = any(k == kind and ll == l for p in ex.parameters.values() for k, ll, _ in p.uses)
        found = [n for n, r in ex.names.items() if r.kind == kind and r.layer == l]
        if has:  # a layer without biases gets no b in its label
            out.append(found[0] if found else default)
    order = {"W": 0, "b": 1}
    return sorted(out, key=lambda n: order.get(ex.names[n].kind if n in ex.names else n[0], 2))


def _svg(ex: Exercise, DX: int, force: bool = False) -> str | None:
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
            mats = _group_label(ex, l)
            if mats:
                dims = f"{sizes[l]}×{sizes[l - 1]}"
                out.append(_text(x - DX / 2, 58, f"{', '.join(mats)} ({dims})", 12, extra=' fill="#6b21a8"'))
                drawn.update(mats)

    # what an edge label must not cover: neurons, bias boxes, pre-activation names, the headers
    circles = [xy for layer in where for xy in layer.values()]
    boxes = [_rect(0, 0, width, 64)]
    for l in range(1, L + 1):
        for i, (x, y) in where[l].items():
            boxes.append(_rect(x - CHAR_W * len(ex.nets[l][i]) / 2, y + R + 3, CHAR_W * len(ex.nets[l][i]), 15))
            if ("b", l, (i,)) in labels:
                text = f"{labels[('b', l, (i,))][0]} = {value_text(ex.b[l - 1][i])}"
                w = 6.6 * len(text) + 10
                boxes.append(_rect(x - w / 2, y - R - 26, w, R + 26))

    # edges, each with its weight name and value
    for l in range(1, L + 1):
        edges = [(i, j) for i in where[l] for j in where[l - 1] if ("W", l, (i, j)) in labels]
        total = sum(1 for key in labels if key[0] == "W" and key[1] == l)
        labelled = total <= MAX_LABELLED_EDGES and len(edges) == total
        texts = []
        spots: list[tuple[float, float, float]] = []
        if labelled:
            segments = [(where[l - 1][j], where[l][i], f"{labels[('W', l, (i, j))][0]} = {value_text(ex.W[l - 1][i, j])}")
                        for i, j in edges]
            found = _place(segments, circles, boxes)
            if found is None and not force:
                return None
            spots = found or [(x0 + 0.5 * (x1 - x0), y0 + 0.5 * (y1 - y0), math.degrees(math.atan2(y1 - y0, x1 - x0)))
                              for (x0, y0), (x1, y1), _ in segments]
        for k, (i, j) in enumerate(edges):
            (x0, y0), (x1, y1) = where[l - 1][j], where[l][i]
            label, fixed, pname = labels[("W", l, (i, j))]
            dash = ' stroke-dasharray="6 4"' if fixed else ""
            out.append(f'<line x1="{_c(x0)}" y1="{_c(y0)}" x2="{_c(x1)}" y2="{_c(y1)}" stroke="#6b7280" '
                       f'stroke-width="1.3"{dash}/>')
            if labelled:
                px, py, angle = spots[k]
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
