"""Values written out: the forward pass, neuron by neuron or in matrix form, and E."""

from __future__ import annotations

import numpy as np

from ..spec import Ref
from .doc import M
from .matrix import _MatrixForm
from .numbers import Vals, _loss
from .tex import (
    DIGITS,
    FINAL,
    MAX_TERMS,
    _sep,
    bmatrix,
    num,
    pnum,
    tex_name,
)


class _Forward(_MatrixForm):
    """Values: the forward pass and E."""

    # ------------------------------------------------------------------ values
    def forward_neuron(self, v: Vals, l: int, i: int, final: bool = False) -> str:
        """``z_{3} = w_{5} \\cdot x_{1} + … = 0.15 \\cdot 0.05 + … = 0.3775``."""
        self.S = v.S
        terms = self.n.net_terms(l, i)
        sym = self.n.net_formula(l, i)
        if terms and len(terms) <= MAX_TERMS:
            nums = " + ".join(f"{pnum(v.W[l - 1][i, j])} {self.op} {self.Vp(v.a[l - 1][j])}" if j is not None
                              else pnum(v.b[l - 1][i]) for _, j in terms)
            return f"{self.n.z(l, i)} = {sym} = {nums} = {self.V(v.z[l][i], FINAL if final else DIGITS)}"
        return f"{self.n.z(l, i)} = {sym} = {self.V(v.z[l][i], FINAL if final else DIGITS)}"

    def activation_neuron(self, v: Vals, l: int, i: int, final: bool = False) -> str:
        a, z = self.n.a(l, i), self.n.z(l, i)
        act = self.n.act(l)
        zv = v.z[l][i]
        out = self.V(v.a[l][i], FINAL if final else DIGITS)
        if act == "sigmoid":
            mid = rf"\frac{{1}}{{1 + e^{{{num(-zv[0])}}}}}" if v.S == 1 else ""
            return rf"{a} = \sigma({z}) = " + (f"{mid} = " if mid else "") + out
        if act == "tanh":
            return rf"{a} = \tanh({z}) = \tanh({self.V(zv)}) = {out}"
        if act == "relu":
            return rf"{a} = \max(0, {z}) = \max(0, {self.V(zv)}) = {out}"
        if act == "linear":
            return f"{a} = {z} = {out}"
        return f"{self.n.activation_formula(l, i)} = {out}"

    def forward_layer_matrix(self, v: Vals, l: int, final: bool = False) -> None:
        n = self.n
        d = FINAL if final else DIGITS
        self.doc.math(f"{n.vz(l)} = {n.mW(l)} {n.va(l - 1)} + {n.vb(l)} = {bmatrix(v.W[l - 1])} {bmatrix(v.a[l - 1])} + "
                      f"{bmatrix(v.b[l - 1])} = {bmatrix(v.z[l], d)}")
        f = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\max(0, \cdot)", "linear": "",
             "softmax": r"\operatorname{softmax}"}[n.act(l)]
        rhs = f"{f}({n.vz(l)})" if f else n.vz(l)
        self.doc.math(f"{n.va(l)} = {rhs} = {bmatrix(v.a[l], d)}")

    def loss_numbers(self, v: Vals) -> str:
        """E with its numbers, for one sample and a few outputs."""
        n = self.n
        K = n.sizes[n.L]
        if v.S != 1 or K > MAX_TERMS:
            return ""
        ys, ts = v.a[-1][:, 0], v.t[:, 0]
        loss = self.ex.net.loss
        if loss in ("half_sse", "sse", "mse"):
            inner = " + ".join(f"({num(y)} - {pnum(t)})^{{2}}" for y, t in zip(ys, ts, strict=True))
            pre = {"half_sse": r"\frac{1}{2}", "sse": "", "mse": rf"\frac{{1}}{{{K}}}"}[loss]
            return rf"{pre}\left[{inner}\right]"
        if loss == "binary_cross_entropy":
            inner = " + ".join(rf"{num(t)} \ln {num(y)} + (1 - {num(t)}) \ln(1 - {num(y)})" for y, t in zip(ys, ts, strict=True))
            return rf"-\left[{inner}\right]"
        inner = " + ".join(rf"{num(t)} \ln {num(y)}" for y, t in zip(ys, ts, strict=True))
        return rf"-\left[{inner}\right]"

    def loss_symbols(self) -> str:
        n = self.n
        K = n.sizes[n.L]
        if K > MAX_TERMS:
            return ""
        loss = self.ex.net.loss
        pairs = [(n.a(n.L, i), n.target(i)) for i in range(K)]
        if loss in ("half_sse", "sse", "mse"):
            inner = " + ".join(f"({y} - {t})^{{2}}" for y, t in pairs)
            pre = {"half_sse": r"\frac{1}{2}", "sse": "", "mse": rf"\frac{{1}}{{{K}}}"}[loss]
            return rf"{pre}\left[{inner}\right]"
        if loss == "binary_cross_entropy":
            return r"-\left[" + " + ".join(rf"{t} \ln {y} + (1 - {t}) \ln(1 - {y})" for y, t in pairs) + r"\right]"
        return r"-\left[" + " + ".join(rf"{t} \ln {y}" for y, t in pairs) + r"\right]"

    def loss_eq(self, v: Vals) -> tuple[str, float]:
        E = _loss(self.ex, v)
        parts = [self.n.loss_formula(v.S)]
        if v.S == 1:
            sym = self.loss_symbols()
            if sym:
                parts.append(sym)
            nums = self.loss_numbers(v)
            if nums:
                parts.append(nums)
        parts.append(num(E, FINAL))
        return " = ".join(parts), E

    def value(self, v: Vals, B_: Ref) -> np.ndarray:
        """Write the value of B out (its formula with numbers) and return it."""
        n = self.n
        self.S = v.S
        kind = B_.kind
        if kind == "E":
            eq, E = self.loss_eq(v)
            self.doc.p(f"{self.loss_words()}:")
            self.doc.math(eq)
            return np.array(E)
        if kind == "param":
            p = self.ex.parameters[B_.name]
            k2, l, idx = p.uses[0]
            val = v.W[l - 1][idx] if k2 == "W" else v.b[l - 1][idx]
            self.doc.p(self.describe_param(B_.name))
            self.doc.math(f"{tex_name(B_.name)} = {num(val, FINAL)}")
            return np.array(val)
        if kind in ("W", "b"):
            val = v.W[B_.layer - 1] if kind == "W" else v.b[B_.layer - 1]
            self.doc.math(f"{(n.mW if kind == 'W' else n.vb)(B_.layer)} = {bmatrix(val, FINAL)}")
            return val.copy()
        l = B_.layer
        if kind == "a" and l == 0:
            self.doc.p(f"{B_.name} is an input:")
            self.doc.math(f"{n.a(0, B_.index)} = {self.V(v.a[0][B_.index], FINAL)}")
            return v.a[0][B_.index].copy()
        if kind == "A" and l == 0:
            self.doc.p("The inputs:")
            self.doc.math(f"{n.va(0)} = {bmatrix(v.a[0], FINAL)}")
            return v.a[0].copy()
        if kind in ("a", "z"):
            i = B_.index
            if l > 1:
                self.doc.p("From the forward pass, the layer below gives ",
                           *_sep([M(f"{n.a(l - 1, j)} = {self.V(v.a[l - 1][j])}") for j in range(n.sizes[l - 1])
                                  if n.edges[l][i, j]][:MAX_TERMS]), ".")
            self.doc.p(f"The weighted sum {self.ex.nets[l][i]} of {self.ex.neurons[l][i]}:")
            self.doc.math(self.forward_neuron(v, l, i, final=kind == "z"))
            if kind == "z":
                return v.z[l][i].copy()
            self.doc.p(f"and its {n.act(l)} output:")
            self.doc.math(self.activation_neuron(v, l, i, final=True))
            return v.a[l][i].copy()
        self.doc.p("In matrix form, as in the sheet:")
        if kind == "Z":
            self.doc.math(f"{n.vz(l)} = {n.mW(l)} {n.va(l - 1)} + {n.vb(l)} = {bmatrix(v.W[l - 1])} "
                          f"{bmatrix(v.a[l - 1])} + {bmatrix(v.b[l - 1])} = {bmatrix(v.z[l], FINAL)}")
            return v.z[l].copy()
        self.forward_layer_matrix(v, l, final=True)
        return v.a[l].copy()
