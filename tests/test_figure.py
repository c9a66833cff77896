"""The network figure's edge labels: none overlaps another label or a neuron, for fully connected
layers up to 4-4-4, named edge by edge or as whole matrices; every layer carries its group label.

The boxes are measured twice: by headless Chromium from the rendered glyphs (the real test), and
from the SVG's own coordinates with a conservative character width (runs without a browser). The
overlap geometry here is the test's own, not the figure module's.
"""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET

import browser
import pytest

from grader import figure, spec

SVG = "{http://www.w3.org/2000/svg}"
SIZES = [(2, 2), (4, 4), (2, 2, 2), (3, 3, 3), (4, 4, 4), (4, 2, 4), (2, 4, 2), (3, 4, 2), (4, 3, 4, 2)]


def network(sizes: tuple[int, ...], named: bool, long_names: bool = False) -> spec.Exercise:
    layers = [{"neurons": [f"x{i + 1}" for i in range(sizes[0])]}]
    params: dict = {}
    k = 1
    for l in range(1, len(sizes)):
        prefix = "y" if l == len(sizes) - 1 else f"h{l}_"
        layer = {"neurons": [f"{prefix}{i + 1}" for i in range(sizes[l])], "activation": "sigmoid"}
        if not named:
            layer |= {"weights": f"W({l})", "bias": f"b({l})"}
            params[f"W({l})"] = {"value": [[round(0.1 * (i - j) - 0.123456, 6) for j in range(sizes[l - 1])]
                                           for i in range(sizes[l])]}
            params[f"b({l})"] = {"value": [-0.25] * sizes[l]}
        else:
            for i in range(sizes[l]):
                for j in range(sizes[l - 1]):
                    name = f"weight_{k}" if long_names else f"w{k}"
                    params[name] = {"from": layers[-1]["neurons"][j], "to": layer["neurons"][i],
                                    "value": round(-0.123457 * k, 6)}
                    k += 1
                params[f"b{l}{i + 1}"] = {"to": layer["neurons"][i], "value": 0.5}
        layers.append(layer)
    data = {"id": "fig", "network": {"layers": layers, "parameters": params},
            "inputs": {n: 0.5 for n in layers[0]["neurons"]}, "targets": {n: 0.1 for n in layers[-1]["neurons"]},
            "questions": [{"id": "E", "ask": "E"}]}
    return spec.compile_spec(data, "fig.json")


CASES = [(s, named, False) for s in SIZES for named in (True, False)] + [((4, 4, 4), True, True)]


# ---------------------------------------------------------------------------- geometry (the test's own)
def separated(p: list, q: list) -> bool:
    for poly in (p, q):
        for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1], strict=True):
            nx, ny = y1 - y0, x0 - x1
            a = [x * nx + y * ny for x, y in p]
            b = [x * nx + y * ny for x, y in q]
            if max(a) <= min(b) + 1e-9 or max(b) <= min(a) + 1e-9:
                return True
    return False


def hits_circle(poly: list, cx: float, cy: float, r: float) -> bool:
    inside = all((x1 - x0) * (cy - y0) - (y1 - y0) * (cx - x0) >= 0
                 for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1], strict=True))
    inside |= all((x1 - x0) * (cy - y0) - (y1 - y0) * (cx - x0) <= 0
                  for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1], strict=True))
    if inside:
        return True
    for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1], strict=True):
        dx, dy = x1 - x0, y1 - y0
        t = max(0.0, min(1.0, ((cx - x0) * dx + (cy - y0) * dy) / (dx * dx + dy * dy)))
        if math.hypot(x0 + t * dx - cx, y0 + t * dy - cy) < r:
            return True
    return False


def assert_apart(labels: list[tuple[str, list]], circles: list[tuple[float, float, float]], where: str) -> None:
    assert labels, f"{where}: no edge labels"
    for (ta, a), (tb, b) in itertools.combinations(labels, 2):
        assert separated(a, b), f"{where}: {ta!r} overlaps {tb!r}"
    for text, box in labels:
        for cx, cy, r in circles:
            assert not hits_circle(box, cx, cy, r), f"{where}: {text!r} overlaps the neuron at ({cx}, {cy})"


