"""A training curve, E against epoch, as a small standalone SVG (deterministic: same bytes every run)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

W, H = 520, 260  # the whole picture
LEFT, RIGHT, TOP, BOTTOM = 64, 18, 30, 44  # the plot area's margins
MAX_POINTS = 400  # a longer run is drawn through evenly spaced epochs (always the first and the last)


def _c(x: float) -> str:
    s = format(round(x, 1) + 0.0, ".1f")
    return s[:-2] if s.endswith(".0") else s


def tick(v: float) -> str:
    """A tick label: 3 significant figures, a true minus."""
    return "0" if v == 0 else format(v, ".3g").replace("-", "−")


def thin(epochs: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    if len(epochs) <= MAX_POINTS:
        return epochs, values
    step = (len(epochs) - 1) / (MAX_POINTS - 1)
    keep = sorted({round(k * step) for k in range(MAX_POINTS)})
    return [epochs[k] for k in keep], [values[k] for k in keep]


def svg(epochs: list[int], values: list[float], title: str) -> str:
    """E (``values``) after each of ``epochs`` (0 is the start), as a line over a labelled plot area."""
    epochs, values = thin(epochs, values)
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    lo = min(0.0, min(finite, default=0.0))
    hi = max(finite, default=1.0)
    hi = hi if hi > lo else lo + 1.0
    n = max(epochs[-1], 1)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(e: int) -> float:
        return LEFT + pw * e / n

    def y(v: float) -> float:
        return TOP + ph * (1 - (v - lo) / (hi - lo))

    points = " ".join(f"{_c(x(e))},{_c(y(v))}" for e, v in zip(epochs, values, strict=True) if v in finite)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           f'font-family="sans-serif" font-size="12" role="img" aria-label={quoteattr(title)}>',
           f"<title>{escape(title)}</title>",
           f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
           f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#9ca3af"/>']
    for k in range(3):
        e = round(n * k / 2)
        out.append(f'<text x="{_c(x(e))}" y="{_c(TOP + ph + 16)}" text-anchor="middle">{e}</text>')
        v = lo + (hi - lo) * k / 2
        out.append(f'<line x1="{LEFT - 4}" y1="{_c(y(v))}" x2="{LEFT}" y2="{_c(y(v))}" stroke="#9ca3af"/>')
        out.append(f'<text x="{LEFT - 7}" y="{_c(y(v) + 4)}" text-anchor="end">{escape(tick(v))}</text>')
    out.append(f'<text x="{_c(LEFT + pw / 2)}" y="{H - 8}" text-anchor="middle">epoch</text>')
    out.append(f'<text x="14" y="{_c(TOP + ph / 2)}" text-anchor="middle" transform="rotate(-90 14 {_c(TOP + ph / 2)})">E</text>')
    out.append(f'<text x="{LEFT}" y="18" font-weight="bold">{escape(title)}</text>')
    out.append(f'<polyline points="{points}" fill="none" stroke="#2563eb" stroke-width="2"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
