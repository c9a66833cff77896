r"""Switches of the solver's passes: mistakes and other conventions, one per variant.

A :class:`Variant` is one point in the space of ways to compute back-propagation: the reference
(every field at its default), a student's mistake (σ′ left out in one layer, ``t - y``, the
hidden δ taken from the output error …), another convention (the mean over samples, no ½,
the cross-entropy gradient), or a combination of them. :class:`Switches` turns a list of V
variants into per-variant arrays on the solver's internal last axis, so that
:func:`grader.solver.reverse`, :func:`~grader.solver.gradients`, the training step and
:func:`~grader.solver.derivative` compute all V in one batched call, with one loop body for the
reference and every variant. The solver calls the hooks below only when it is given switches.

Everything here is pure NumPy on internal arrays: (n, S, V) activations, (n, m, V) weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .spec.model import Network

# how f′ is taken in one layer; "" is the reference f′(z)
ACT_MODES = ("none", "of_z", "of_a", "twice", "as_f", "only")


@dataclass(frozen=True)
class Variant:
    """One way to compute back-propagation; the defaults are the reference computation."""

    loss: str = ""  # the loss whose gradient seeds the reverse pass ("" = the exercise's)
    reduction: str = ""  # "sum" or "mean" over samples ("" = the exercise's)
    loss_scale: float = 1.0  # ∂E/∂y times this: −1 t − y, 2 the ½ dropped, ½ a ½ added
    E_scale: float = 1.0  # E times this (the same conventions for the value of E)
    sample: int | None = None  # only this sample contributes (0 the first, −1 the last)
    act: tuple[tuple[int, str], ...] = ()  # (layer, mode in ACT_MODES): how f′ is taken there
    from_output: frozenset[int] = frozenset()  # layers l that back-propagate ∂E/∂a(l), not δ(l)
    path: tuple[int, int] | None = None  # (l, k): ∂E/∂a(l-1) through neuron k of layer l only
    edge: tuple[int, int] | None = None  # (l, k): dW(l) uses roll(a(l-1), k); k = 0: z(l-1)
    backprop_T: int = 0  # layer l whose W(l) back-propagates untransposed
    elementwise: int = 0  # layer l whose W(l)ᵀ δ(l) is the elementwise W(l)ᵀ * δ(l), broadcast as NumPy does
    elementwise_dW: int = 0  # layer l whose dW(l) is the elementwise δ(l) * a(l-1) (n_l = n_(l-1) = S)
    updated: bool = False  # back-propagate through the already updated weights (training, or η of backward)
    lr: str = ""  # "sign": +η; "one": η = 1; "per_sample": η / S (training)
    bias_sample: int = -1  # db = δ of this sample only
    tie_use: int = -1  # a tied parameter's gradient = this use's only
    no_bias: bool = False  # the forward pass leaves the biases out; db = 0
    bias_fixed: bool = False  # the biases never move in training

    def merge(self, other: Variant) -> Variant | None:
        """Both variants at once, or None when they switch the same thing differently."""
        mine = self.__dict__
        out = {name: mine[name] for name in _DEFAULTS}
        for name, b in other.key:
            a, r = mine[name], _DEFAULTS[name]
            if a == b:
                continue
            if name == "act":
                if {l for l, _ in a} & {l for l, _ in b}:
                    return None
                out[name] = tuple(sorted(a + b))
            elif name == "from_output":
                out[name] = a | b
            elif name in ("loss_scale", "E_scale"):
                out[name] = a * b
            elif a != r:
                return None
            else:
                out[name] = b
        return Variant(**out)

    @cached_property
    def key(self) -> tuple:
        """The switches that differ from the reference, as a cheap hashable key."""
        return tuple((name, v) for name, v in self.__dict__.items() if name in _DEFAULTS and v != _DEFAULTS[name])


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Variant)}


class Switches:
    """V variants as per-variant arrays on the internal last axis (None where no variant switches)."""

    def __init__(self, net: Network, variants: Sequence[Variant | tuple], lr: float | None = None):
        """``variants``: each a :class:`Variant`, or the (field, value) switches of compatible parts side
        by side (scales multiply, layers of ``act`` and ``from_output`` add up). ``lr``: the η with
        which a backward that updates the weights in place uses them (``updated``)."""
        L = net.L
        self.variants = tuple(variants)
        self.V = V = len(variants)
        # one pass over the switches each variant sets (most set one or two of them)
        on: dict[tuple, list[int]] = {}  # (field, value) -> the variants that set it
        for i, v in enumerate(variants):
            for name, value in (v.key if isinstance(v, Variant) else v):
                if name == "act":
                    for l, mode in value:
                        on.setdefault(("act", l, mode), []).append(i)
                elif name == "from_output":
                    for l in value:
                        on.setdefault(("from_output", l), []).append(i)
                else:
                    on.setdefault((name, value), []).append(i)

        def mask(*key: Any) -> np.ndarray | None:
            rows = on.get(key)
            if rows is None:
                return None
            m = np.zeros(V, dtype=bool)
            m[rows] = True
            return m

        def values(name: str, default: Any, dtype: Any = float) -> np.ndarray:
            arr = np.full(V, default, dtype=dtype)
            for key, rows in on.items():
                if key[0] == name and name in ("loss_scale", "E_scale"):  # two parts' scales multiply
                    np.multiply.at(arr, rows, key[1])
                elif key[0] == name:
                    arr[rows] = key[1]
            return arr
        self.loss_scale = values("loss_scale", 1.0)
        self.E_scale = values("E_scale", 1.0)
        which = [(net.loss, net.reduction)] * V
        for key, rows in on.items():
            if key[0] in ("loss", "reduction"):
                for i in rows:
                    lo, re = which[i]
                    which[i] = (key[1], re) if key[0] == "loss" else (lo, key[1])
        self.losses = [] if set(which) == {(net.loss, net.reduction)} else [
            (dataclasses.replace(net, loss=lo, reduction=re), np.array([w == (lo, re) for w in which]))
            for lo, re in sorted(set(which))]
        self.sample = values("sample", -2, int)
        self.act: list[list[tuple[str, np.ndarray]]] = [[]]
        self.from_output: list[Any] = [None]
        self.edge: list[list[tuple[int, np.ndarray]]] = [[]]
        self.path: list[Any] = [None]
        self.backprop_T: list[Any] = [None]
        self.elementwise: list[Any] = [None]
        self.elementwise_dW: list[Any] = [None]
        for l in range(1, L + 1):
            self.act.append([(key[2], mask(*key)) for key in sorted(k for k in on if k[0] == "act" and k[1] == l)])
            self.from_output.append(mask("from_output", l))
            self.edge.append([(key[1][1], mask(*key)) for key in sorted(k for k in on if k[0] == "edge" and k[1][0] == l)])
            paths = [(key[1][1], rows) for key, rows in on.items() if key[0] == "path" and key[1][0] == l]
            path = None
            if paths:
                path = np.ones((net.sizes[l], 1, V))
                for k, rows in paths:
                    path[:, 0, rows] = 0.0
                    path[k, 0, rows] = 1.0
            self.path.append(path)
            self.backprop_T.append(mask("backprop_T", l))
            self.elementwise.append(mask("elementwise", l))
            self.elementwise_dW.append(mask("elementwise_dW", l))
        self.elementwise.append(None)  # no layer above the output layer
        updated = mask("updated", True)
        self.updated = None if updated is None else updated.astype(float)
        # outside training, a backward that updates W in place before the layer below's δ uses η
        self.rest = None if updated is None or lr is None else \
            (lr, [None if m.all() else m.astype(float)[:, :, None] for m in net.W_train])
        self.lr_mode = values("lr", "", object)
        self.bias_sample = values("bias_sample", -1, int)
        self.tie_use = values("tie_use", -1, int)
        no_bias, fixed = mask("no_bias", True), mask("bias_fixed", True)
        self.bias_on = None if no_bias is None else (~no_bias).astype(float)
        still = np.zeros(V, dtype=bool) | (no_bias if no_bias is not None else False) | (fixed if fixed is not None else False)
        self.bias_moves = (~still).astype(float) if still.any() else None

    # ------------------------------------------------------------------ forward
    def bias(self, b: np.ndarray) -> np.ndarray:
        """The bias the forward pass adds: b, or 0 for the variants without biases."""
        return b if self.bias_on is None else b * self.bias_on

    # ------------------------------------------------------------------ seed
    def loss_grad(self, net: Network, y: np.ndarray, t: np.ndarray, loss_grad: Any) -> np.ndarray:
        r""":math:`\partial E/\partial y` per variant: its loss and reduction, scale, and samples."""
        if not self.losses:
            g = loss_grad(net, y, t)
        else:
            g = np.zeros_like(y)
            for other, on in self.losses:
                g = np.where(on, loss_grad(other, y, t), g)
        g = g * self.loss_scale
        S = y.shape[1]
        which = self.sample
        if S > 1 and (which > -2).any():
            keep = np.ones((S, self.V))
            for i in np.nonzero(which > -2)[0]:
                keep[:, i] = 0.0
                keep[which[i] % S, i] = 1.0
            g = g * keep
        return g

    def E(self, net: Network, y: np.ndarray, t: np.ndarray, loss: Any) -> np.ndarray:
        """E per variant: its loss and reduction, times its scale."""
        if not self.losses:
            E = loss(net, y, t)
        else:
            E = np.zeros(self.V)
            for other, on in self.losses:
                E = np.where(on, loss(other, y, t), E)
        return E * self.E_scale

    # ------------------------------------------------------------------ reverse
    def vjp(self, l: int, name: str, z: np.ndarray, a: np.ndarray, ga: np.ndarray, vjp: Any) -> np.ndarray:
        r""":math:`\delta^{(l)}`: the reference :math:`f'(z)^T g_a`, or f′ taken another way."""
        d = vjp(name, z, a, ga)
        for mode, on in self.act[l]:
            d = np.where(on, _wrong_vjp(mode, name, z, a, ga, d, vjp), d)
        return d

    def propagated(self, l: int, ga: np.ndarray, delta: np.ndarray, A_kind: str, k: int) -> np.ndarray:
        """What goes back through W(l): δ(l), or ∂E/∂a(l) (the output error, no f′), one path only."""
        g = delta
        if self.from_output[l] is not None:
            g = np.where(self.from_output[l], ga, g)
        if self.path[l] is not None and (A_kind == "E" or l < k):  # only where several paths meet
            g = g * self.path[l]
        return g

    def back_weights(self, l: int, W: np.ndarray, fwd: Any, delta: np.ndarray, train: Any,
                     outer: Any) -> np.ndarray:
        """W(l) as the reverse pass uses it: the updated weights for that variant (in a training step,
        or with :attr:`rest`'s η where backward itself updates W(l) before the layer below's δ)."""
        if self.updated is None or l == 1 or (train is None and self.rest is None):
            return W
        lr, Wm = train if train is not None else self.rest
        dW = outer(delta, self.edge_input(l, fwd))
        if Wm[l - 1] is not None:
            dW = dW * Wm[l - 1]
        return W - (self.updated * lr) * dW

    def backprop(self, l: int, ga_prev: np.ndarray, W: np.ndarray, g: np.ndarray, Wa: Any) -> np.ndarray:
        """:math:`W^{(l)T} g`, or :math:`W^{(l)} g` for the variants that forget the transpose, or the
        elementwise :math:`W^{(l)T} * g` (see :meth:`elementwise_back`)."""
        if self.backprop_T[l] is not None:
            ga_prev = np.where(self.backprop_T[l], Wa(W, g), ga_prev)
        if self.elementwise[l] is not None:
            ga_prev = np.where(self.elementwise[l], elementwise_back(W, g, ga_prev), ga_prev)
        return ga_prev

    # ------------------------------------------------------------------ gradients
    def weight_grad(self, l: int, delta: np.ndarray, fwd: Any, W: Any, outer: Any) -> np.ndarray:
        r""":math:`dW^{(l)} = \sum_s \delta^{(l)} a^{(l-1)T}` per variant: another edge input, the
        elementwise δ * a, or the factor an elementwise product in the layer above leaves."""
        a = self.edge_input(l, fwd)
        dW = outer(delta, a)
        on = self.elementwise_dW[l]
        if on is not None and delta.shape[0] == a.shape[0] == delta.shape[1]:  # δ * a has dW's shape
            dW = np.where(on, delta * a, dW)
        factor = self.below_elementwise(l, W, delta.shape[1])
        return dW if factor is None else np.where(factor[0], dW * factor[1], dW)

    def bias_grad(self, l: int, delta: np.ndarray, W: Any) -> np.ndarray:
        """:meth:`bias_sum`, times the row sums an elementwise product in the layer above leaves."""
        db = self.bias_sum(delta)
        factor = self.below_elementwise(l, W, delta.shape[1])
        return db if factor is None else np.where(factor[0], db * factor[1].sum(axis=1, keepdims=True), db)

    def below_elementwise(self, l: int, W: Any, S: int) -> tuple[np.ndarray, np.ndarray] | None:
        r"""With one sample, :math:`W^{(l+1)T} * \delta^{(l+1)}` broadcasts to the matrix
        :math:`\mathrm{diag}(\delta^{(l+1)}) W^{(l+1)T}`; column-vector code then takes
        :math:`dW^{(l)} = \delta^{(l)} * a^{(l-1)T}` and :math:`db^{(l)} = \sum` over its columns.
        :func:`elementwise_back` passes the diagonal on; this is the (mask, :math:`W^{(l+1)T}`)
        that multiplies dW(l) (its row sums db(l)), or None."""
        on = self.elementwise[l + 1] if W is not None and S == 1 else None
        if on is None or not W[l].shape[0] == W[l].shape[1] == W[l - 1].shape[1]:
            return None
        return on, W[l].transpose(1, 0, 2)  # (n_l, n_(l+1), V): dW(l)'s shape, as n_(l+1) = n_(l-1)

    def edge_input(self, l: int, fwd: Any) -> np.ndarray:
        """What multiplies δ(l) in dW(l): a(l-1), or another neuron's output, or z(l-1)."""
        a = fwd.a[l - 1]
        for k, on in self.edge[l]:
            a = np.where(on, fwd.z[l - 1] if k == 0 else np.roll(fwd.a[l - 1], k, axis=0), a)
        return a

    def bias_sum(self, delta: np.ndarray) -> np.ndarray:
        """Σ_s δ (n, S, V) -> (n, 1, V); one sample's δ, or 0 without biases."""
        total = delta.sum(axis=1, keepdims=True)
        S = delta.shape[1]
        which = self.bias_sample
        on = (which >= 0) & (which < S)
        if S > 1 and on.any():
            one = delta[:, np.clip(which, 0, S - 1), np.arange(self.V)][:, None, :]
            total = np.where(on, one, total)
        if self.bias_on is not None:
            total = total * self.bias_on
        return total

    def tie_total(self, parts: list[np.ndarray]) -> np.ndarray:
        """A tied parameter's gradient: the sum over its uses, or one use."""
        total = sum(parts[1:], parts[0])
        if len(parts) > 1:
            for u, part in enumerate(parts):
                total = np.where(self.tie_use == u, part, total)
        return total

    # ------------------------------------------------------------------ training
    def lr(self, lr: float, S: int) -> np.ndarray:
        """η per variant: −η going uphill, 1 without η, η / S divided by the batch size."""
        m = self.lr_mode
        return np.where(m == "sign", -lr, np.where(m == "one", 1.0, np.where(m == "per_sample", lr / S, lr)))

    def bias_step(self, step: np.ndarray) -> np.ndarray:
        return step if self.bias_moves is None else step * self.bias_moves


