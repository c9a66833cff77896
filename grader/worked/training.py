"""Training written out: the update rule, the first step, the values after N epochs."""

from __future__ import annotations

import numpy as np

from ..spec import Question, Ref
from .doc import M
from .forward import _Forward
from .numbers import Vals, _Ctx
from .tex import (
    FINAL,
    bmatrix,
    dd,
    num,
    pnum,
    tex_name,
)


class _Training(_Forward):
    """after_epochs questions: the rule, the first step, the trained values."""

    # ------------------------------------------------------------------ training
    def training_words(self, q: Question) -> None:
        ex = self.ex
        N = q.after_epochs
        eta = num(ex.learning_rate)
        how = ("full-batch gradient descent: one step per epoch on E over all samples" if ex.mode == "batch"
               and ex.n_samples > 1 else "gradient descent: one step per epoch" if ex.mode == "batch"
               else "online gradient descent: one step per sample, in order, each epoch")
        self.doc.p(f"Training: {how}, for {N} epoch{'s' if N != 1 else ''} with learning rate ",
                   M(rf"\eta = {eta}"), ". Every parameter moves against its gradient:")
        self.doc.math(r"\theta \leftarrow \theta - \eta \, \frac{\partial E}{\partial \theta}")
        fixed = [name for name, p in ex.parameters.items() if p.fixed]
        tied = [name for name, p in ex.parameters.items() if p.shape == () and len(p.uses) > 1 and not p.fixed]
        notes = []
        if fixed:
            notes.append(f"Fixed parameters ({', '.join(fixed)}) do not train: they keep their values.")
        if tied:
            notes.append(f"A shared parameter ({', '.join(tied)}) moves once per step, by the sum of its "
                         "gradients over its uses.")
        if any(not ex.net.W_train[l].all() for l in range(ex.net.L)) and not fixed:
            notes.append("Edges that are not in the network stay 0.")
        if notes:
            self.doc.p(" ".join(notes))

    def trained_params(self, v: Vals) -> None:
        n = self.n
        scalars = [(name, p) for name, p in self.ex.parameters.items() if p.shape == ()]
        if scalars:
            cells = []
            for name, p in scalars:
                kind, l, idx = p.uses[0]
                val = v.W[l - 1][idx] if kind == "W" else v.b[l - 1][idx]
                cells.append(f"{tex_name(name)} = {num(val)}")
            for k in range(0, len(cells), 4):
                self.doc.math(r",\quad ".join(cells[k:k + 4]))
        for l in range(1, n.L + 1):
            if any(p.shape != () and p.uses[0][1] == l for p in self.ex.parameters.values()):
                self.doc.math(f"{n.mW(l)} = {bmatrix(v.W[l - 1])},\\quad {n.vb(l)} = {bmatrix(v.b[l - 1])}")

    def one_step(self, q: Question, v0: Vals, B_: Ref) -> np.ndarray:
        """One gradient step on a parameter, written out; returns the new value."""
        ex, n = self.ex, self.n
        eta = num(ex.learning_rate)
        E = Ref("E", "E")
        if B_.kind == "param":
            p = ex.parameters[B_.name]
            sp = tex_name(p.name)
            kind, l, idx = p.uses[0]
            old = v0.W[l - 1][idx] if kind == "W" else v0.b[l - 1][idx]
            if p.fixed:
                self.doc.p(f"{p.name} is fixed: it does not train, so after the step it still has its value:")
                self.doc.math(f"{sp} = {num(old, FINAL)}")
                return np.array(old)
            self.doc.p("First the gradient at the starting values.")
            g = float(self.derivative(v0, E, B_, matrix_form=False))
            new = old - ex.learning_rate * g
            self.doc.p("Then one step:")
            self.doc.math(rf"{sp} \leftarrow {sp} - \eta \, {dd('E', sp)} = {num(old)} - {eta} \cdot {pnum(g)} = "
                          f"{num(new, FINAL)}")
            return np.array(new)
        l = B_.layer
        kind = B_.kind
        self.doc.p("First the gradient at the starting values.")
        g = self.derivative(v0, E, B_)
        eff, mask = self._effective(v0, l, kind, g)
        old = v0.W[l - 1] if kind == "W" else v0.b[l - 1]
        new = old - ex.learning_rate * eff * mask
        sym = n.mW(l) if kind == "W" else n.vb(l)
        changed = not (mask.all() and np.array_equal(eff, g))
        if changed:
            self.doc.p("Only entries that train move (fixed parameters and missing edges stay; a shared "
                       "parameter moves by its summed gradient), so the step uses")
            self.doc.math(rf"\Delta = {bmatrix(eff * mask)}")
            grad = r"\Delta"
        else:
            grad = dd("E", sym)
        self.doc.p("Then one step:")
        self.doc.math(rf"{sym} \leftarrow {sym} - \eta \, {grad} = {bmatrix(old)} - {eta} {bmatrix(eff * mask)} = "
                      f"{bmatrix(new, FINAL)}")
        return new

    def _effective(self, v0: Vals, l: int, kind: str, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gradient a step applies to W(l)/b(l): tied entries summed, untrained entries masked."""
        ex = self.ex
        c = _Ctx(self, v0, Ref("E", "E"))
        dW = [c.D[k] @ v0.a[k - 1].T for k in range(1, ex.net.L + 1)]
        db = [c.D[k].sum(axis=1) for k in range(1, ex.net.L + 1)]
        eff = np.array(g, dtype=float)
        for group in ex.net.ties:
            total = sum((dW if kk == "W" else db)[ll - 1][idx] for kk, ll, idx in group)
            for kk, ll, idx in group:
                if kk == kind and ll == l:
                    eff[idx] = total
        mask = (ex.net.W_train if kind == "W" else ex.net.b_train)[l - 1].astype(float)
        return eff, mask
