"""Derivatives written out node by node in the chain-rule style of the sheet."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..spec import Exercise, Ref
from .doc import B, Doc, M, Span
from .notation import Notation
from .numbers import Node, Vals, _Ctx, _start, _vals
from .tex import (
    DIGITS,
    FINAL,
    MAX_TERMS,
    _join,
    _sub,
    bmatrix,
    dd,
    num,
    pnum,
    square,
    tex_name,
)


class _Chain:
    """The writer's base: numbers per sample and derivatives written out factor by factor."""

    def __init__(self, ex: Exercise):
        self.ex = ex
        self.n = Notation(ex)
        self.doc = Doc()
        self.values: dict[str, Any] = {}
        self.base = _vals(ex, _start(ex, None))
        self.S = 1
        self.assets: str | None = None  # file-name prefix of pictures written beside the Markdown
        self.files: dict[str, str] = {}  # those pictures: file name -> SVG

    # -- numbers per sample: a (S,) array is one number or a row of numbers
    @property
    def op(self) -> str:
        return r"\cdot" if self.S == 1 else r"\odot"

    def V(self, arr: Any, digits: int = DIGITS) -> str:
        a = np.asarray(arr, dtype=float)
        if a.ndim == 0:
            return num(a, digits)
        if a.size == 1:
            return num(a.reshape(()), digits)
        return bmatrix(a[None, :], digits)

    def Vp(self, arr: Any) -> str:
        a = np.asarray(arr, dtype=float)
        return pnum(a.reshape(())) if a.size == 1 else self.V(a)

    # -- formulas with numbers
    def fprime_sym(self, l: int, i: int) -> str:
        a, z = self.n.a(l, i), self.n.z(l, i)
        return {"sigmoid": f"{a}(1 - {a})", "tanh": f"(1 - {square(a)})",
                "relu": rf"\mathbf{{1}}[{z} > 0]", "linear": "1"}[self.n.act(l)]

    def fprime_num(self, v: Vals, l: int, i: int) -> str:
        a, z = v.a[l][i], v.z[l][i]
        act = self.n.act(l)
        if act == "sigmoid":
            return f"{self.Vp(a)} {self.op} (1 - {self.V(a)})"
        if act == "tanh":
            return f"(1 - {square(self.Vp(a))})"
        if act == "relu":
            return rf"\mathbf{{1}}[{self.V(z)} > 0]"
        return "1"

    def fprime_word(self, l: int) -> str:
        return {"sigmoid": "The derivative of the sigmoid is:", "tanh": "The derivative of tanh is:",
                "relu": "The derivative of ReLU is 1 where its input is positive, else 0:",
                "linear": "A linear activation has derivative 1:"}[self.n.act(l)]

    def loss_sym(self, i: int) -> str:
        y, t = self.n.a(self.n.L, i), self.n.target(i)
        K = self.n.sizes[self.n.L]
        body = {"half_sse": f"{y} - {t}", "sse": f"2({y} - {t})", "mse": rf"\frac{{2}}{{{K}}}({y} - {t})",
                "binary_cross_entropy": rf"\frac{{{y} - {t}}}{{{y}(1 - {y})}}",
                "cross_entropy": rf"-\frac{{{t}}}{{{y}}}"}[self.ex.net.loss]
        if self.mean:
            body = rf"\frac{{1}}{{S}}\left({body}\right)"
        return body

    @property
    def mean(self) -> bool:
        """Whether E is a mean over several samples here (over one sample it is that sample's loss)."""
        return self.ex.net.reduction == "mean" and self.S > 1

    def loss_num(self, v: Vals, i: int) -> str:
        y, t = self.V(v.a[-1][i]), self.Vp(v.t[i])
        K = self.n.sizes[self.n.L]
        body = {"half_sse": f"{y} - {t}", "sse": f"2 \\cdot ({y} - {t})", "mse": rf"\frac{{2}}{{{K}}} \cdot ({y} - {t})",
                "binary_cross_entropy": rf"\frac{{{y} - {t}}}{{{self.Vp(v.a[-1][i])} {self.op} (1 - {y})}}",
                "cross_entropy": rf"-\frac{{{t}}}{{{y}}}"}[self.ex.net.loss]
        if self.ex.net.reduction == "mean" and v.S > 1:
            body = rf"\frac{{1}}{{{v.S}}}\left({body}\right)"
        return body

    def loss_words(self) -> str:
        return {"half_sse": "E is half the sum of squared errors", "sse": "E is the sum of squared errors",
                "mse": "E is the mean squared error over the K outputs",
                "binary_cross_entropy": "E is the binary cross-entropy",
                "cross_entropy": "E is the cross-entropy"}[self.ex.net.loss]

    # -- one node's derivative, top-down
    def node_eq(self, c: _Ctx, node: Node, listed: list[Node]) -> str | None:
        kind, l, i = node
        if node == c.node:
            return None
        L = self.n.L
        if kind == "a":
            if c.A.kind == "E" and l == L:
                if self.n.act(L) != "softmax" and ("z", L, i) in listed:
                    return None  # folded into ∂E/∂z
                return f"{c.d(node)} = {self.loss_sym(i)} = {self.loss_num(c.v, i)} = {self.V(c.value(node))}"
            return self.sum_eq(c, node)
        if self.n.act(l) == "softmax":
            return self.softmax_eq(c, node)
        a = ("a", l, i)
        if a == c.node:
            return f"{c.d(node)} = {self.fprime_sym(l, i)} = {self.fprime_num(c.v, l, i)} = {self.V(c.value(node))}"
        if c.A.kind == "E" and l == L:
            return (f"{c.d(node)} = {c.d(a)} \\cdot {dd(c.sym(a), c.sym(node))} = ({self.loss_sym(i)}) \\cdot "
                    f"{self.fprime_sym(l, i)} = {self.Vp(c.G[l][i])} {self.op} {self.Vp(c.fp(l, i))} = {self.V(c.value(node))}")
        return (f"{c.d(node)} = {c.d(a)} \\cdot {self.fprime_sym(l, i)} = {self.Vp(c.G[l][i])} {self.op} "
                f"{self.Vp(c.fp(l, i))} = {self.V(c.value(node))}")

    def sum_terms(self, c: _Ctx, node: Node) -> tuple[str, str]:
        """∂A/∂a_u = Σ_k ∂A/∂z_k · w_{u→k}: symbolic and numeric sums (over paths that reach A)."""
        _, l, u = node
        ks = [k for k in range(self.n.sizes[l + 1]) if self.n.edges[l + 1][k, u] and ("z", l + 1, k) in c.reach]
        if not ks:
            return "0", "0"
        if len(ks) > MAX_TERMS:
            sym = rf"\sum_{{k}} {dd(c.sA, _sub(self.n.vz(l + 1), 'k'))} \, {_sub(self.n.mW(l + 1), f'k,{u + 1}')}"
            return sym, ""
        syms, nums = [], []
        for k in ks:
            w = self.n.wsym[(l + 1, k, u)]
            wv = pnum(c.v.W[l][k, u])
            if ("z", l + 1, k) == c.node:
                syms.append(w)
                nums.append(wv)
            else:
                syms.append(f"{c.d(('z', l + 1, k))} \\cdot {w}")
                nums.append(f"{self.Vp(c.D[l + 1][k])} {self.op} {wv}")
        return " + ".join(syms), " + ".join(nums)

    def sum_eq(self, c: _Ctx, node: Node) -> str:
        sym, nums = self.sum_terms(c, node)
        mid = f" = {nums}" if nums and nums != "0" else ""
        return f"{c.d(node)} = {sym}{mid} = {self.V(c.value(node))}" if sym != "0" else f"{c.d(node)} = 0"

    def softmax_terms(self, c: _Ctx, node: Node) -> tuple[str, str]:
        _, l, i = node
        ks = [k for k in range(self.n.sizes[l]) if ("a", l, k) in c.reach]
        if len(ks) > MAX_TERMS:
            ak = _sub(self.n.va(l), "k")
            return rf"\sum_{{k}} {dd(c.sA, ak)} \, {ak}(\mathbf{{1}}[k = {i + 1}] - {self.n.a(l, i)})", ""
        ai = self.n.a(l, i)
        syms, nums = [], []
        for k in ks:
            ak = self.n.a(l, k)
            jac_sym = f"{ai}(1 - {ai})" if k == i else f"(-{ak} {ai})"
            jac = c.v.a[l][i] * (1 - c.v.a[l][i]) if k == i else -c.v.a[l][k] * c.v.a[l][i]
            if ("a", l, k) == c.node:
                syms.append(jac_sym)
                nums.append(self.Vp(jac))
            else:
                syms.append(f"{c.d(('a', l, k))} \\cdot {jac_sym}")
                nums.append(f"{self.Vp(c.G[l][k])} {self.op} {self.Vp(jac)}")
        return " + ".join(syms), " + ".join(nums)

    def softmax_eq(self, c: _Ctx, node: Node) -> str:
        sym, nums = self.softmax_terms(c, node)
        mid = f" = {nums}" if nums else ""
        return f"{c.d(node)} = {sym}{mid} = {self.V(c.value(node))}"

    def show_between(self, c: _Ctx, starts: list[Node], intro: str = "where, from the output back:") -> None:
        self.show_nodes(c, c.between(starts), intro)

    def show_nodes(self, c: _Ctx, listed: list[Node], intro: str) -> None:
        """The derivatives of the listed nodes, one equation each, or for many the matrix chain."""
        if len(listed) > 2 * MAX_TERMS:
            self.doc.p(intro.rstrip(":") + " (layer by layer in matrix form, as there are many):")
            self.chain(c, min(x[1] for x in listed if x[0] == "z"))
            return
        eqs = [e for e in (self.node_eq(c, x, listed) for x in listed) if e]
        if eqs:
            self.doc.p(intro)
            for e in eqs:
                self.doc.math(e)

    def explain_G(self, c: _Ctx, l: int, u: int) -> None:
        """∂A/∂a_u, with the derivatives it needs (sheet style: the sum over every next neuron)."""
        node = ("a", l, u)
        L = self.n.L
        if c.A.kind == "E" and l == L:
            self.doc.p(f"{self.ex.neurons[L][u]} is an output and ", M(self.n.loss_formula(c.v.S)),
                       f" ({self.loss_words()}), so:")
            self.doc.math(f"{c.d(node)} = {self.loss_sym(u)} = {self.loss_num(c.v, u)} = {self.V(c.value(node))}")
            return
        sym, nums = self.sum_terms(c, node)
        if sym == "0":
            self.doc.p(f"No path leads from {self.ex.neurons[l][u]} to {c.A.name}:")
            self.doc.math(f"{c.d(node)} = 0")
            return
        ks = [self.ex.nets[l + 1][k] for k in range(self.n.sizes[l + 1])
              if self.n.edges[l + 1][k, u] and ("z", l + 1, k) in c.reach]
        fed = _join(ks) if len(ks) <= MAX_TERMS else f"{len(ks)} neurons of layer {l + 1}"
        self.doc.p(f"{self.ex.neurons[l][u]} feeds {fed}, so ", M(c.d(node)),
                   " sums over every path through the next layer:")
        self.doc.math(f"{c.d(node)} = {sym}")
        self.show_between(c, [node])
        self.doc.math(f"{c.d(node)} = {nums + ' = ' if nums else ''}{self.V(c.value(node))}")

    # ------------------------------------------------------------------ derivative questions
    def derivative(self, v: Vals, A: Ref, B: Ref, matrix_form: bool = True) -> np.ndarray:
        """Write ∂A/∂B out and return its value (B's shape, then a sample axis when per sample)."""
        c = _Ctx(self, v, A)
        self.S = v.S
        if B.kind in ("W", "b", "A", "Z"):
            return self.matrix_derivative(c, B)
        if B.kind == "E":
            if A.kind == "E":
                self.doc.math(r"\frac{\partial E}{\partial E} = 1")
                return np.array(1.0)
            self.doc.p(f"{A.name} is computed before E, so it does not depend on E:")
            self.doc.math(f"{dd(c.sA, 'E')} = 0")
            return np.zeros(v.S)
        if B.kind == "param":
            return self.param_derivative(c, B, matrix_form)
        node: Node = ("a" if B.kind == "a" else "z", B.layer, B.index)
        sB = c.sym(node)
        if node == c.node:
            self.doc.math(f"{dd(sB, sB)} = 1")
            return np.ones(v.S)
        if node not in c.reach:
            self.doc.p(f"{A.name} does not depend on {B.name}: no path in the network leads from {B.name} to "
                       f"{A.name}, so")
            self.doc.math(f"{c.d(node)} = 0")
            return np.zeros(v.S)
        l, i = B.layer, B.index
        if B.kind == "a":
            self.explain_G(c, l, i)
        elif self.n.act(l) == "softmax":
            self.doc.p(f"{self.ex.neurons[l][i]} is computed by a softmax over the layer, ",
                       M(self.n.activation_formula(l, i)), ", so every output of the layer depends on ",
                       M(self.n.z(l, i)), ":")
            sym, _ = self.softmax_terms(c, node)
            self.doc.math(f"{c.d(node)} = {sym}")
            self.show_between(c, [node], "with")
            self.doc.math(self.softmax_eq(c, node))
        else:
            a: Node = ("a", l, i)
            if a == c.node:
                self.doc.p(M(self.n.activation_formula(l, i)), f". {self.fprime_word(l)}")
                self.doc.math(f"{c.d(node)} = {self.fprime_sym(l, i)} = {self.fprime_num(v, l, i)} = "
                              f"{self.V(c.value(node), FINAL)}")
            else:
                self.doc.p("We use the chain rule:")
                self.doc.math(f"{c.d(node)} = {c.d(a)} \\cdot {dd(c.sym(a), sB)}")
                self.step(1, M(c.d(a)))
                self.explain_G(c, l, i)
                self.step(2, M(dd(c.sym(a), sB)))
                self.doc.p(M(self.n.activation_formula(l, i)), f". {self.fprime_word(l)}")
                self.doc.math(f"{dd(c.sym(a), sB)} = {self.fprime_sym(l, i)} = {self.fprime_num(v, l, i)} = "
                              f"{self.V(c.fp(l, i))}")
                self.step(3, "Combine everything:")
                first = f"({self.loss_sym(i)})" if c.A.kind == "E" and l == self.n.L else c.d(a)
                self.doc.math(f"{c.d(node)} = {first} \\cdot {self.fprime_sym(l, i)} = {self.Vp(c.G[l][i])} "
                              f"{self.op} {self.Vp(c.fp(l, i))} = {self.V(c.value(node), FINAL)}")
        value = c.value(node).copy()
        if matrix_form:
            self.matrix_form_for(c, B, node)
        return value

    def step(self, k: int, *spans: Span) -> None:
        if len(spans) == 1 and isinstance(spans[0], str):
            self.doc.p(B(f"Step {k}."), " ", spans[0])
        else:
            self.doc.p(B(f"Step {k}."), " Compute ", *spans, ".")

    def param_derivative(self, c: _Ctx, B_: Ref, matrix_form: bool) -> np.ndarray:
        ex, v = self.ex, c.v
        p = ex.parameters[B_.name]
        sp = tex_name(p.name)
        uses = list(p.uses)
        dep = [u for u in uses if ("z", u[1], u[2][0]) in c.reach]
        self.doc.p(self.describe_param(p.name) + (" It is fixed: it does not train, but it still has a gradient."
                                                  if p.fixed else ""))
        if not dep:
            self.doc.p(f"{c.A.name} does not depend on {p.name}: no path leads from it to {c.A.name}, so")
            self.doc.math(f"{dd(c.sA, sp)} = 0")
            return np.zeros(v.S) if c.per_sample else np.array(0.0)
        total = np.zeros(v.S)
        if len(uses) == 1:
            kind, l, idx = uses[0]
            i = idx[0]
            zv: Node = ("z", l, i)
            av: Node = ("a", l, i)
            src = v.a[l - 1][idx[1]] if kind == "W" else np.ones(v.S)
            src_sym = self.n.a(l - 1, idx[1]) if kind == "W" else "1"
            dz = dd(self.n.z(l, i), sp)
            softmax = self.n.act(l) == "softmax"
            if zv == c.node:
                factors = [dz]
            elif not softmax and av == c.node:
                factors = [dd(c.sym(av), c.sym(zv)), dz]
            elif not softmax:
                factors = [c.d(av), dd(c.sym(av), c.sym(zv)), dz]
            else:
                factors = [c.d(zv), dz]
            self.doc.p("To compute the partial derivative of ", M(c.sA), " with respect to ", M(sp),
                       ", we use the chain rule:")
            self.doc.math(f"{dd(c.sA, sp)} = " + r" \cdot ".join(factors))
            k = 0
            subst, nums = [], []
            if factors[0] == c.d(av) and len(factors) == 3:
                k += 1
                self.step(k, M(c.d(av)))
                self.explain_G(c, l, i)
                subst.append(f"({self.loss_sym(i)})" if c.A.kind == "E" and l == self.n.L else c.d(av))
                nums.append(self.Vp(c.G[l][i]))
            if softmax and zv != c.node:
                k += 1
                self.step(k, M(c.d(zv)))
                self.doc.p(f"{self.ex.neurons[l][i]} is computed by a softmax over its layer, ",
                           M(self.n.activation_formula(l, i)), ", so ", M(self.n.z(l, i)),
                           " reaches every output of the layer:")
                sym, _ = self.softmax_terms(c, zv)
                self.doc.math(f"{c.d(zv)} = {sym}")
                self.show_between(c, [zv], "with")
                self.doc.math(self.softmax_eq(c, zv))
                subst.append(c.d(zv))
                nums.append(self.Vp(c.D[l][i]))
            if not softmax and zv != c.node:
                k += 1
                self.step(k, M(dd(c.sym(av), c.sym(zv))))
                self.doc.p(f"The output {self.ex.neurons[l][i]} is the {self.n.act(l)} of the weighted sum "
                           f"{self.ex.nets[l][i]}:")
                self.doc.math(self.n.activation_formula(l, i))
                self.doc.p(self.fprime_word(l))
                self.doc.math(f"{dd(c.sym(av), c.sym(zv))} = {self.fprime_sym(l, i)} = "
                              f"{self.fprime_num(v, l, i)} = {self.V(c.fp(l, i))}")
                subst.append(self.fprime_sym(l, i))
                nums.append(self.Vp(c.fp(l, i)))
            k += 1
            self.step(k, M(dz))
            self.doc.p(f"The weighted sum {self.ex.nets[l][i]} is:")
            self.doc.math(f"{self.n.z(l, i)} = {self.n.net_formula(l, i)}")
            self.doc.p("The partial derivative of ", M(self.n.z(l, i)), " with respect to ", M(sp), " is:")
            self.doc.math(f"{dz} = {src_sym}" + (f" = {self.V(src)}" if kind == "W" else ""))
            if kind == "W":
                self.doc.p(f"Here {self.ex.neurons[l - 1][idx[1]]} is the "
                           + ("input" if l == 1 else f"output of neuron {idx[1] + 1} of layer {l - 1}")
                           + f" that {p.name} multiplies.")
            subst.append(src_sym)
            nums.append(self.Vp(src))
            total = c.D[l][i] * src
            if len(factors) > 1 or c.A.kind == "E" and v.S > 1:
                k += 1
                self.step(k, "Combine everything:")
                self.doc.math(self.combine(c, sp, subst, nums, total))
            value = total if c.per_sample else np.array(total.sum())
        else:
            owners = sorted({self.ex.neurons[l][idx[0]] for _, l, idx in uses})
            self.doc.p(f"{p.name} is shared (tied): it enters " + _join(sorted({self.ex.nets[l][idx[0]] for _, l, idx in uses}))
                       + f" of {_join(owners)}, so its gradient is the sum over its uses:")
            terms_sym, terms_num, parts = [], [], []
            for kind, l, idx in dep:
                zv = ("z", l, idx[0])
                src = v.a[l - 1][idx[1]] if kind == "W" else np.ones(v.S)
                src_sym = self.n.a(l - 1, idx[1]) if kind == "W" else "1"
                first = "" if zv == c.node else f"{c.d(zv)} \\cdot "
                terms_sym.append(first + dd(self.n.z(l, idx[0]), sp))
                parts.append(f"{dd(self.n.z(l, idx[0]), sp)} = {src_sym}")
                terms_num.append(f"{self.Vp(c.D[l][idx[0]])} {self.op} {self.Vp(src)}")
                total = total + c.D[l][idx[0]] * src
            self.doc.math(f"{dd(c.sA, sp)} = " + " + ".join(terms_sym))
            skipped = [self.ex.nets[l][idx[0]] for kind, l, idx in uses if (kind, l, idx) not in dep]
            if skipped:
                self.doc.p(f"({_join(skipped)} does not lead to {c.A.name}: that term is 0.)")
            self.doc.p("Each use contributes the neuron's error signal times ", M(r"\partial z / \partial " + sp), ":")
            self.doc.math(r",\quad ".join(parts))
            starts = [("z", l, idx[0]) for _, l, idx in dep]
            listed = c.between(starts) + [x for x in starts if x != c.node]
            listed = sorted(set(listed), key=lambda x: (-x[1], 0 if x[0] == "a" else 1, x[2]))
            self.show_nodes(c, listed, "where, from the output back:")
            self.doc.p("Adding the uses:")
            value = total if c.per_sample else np.array(total.sum())
            line = f"{dd(c.sA, sp)} = " + " + ".join(terms_num)
            if not c.per_sample and v.S > 1:
                line += rf" = \sum_{{s}} {self.V(total)}"
            self.doc.math(f"{line} = {self.V(value, FINAL)}")
        if matrix_form:
            self.matrix_form_param(c, p.name, dep)
        return value

    def combine(self, c: _Ctx, sp: str, subst: list[str], nums: list[str], total: np.ndarray) -> str:
        line = f"{dd(c.sA, sp)} = " + r" \cdot ".join(subst) + " = " + f" {self.op} ".join(nums)
        if c.per_sample or c.v.S == 1:
            return f"{line} = {self.V(total, FINAL)}"
        return rf"{line} = \sum_{{s}} {self.V(total)} = {num(total.sum(), FINAL)}"

    def describe_param(self, name: str) -> str:
        p = self.ex.parameters[name]
        ex = self.ex
        if p.shape != ():
            kind, l, _ = p.uses[0]
            what = "weight matrix" if kind == "W" else "bias vector"
            return f"{name} is the {what} of layer {l}."
        if len(p.uses) == 1:
            kind, l, idx = p.uses[0]
            if kind == "W":
                return f"{name} is the weight of the edge {ex.neurons[l - 1][idx[1]]} → {ex.neurons[l][idx[0]]}."
            return f"{name} is the bias of {ex.neurons[l][idx[0]]}."
        owners = [ex.neurons[l][idx[0]] for _, l, idx in p.uses]
        what = "bias" if p.uses[0][0] == "b" else "weight"
        return f"{name} is one {what} shared by {_join(owners)}."
