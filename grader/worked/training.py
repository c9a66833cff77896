"""Training written out: the update rule, the first step, the values after N epochs."""

from __future__ import annotations

import re

import numpy as np

from .. import solver
from ..spec import Question, Ref
from . import curve
from .doc import B, M, md_escape
from .forward import _Forward
from .numbers import Vals, _Ctx, _sample, _vals
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

    # ------------------------------------------------------------------ the first step and the curve
    def first_step(self, q: Question, start: solver._State, B_: Ref | None) -> None:
        """The first step of training written out: the gradient from the worked steps, then
        θ ← θ − η ∂E/∂θ. Online with several samples, the first step is on sample 0 alone."""
        ex = self.ex
        online = ex.mode == "online" and ex.n_samples > 1
        v = _vals(ex, _sample(start, 0)) if online else _vals(ex, start)
        where = (" It is on sample 0 alone: online, each step descends that one sample's own loss (a batch of one, "
                 "so no 1/S)." if online else "")
        if B_ is not None:
            self.doc.p(B("The first step."), where)
            self.one_step(q, v, B_)
        else:
            self.doc.p(B("The first step."), " The gradient of every layer at the starting values, from the output "
                       "back, as in the questions above." + where)
            self.all_layers_step(v)
        if online:
            self.doc.p(f"Then the same for sample 1{', …' if ex.n_samples > 2 else ''} up to sample {ex.n_samples - 1}, "
                       "each step starting from the values the one before left: that is one epoch.")
        if q.after_epochs > 1:
            self.doc.p(f"Each of the {q.after_epochs} epochs repeats this from the values the one before left.")

    def all_layers_step(self, v: Vals) -> None:
        """δ and ∂E/∂W, ∂E/∂b of every layer (matrix form), then one update of every layer."""
        ex, n = self.ex, self.n
        E = Ref("E", "E")
        c = _Ctx(self, v, E)
        self.S = v.S
        self.chain(c, 1)
        grads = {}
        for l in range(n.L, 0, -1):
            for kind in ("W", "b"):
                mask = (ex.net.W_train if kind == "W" else ex.net.b_train)[l - 1]
                if not mask.any():
                    continue
                eq, g = (self.dW_eq if kind == "W" else self.db_eq)(c, l)
                self.doc.math(eq)
                grads[(kind, l)] = np.asarray(g).reshape(mask.shape)
        self.doc.p("Then every parameter that trains moves once, ",
                   M(r"\theta \leftarrow \theta - \eta \, \frac{\partial E}{\partial \theta}"),
                   " (fixed parameters and missing edges stay; a shared parameter moves by its summed gradient):")
        eta = num(ex.learning_rate)
        for l in range(1, n.L + 1):
            for kind in ("W", "b"):
                if (kind, l) not in grads:
                    continue
                eff, mask = self._effective(v, l, kind, grads[(kind, l)])
                step = eff * mask
                old = v.W[l - 1] if kind == "W" else v.b[l - 1]
                sym = n.mW(l) if kind == "W" else n.vb(l)
                grad = dd("E", sym) if np.array_equal(step, grads[(kind, l)]) else r"\Delta"
                self.doc.math(rf"{sym} \leftarrow {sym} - \eta \, {grad} = {bmatrix(old)} - {eta} {bmatrix(step)} = "
                              f"{bmatrix(old - ex.learning_rate * step)}")
                if grad == r"\Delta":
                    self.doc.p("where ", M(r"\Delta"), " is the gradient with only the entries that train.")

    def training_curve(self, q: Question, start: solver._State) -> tuple[list[int], list[float]]:
        """E after every epoch (0 = the start) up to ``after_epochs``; a long run at about 1,000 evenly
        spaced epochs (training in chunks takes the very same steps)."""
        ex = self.ex
        N = q.after_epochs
        chunk = max(1, N // 1000)
        s = start.copy()
        epochs, values = [0], [self.E_of(s)]
        done = 0
        while done < N:
            k = min(chunk, N - done)
            solver._train(ex.net, s, ex.learning_rate, k, ex.mode)
            done += k
            epochs.append(done)
            values.append(self.E_of(s))
        return epochs, values

    def E_of(self, s: solver._State) -> float:
        with np.errstate(all="ignore"):
            fwd = solver.forward(self.ex.net, s.W, s.b, s.x)
            return float(solver.loss(self.ex.net, fwd.a[-1], s.t)[0])

    def show_curve(self, q: Question, start: solver._State) -> None:
        """The training curve: a table of E at some epochs, and the SVG (inline in HTML, a file
        beside the Markdown when the writer knows where the Markdown goes)."""
        epochs, values = self.training_curve(q, start)
        N = q.after_epochs
        marks = sorted({0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, N} & set(range(N + 1)))
        at = dict(zip(epochs, values, strict=True))
        marks = [e for e in marks if e in at]
        self.doc.p(B("Training curve."), f" E after each epoch, from the start to epoch {N}:")
        self.doc.table(("epoch", "E"), [(str(e), M(num(at[e]))) for e in marks])
        title = f"E against epoch (question {q.id})"
        picture = curve.svg(epochs, values, title)
        inline = picture.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1).strip()
        name = self.curve_file(q)
        md = f"![{md_escape(title)}]({name})" if name else ""
        if name:
            self.files[name] = picture
        self.doc.raw(md, f'<figure class="curve">\n{inline}\n</figure>')

    def curve_file(self, q: Question) -> str | None:
        if self.assets is None:
            return None
        return f"{self.assets}-{re.sub(r'[^A-Za-z0-9_.-]', '_', q.id)}-curve.svg"
