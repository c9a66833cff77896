"""The exercise's names as LaTeX, and which edges and biases exist."""

from __future__ import annotations

import re

import numpy as np

from ..spec import Exercise
from .tex import (
    MAX_TERMS,
    _base,
    _sub,
    _sup,
    tex_name,
)


def entry_tex(name: str, idx: tuple[int, ...]) -> str:
    r"""One entry of a whole-matrix parameter as the sheet writes it: ``W(1)`` or ``W1`` entry
    (0, 1) is :math:`W^{(1)}_{12}`; another name keeps its own symbol (``V`` -> :math:`V_{12}`).
    Indices are 1-based and run together while each has one digit."""
    sub = ("" if all(k < 9 for k in idx) else ",").join(str(k + 1) for k in idx)
    m = re.fullmatch(r"([A-Za-z]+)\(?(\d+)\)?", name)
    if m:
        return f"{_base(m[1])}^{{({m[2]})}}_{{{sub}}}"
    return _sub(tex_name(name), sub)


# ---------------------------------------------------------------------------- notation
class Notation:
    """The exercise's names as LaTeX, and its structure: which edges and biases exist."""

    def __init__(self, ex: Exercise):
        self.ex = ex
        self.L = ex.net.L
        self.sizes = ex.net.sizes
        self.wsym: dict[tuple[int, int, int], str] = {}
        self.bsym: dict[tuple[int, int], str] = {}
        self.wparam: dict[tuple[int, int, int], str] = {}
        self.bparam: dict[tuple[int, int], str] = {}
        for name, p in ex.parameters.items():
            for kind, l, idx in p.uses:
                sym = tex_name(name) if p.shape == () else entry_tex(name, idx)
                if kind == "W":
                    self.wsym[(l, *idx)] = sym
                    self.wparam[(l, *idx)] = name
                else:
                    self.bsym[(l, idx[0])] = sym
                    self.bparam[(l, idx[0])] = name
        self.edges = [np.zeros((0, 0), bool)] + [np.zeros((self.sizes[l], self.sizes[l - 1]), bool)
                                                  for l in range(1, self.L + 1)]
        for l, i, j in self.wsym:
            self.edges[l][i, j] = True
        self._vectors = self._vector_names()

    def _vector_names(self) -> list[str]:
        """Per layer, the layer's output vector: its declared name, else the neurons' common
        letter (``o`` for o1, o2) when no other layer shares it, else ``a^{(l)}``."""
        prefixes = []
        for names in self.ex.neurons:
            ms = [re.fullmatch(r"([A-Za-z]+)\d+", n) for n in names]
            common = {m[1] for m in ms if m}
            prefixes.append(common.pop() if len(common) == 1 and all(ms) else None)
        out = []
        for l, prefix in enumerate(prefixes):
            declared = self.ex.layer_names[l].get("output") if l < len(self.ex.layer_names) else None
            if declared:
                out.append(tex_name(declared))
            elif prefix and prefixes.count(prefix) == 1 and prefix not in self.ex.names and prefix != "E":
                out.append(_base(prefix))
            else:
                out.append(f"a^{{({l})}}")
        return out

    # -- scalars
    def a(self, l: int, i: int) -> str:
        return tex_name(self.ex.neurons[l][i])

    def z(self, l: int, i: int) -> str:
        return tex_name(self.ex.nets[l][i])

    def target(self, i: int) -> str:
        return _sup(self.a(self.L, i), r"\text{target}")

    def act(self, l: int) -> str:
        return self.ex.net.activations[l - 1]

    # -- vectors and matrices
    def va(self, l: int) -> str:
        return self._vectors[l]

    def vz(self, l: int) -> str:
        name = self.ex.layer_names[l].get("net")
        return tex_name(name) if name else f"z^{{({l})}}"

    def mW(self, l: int) -> str:
        name = self.ex.layer_names[l].get("weights")
        return tex_name(name) if name else f"W^{{({l})}}"

    def vb(self, l: int) -> str:
        name = self.ex.layer_names[l].get("bias")
        return tex_name(name) if name else f"b^{{({l})}}"

    def vt(self) -> str:
        return _sup(self.va(self.L), r"\text{target}")

    # -- formulas
    def net_terms(self, l: int, i: int) -> list[tuple[str, int | None]]:
        """The terms of z_i: (weight symbol, source neuron) for each edge, then (bias, None)."""
        terms: list[tuple[str, int | None]] = [
            (self.wsym[(l, i, j)], j) for j in range(self.sizes[l - 1]) if self.edges[l][i, j]]
        if (l, i) in self.bsym:
            terms.append((self.bsym[(l, i)], None))
        return terms

    def net_formula(self, l: int, i: int) -> str:
        """``w_{5} \\cdot x_{1} + w_{6} \\cdot x_{2} + b_{1}`` (Σ form for many terms)."""
        terms = self.net_terms(l, i)
        if not terms:
            return "0"
        if len(terms) > MAX_TERMS:
            bias = f" + {self.bsym[(l, i)]}" if (l, i) in self.bsym else ""
            return rf"\sum_{{j}} {_sub(self.mW(l), f'{i + 1},j')} \, {_sub(self.va(l - 1), 'j')}{bias}"
        return " + ".join(f"{w} \\cdot {self.a(l - 1, j)}" if j is not None else w for w, j in terms)

    def activation_formula(self, l: int, i: int) -> str:
        """``o_{1} = \\sigma(z_{1}) = \\frac{1}{1 + e^{-z_{1}}}``."""
        a, z = self.a(l, i), self.z(l, i)
        act = self.act(l)
        if act == "sigmoid":
            return rf"{a} = \sigma({z}) = \frac{{1}}{{1 + e^{{-{z}}}}}"
        if act == "tanh":
            return rf"{a} = \tanh({z})"
        if act == "relu":
            return rf"{a} = \max(0, {z})"
        if act == "linear":
            return f"{a} = {z}"
        zs = [self.z(l, k) for k in range(self.sizes[l])]
        den = " + ".join(f"e^{{{s}}}" for s in zs) if len(zs) <= MAX_TERMS else rf"\sum_{{k}} e^{{{_sub(self.vz(l), 'k')}}}"
        return rf"{a} = \frac{{e^{{{z}}}}}{{{den}}}"

    def loss_formula(self, S: int | None = None) -> str:
        """E in general form, as the sheet writes it, over ``S`` samples (default: the exercise's)."""
        y = _sub(self.va(self.L), "i")
        t = _sup(y, r"\text{target}")
        loss = self.ex.net.loss
        body = {
            "half_sse": rf"\frac{{1}}{{2}} \sum_{{i}} ({y} - {t})^{{2}}",
            "sse": rf"\sum_{{i}} ({y} - {t})^{{2}}",
            "mse": rf"\frac{{1}}{{K}} \sum_{{i}} ({y} - {t})^{{2}}",
            "binary_cross_entropy": rf"-\sum_{{i}} \left[{t} \ln {y} + (1 - {t}) \ln(1 - {y})\right]",
            "cross_entropy": rf"-\sum_{{i}} {t} \ln {y}",
        }[loss]
        S = self.ex.n_samples if S is None else S
        if S > 1:
            body = (r"\frac{1}{S} \sum_{s}" if self.ex.net.reduction == "mean" else r"\sum_{s}") + r" \left[" + body + r"\right]"
        return f"E = {body}"