# ---------------------------------------------------------------------------- from the SVG's coordinates
_ROTATE = re.compile(r"rotate\(([-\d.]+) ([-\d.]+) ([-\d.]+)\)")


def estimated_boxes(svg: str) -> tuple[list, list]:
    root = ET.fromstring(svg)
    labels = []
    for t in root.iter(f"{SVG}text"):
        m = _ROTATE.fullmatch(t.get("transform", ""))
        if not m:
            continue
        angle, px, py = (float(v) for v in m.groups())
        text = "".join(t.itertext())
        x, y = float(t.get("x")), float(t.get("y"))
        w = 0.58 * 12 * len(text)  # a sans-serif character is about 0.55 em wide
        local = [(x - w / 2, y - 9), (x + w / 2, y - 9), (x + w / 2, y + 3), (x - w / 2, y + 3)]
        a = math.radians(angle)
        labels.append((text, [(px + (u - px) * math.cos(a) - (v - py) * math.sin(a),
                               py + (u - px) * math.sin(a) + (v - py) * math.cos(a)) for u, v in local]))
    circles = [(float(c.get("cx")), float(c.get("cy")), float(c.get("r"))) for c in root.iter(f"{SVG}circle")]
    return labels, circles


@pytest.mark.parametrize(("sizes", "named", "long_names"), CASES)
def test_edge_labels_apart_by_the_svg_coordinates(sizes, named, long_names):
    svg = figure.svg(network(sizes, named, long_names))
    labels, circles = estimated_boxes(svg)
    assert len(labels) == sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
    assert_apart(labels, circles, f"{sizes} named={named}")


def test_the_overlap_check_has_teeth():
    box = [(0, 0), (10, 0), (10, 4), (0, 4)]
    assert not separated(box, [(5, 2), (15, 2), (15, 6), (5, 6)])
    assert separated(box, [(11, 0), (20, 0), (20, 4), (11, 4)])
    assert hits_circle(box, 12, 2, 3) and not hits_circle(box, 14, 2, 3)
    with pytest.raises(AssertionError, match="overlaps"):
        assert_apart([("a", box), ("b", [(5, 2), (15, 2), (15, 6), (5, 6)])], [], "teeth")


# ---------------------------------------------------------------------------- measured by Chromium
MEASURE = """
return [...document.querySelectorAll('svg')].map(svg => {
  const inv = svg.getScreenCTM().inverse();
  const labels = [...svg.querySelectorAll('text[transform]')].map(t => {
    const b = t.getBBox(), m = inv.multiply(t.getScreenCTM());
    const pts = [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
      .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
    return [t.textContent, pts];
  });
  const circles = [...svg.querySelectorAll('circle')].map(c => [c.cx.baseVal.value, c.cy.baseVal.value, c.r.baseVal.value]);
  return [labels, circles];
});
"""


def test_edge_labels_apart_as_rendered_by_chromium():
    browser.require()
    svgs = [figure.svg(network(*case)) for case in CASES]
    page = "<!DOCTYPE html><html><body>" + "".join(s.replace('<?xml version="1.0"?>', "") for s in svgs) + "</body></html>"
    measured = browser.measure(page, MEASURE, width=1600, height=900)
    assert len(measured) == len(CASES)
    for case, (labels, circles) in zip(CASES, measured, strict=True):
        boxes = [(text, [tuple(p) for p in pts]) for text, pts in labels]
        assert_apart(boxes, [tuple(c) for c in circles], f"{case} (Chromium)")


# ---------------------------------------------------------------------------- group labels
@pytest.mark.parametrize("named", [True, False])
def test_every_layer_has_its_group_label(named):
    ex = network((3, 4, 2), named)
    texts = ["".join(t.itertext()) for t in ET.fromstring(figure.svg(ex)).iter(f"{SVG}text")]
    assert "W(1), b(1) (4×3)" in texts and "W(2), b(2) (2×4)" in texts


def test_group_label_uses_the_layers_own_names(bundled_data):
    data = bundled_data("tutorial-4-output-layer")
    ex = spec.compile_spec(data, "o.json")
    texts = ["".join(t.itertext()) for t in ET.fromstring(figure.svg(ex)).iter(f"{SVG}text")]
    assert any(t.startswith("W(1)") and "×" in t for t in texts), texts
