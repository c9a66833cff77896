"""The matrix form of a derivative: the layer chain of δ, ∂E/∂W and ∂E/∂b."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..spec import Ref
from .chain import _Chain
from .doc import B, M
from .numbers import Node, _Ctx, fprime
from .tex import (
    _sub,
    bmatrix,
    dd,
    num,
    transpose,
)


class _MatrixForm(_Chain):
    """The matrix form of derivatives (mixed under the sections of :class:`~grader.worked.writer._Writer`)."""

    # ------------------------------------------------------------------ matrix form
    def dsym(self, c: _Ctx, l: int) -> str:
        return rf"\delta^{{({l})}}" if c.A.kind == "E" else dd(c.sA, self.n.vz(l))

    def gsym(self, c: _Ctx, l: int) -> str:
        return dd(c.sA, self.n.va(l))

    def fprime_vec_sym(self, l: int) -> str:
        a, z = self.n.va(l), self.n.vz(l)
        return {"sigmoid": rf"{a} \odot (1 - {a})", "tanh": rf"(1 - {a} \odot {a})",
                "relu": rf"\mathbf{{1}}[{z} > 0]", "linear": "1"}[self.n.act(l)]

    def loss_vec_sym(self) -> str:
        y, t = self.n.va(self.n.L), self.n.vt()
        K = self.n.sizes[self.n.L]
        body = {"half_sse": f"{y} - {t}", "sse": f"2({y} - {t})", "mse": rf"\frac{{2}}{{{K}}}({y} - {t})",
                "binary_cross_entropy": rf"({y} - {t}) \oslash ({y} \odot (1 - {y}))",
                "cross_entropy": rf"-{t} \oslash {y}"}[self.ex.net.loss]
        body = body.replace(r"\oslash", "/")
        if self.mean:
            body = rf"\frac{{1}}{{S}}\left({body}\right)"
        return body

    def top_eq(self, c: _Ctx) -> None:
        """Where the matrix chain starts: ∂E/∂y from the loss, or a one-hot e_i for one neuron."""
        n, v = self.n, c.v
        if c.A.kind == "E":
            l = n.L
            y, t = bmatrix(v.a[-1]), bmatrix(v.t)
            K = n.sizes[n.L]
            nums = {"half_sse": f"{y} - {t}", "sse": rf"2 \left({y} - {t}\right)",
                    "mse": rf"\frac{{2}}{{{K}}} \left({y} - {t}\right)",
                    "binary_cross_entropy": rf"\left({y} - {t}\right) / \left({y} \odot \left(1 - {y}\right)\right)",
                    "cross_entropy": f"-{t} / {y}"}[self.ex.net.loss]
            nums = rf"\frac{{1}}{{{v.S}}}\left({nums}\right) = " if self.mean else f"{nums} = "
            self.doc.math(f"{self.gsym(c, l)} = {self.loss_vec_sym()} = {nums}{bmatrix(c.G[l])}")
            return
        l = c.A.layer
        vec = n.va(l) if c.A.kind == "a" else n.vz(l)
        self.doc.math(f"{dd(c.sA, vec)} = {_sub('e', str(c.A.index + 1))} = "
                      + bmatrix((c.G if c.A.kind == "a" else c.D)[l]))

    def chain(self, c: _Ctx, lo: int) -> None:
        """The matrix chain from A down to ∂A/∂z^(lo), as in the sheet's matrix form."""
        n, v = self.n, c.v
        top = n.L if c.A.kind == "E" else c.A.layer
        for l in range(top, lo - 1, -1):
            if l == top:
                self.top_eq(c)
                if c.A.kind == "z":
                    continue
            else:
                self.doc.math(f"{self.gsym(c, l)} = {transpose(n.mW(l + 1))} {self.dsym(c, l + 1)} = "
                              f"{transpose(bmatrix(v.W[l]))} {bmatrix(c.D[l + 1])} = {bmatrix(c.G[l])}")
            if n.act(l) == "softmax":
                a = n.va(l)
                self.doc.p("A softmax layer's Jacobian is not diagonal: per sample, ",
                           M(r"\frac{\partial a_k}{\partial z_i} = a_k(\mathbf{1}[k = i] - a_i)"), ", so")
                sums = np.broadcast_to((c.G[l] * v.a[l]).sum(axis=0, keepdims=True), v.a[l].shape)
                g = self.gsym(c, l)
                if v.S == 1:
                    inner = f"{transpose(a)} {g}"
                else:  # per sample column s: a_sᵀ g_s, i.e. the column sums of a ⊙ g, put back in every row
                    self.doc.p("With several samples this is done per sample column; ", M(r"\mathbf{1}"),
                               " is a column of ones, so ", M(rf"\mathbf{{1}}^{{\top}}({a} \odot {g})"),
                               " is the row of the samples' sums and ",
                               M(rf"\mathbf{{1}}\mathbf{{1}}^{{\top}}({a} \odot {g})"), " has the shape of ", M(a), ":")
                    inner = rf"\mathbf{{1}}\mathbf{{1}}^{{\top}}({a} \odot {g})"
                self.doc.math(rf"{self.dsym(c, l)} = {a} \odot \left({g} - {inner}\right) = {bmatrix(v.a[l])} "
                              rf"\odot \left({bmatrix(c.G[l])} - {bmatrix(sums)}\right) = {bmatrix(c.D[l])}")
                continue
            if n.act(l) == "linear":
                self.doc.math(f"{self.dsym(c, l)} = {self.gsym(c, l)} = {bmatrix(c.D[l])}")
                continue
            f = fprime(n.act(l), v.z[l], v.a[l])
            self.doc.math(rf"{self.dsym(c, l)} = {self.gsym(c, l)} \odot {self.fprime_vec_sym(l)} = "
                          rf"{bmatrix(c.G[l])} \odot {bmatrix(f)} = {bmatrix(c.D[l])}")

    def dW_eq(self, c: _Ctx, l: int) -> tuple[str, np.ndarray]:
        r"""∂A/∂W(l) = δ aᵀ; with several samples the product sums the samples' outer products
        (:math:`\sum_s \delta_s a_s^\top`), or, for a per-sample A, one matrix per sample."""
        v = c.v
        lhs = dd(c.sA, self.n.mW(l))
        d, a = self.dsym(c, l), self.n.va(l - 1)
        if not c.per_sample:
            M_ = c.D[l] @ v.a[l - 1].T
            total = rf" = \sum_{{s=1}}^{{{v.S}}} {_sub(d, 's')} {transpose(_sub(a, 's'))}" if v.S > 1 else ""
            return (f"{lhs} = {d} {transpose(a)}{total} = {bmatrix(c.D[l])} "
                    f"{transpose(bmatrix(v.a[l - 1]))} = {bmatrix(M_)}"), M_
        M_ = c.D[l][:, None, :] * v.a[l - 1][None, :, :]
        if v.S == 1:
            return f"{lhs} = {d} {transpose(a)} = {bmatrix(M_[..., 0])}", M_
        return (rf"{_sub(lhs, 's')} = {_sub(d, 's')} {transpose(_sub(a, 's'))}\; (s = 1, \ldots, {v.S}) = "
                f"{bmatrix(M_)}"), M_

    def db_eq(self, c: _Ctx, l: int) -> tuple[str, np.ndarray]:
        lhs = dd(c.sA, self.n.vb(l))
        d = self.dsym(c, l)
        if not c.per_sample and c.v.S > 1:
            M_ = c.D[l].sum(axis=1)
            return rf"{lhs} = {d} \mathbf{{1}} = \sum_{{s=1}}^{{{c.v.S}}} {_sub(d, 's')} = {bmatrix(M_)}", M_
        M_ = c.D[l] if c.per_sample else c.D[l][:, 0]
        if c.per_sample and c.v.S > 1:
            return rf"{_sub(lhs, 's')} = {_sub(d, 's')}\; (s = 1, \ldots, {c.v.S}) = {bmatrix(M_)}", M_
        return f"{lhs} = {d} = {bmatrix(M_)}", M_

    def matrix_form_param(self, c: _Ctx, name: str, dep: list[Any]) -> None:
        if c.per_sample and c.v.S > 1:
            return
        p = self.ex.parameters[name]
        layers = sorted({l for _, l, _ in dep})
        self.doc.p(B("Matrix form."), " The same number comes out of the layer's matrices, as in the sheet:")
        self.chain(c, layers[0])
        picks, total = [], 0.0
        for l in reversed(layers):
            kinds = sorted({k for k, ll, _ in dep if ll == l}, reverse=True)
            for kind in kinds:
                eq, M_ = (self.dW_eq if kind == "W" else self.db_eq)(c, l)
                self.doc.math(eq)
                M_ = M_.reshape(M_.shape[:2] if kind == "W" else M_.shape[:1])
                for k2, ll, idx in dep:
                    if ll == l and k2 == kind:
                        mat = self.n.mW(l) if kind == "W" else self.n.vb(l)
                        picks.append((mat, idx, float(M_[idx])))
                        total += float(M_[idx])
        words = []
        for mat, idx, val in picks:
            pos = ", ".join(str(k + 1) for k in idx)
            entry = _sub(r"\left[" + dd(c.sA, mat) + r"\right]", pos)
            words.append(f"{entry} = {num(val)}")
        if any(k == "W" and not self.n.edges[l].all() for k, l, _ in dep):
            self.doc.p("(Entries for edges that are not in the network are not parameters: nothing uses them.)")
        text = (f"{p.name} is entry ({', '.join(str(k + 1) for k in dep[0][2])}) of that matrix (row = the neuron it feeds):"
                if len(picks) == 1 else f"{p.name} is several entries; their sum:")
        self.doc.p(text)
        self.doc.math(" + ".join(words) + (f" = {num(total)}" if len(picks) > 1 else ""))

    def matrix_form_for(self, c: _Ctx, B_: Ref, node: Node) -> None:
        """The matrix form of ∂A/∂(neuron or pre-activation): one entry of a layer vector."""
        if (c.per_sample and c.v.S > 1) or node == c.node:
            return
        kind, l, i = node
        top = self.n.L if c.A.kind == "E" else c.A.layer
        self.doc.p(B("Matrix form."), " As a layer vector (the entry for ", M(c.sym(node)), " is row ", str(i + 1), "):")
        if kind == "a" and l == top:
            self.top_eq(c)
        elif kind == "a":
            self.chain(c, l + 1)
            self.doc.math(f"{self.gsym(c, l)} = {transpose(self.n.mW(l + 1))} {self.dsym(c, l + 1)} = "
                          f"{transpose(bmatrix(c.v.W[l]))} {bmatrix(c.D[l + 1])} = {bmatrix(c.G[l])}")
        else:
            self.chain(c, l)

    def matrix_derivative(self, c: _Ctx, B_: Ref) -> np.ndarray:
        """∂A/∂W(l), ∂A/∂b(l), ∂A/∂z(l) or ∂A/∂a(l) in matrix form."""
        n, v = self.n, c.v
        kind, l = B_.kind, B_.layer
        top = n.L if c.A.kind == "E" else c.A.layer
        sB = {"W": n.mW, "b": n.vb, "Z": n.vz, "A": n.va}[kind](l)
        shape = {"W": v.W[l - 1].shape if l > 0 else (0,), "b": v.b[l - 1].shape if l > 0 else (0,),
                 "Z": v.a[l].shape, "A": v.a[l].shape}[kind]
        depends = l < top or (l == top and (kind != "A" or c.A.kind in ("a", "E")))
        if c.A.kind == "z" and l == top and kind == "A":
            depends = False
        if not depends:
            self.doc.p(f"{c.A.name} does not depend on {B_.name}: nothing leads from it to {c.A.name}, so every entry is 0.")
            self.doc.math(f"{dd(c.sA, sB)} = 0")
            zero = np.zeros(shape)
            if c.per_sample and kind in ("W", "b"):
                zero = np.zeros((*shape, v.S))
            return zero
        self.doc.p("In matrix form, as in the sheet (columns are samples):" if v.S > 1 else
                   "In matrix form, as in the sheet:")
        if kind == "A":
            if l == top:
                self.top_eq(c)
                return c.G[l].copy()
            self.chain(c, l + 1)
            self.doc.math(f"{self.gsym(c, l)} = {transpose(n.mW(l + 1))} {self.dsym(c, l + 1)} = "
                          f"{transpose(bmatrix(v.W[l]))} {bmatrix(c.D[l + 1])} = {bmatrix(c.G[l])}")
            return c.G[l].copy()
        self.chain(c, l)
        if kind == "Z":
            return c.D[l].copy()
        eq, M_ = (self.dW_eq if kind == "W" else self.db_eq)(c, l)
        if kind == "W" and v.S > 1 and not c.per_sample:
            self.doc.p("The product sums over the samples:")
        self.doc.math(eq)
        return np.array(M_)