def elementwise_back(W: np.ndarray, g: np.ndarray, ga_prev: np.ndarray) -> np.ndarray:
    r"""What ``W.T * g`` gives where ``W.T @ g`` belongs, in the internal layout: W (n, m, V), g (n, S, V).

    With n = m = S the shapes match: :math:`(W^T * g)_{js} = W_{sj}\,g_{js}`. With one sample and a
    square W, NumPy broadcasts it to :math:`\mathrm{diag}(g) W^T`: its diagonal factor g goes on
    (the W^T factor is applied to the layer below's gradients, see :meth:`Switches.below_elementwise`).
    Any other shapes raise in NumPy (the shape-error reading names them): ``ga_prev`` unchanged."""
    n, m, _ = W.shape
    S = g.shape[1]
    if n == m == S:
        return W.transpose(1, 0, 2) * g
    if S == 1 and n == m:
        return g
    return ga_prev


def _wrong_vjp(mode: str, name: str, z: np.ndarray, a: np.ndarray, ga: np.ndarray, d: np.ndarray,
               vjp: Any) -> np.ndarray:
    """δ with f′ taken wrongly: left out, of z (σ′ as z(1 − z)), of a (σ′(a)), twice, f itself, or
    f′ alone in place of the incoming error (only)."""
    if mode == "none":
        return ga
    if mode == "only":
        return vjp(name, z, a, np.ones_like(ga))
    if mode == "as_f":
        return ga * a
    if mode == "twice":
        return vjp(name, z, a, d)
    if mode == "of_z":
        return ga * z * (1.0 - z) if name == "sigmoid" else ga * (1.0 - z * z)
    # of_a: the derivative of z evaluated at the output a
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-a))
        return ga * s * (1.0 - s)
    return ga * (1.0 - np.tanh(a) ** 2)


def applies(mode: str, activation: str) -> bool:
    """Whether f′ taken in ``mode`` differs from f′ for this activation."""
    if activation in ("linear", "softmax"):
        return mode == "none" and activation != "linear"
    if activation == "relu":
        return mode in ("none", "as_f", "only")
    return True
