r"""The solver's passes: the internal layout, its linear algebra, forward, reverse and gradients.

Part of the solver stage (:mod:`grader.solver` re-exports its public names). Public arrays put
the variant axis first: ``W[l]`` is (V, n_l, n_{l-1}), ``b[l]`` is (V, n_l), ``x`` is (V, n_0, S),
``t`` is (V, n_L, S). Internally the variant axis is *last* (``W`` is (n_l, n_{l-1}, V),
activations (n, S, V)), so that each weight is one contiguous (V,) array.

.. math::
    z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}, \qquad a^{(l)} = f_l(z^{(l)}), \qquad a^{(0)} = x

    \delta^{(l)} = f_l'(z^{(l)})^T g_a^{(l)}, \qquad g_a^{(l-1)} = W^{(l)T} \delta^{(l)}, \qquad
    dW^{(l)} = \textstyle\sum_s \delta^{(l)} a^{(l-1)T}, \qquad db^{(l)} = \textstyle\sum_s \delta^{(l)}

With switches ``sw`` (:class:`grader.switches.Switches`) each variant computes its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import activate, activation_vjp, loss_grad
from .spec.model import Exercise, Network, Ref
from .switches import Switches

# ---------------------------------------------------------------------------- state


@dataclass(frozen=True)
class Values:
    """V variants of the values of one network (public layout: variant axis first)."""

    W: tuple[np.ndarray, ...]  # (V, n_l, n_{l-1})
    b: tuple[np.ndarray, ...]  # (V, n_l)
    x: np.ndarray  # (V, n_0, S)
    t: np.ndarray  # (V, n_L, S)

    @property
    def V(self) -> int:
        return int(self.x.shape[0])

    @classmethod
    def of(cls, ex: Exercise, V: int = 1) -> Values:
        """The exercise's own values, repeated V times."""
        rep = lambda a: np.repeat(np.asarray(a, float)[None], V, axis=0)
        return cls(tuple(rep(w) for w in ex.W), tuple(rep(v) for v in ex.b), rep(ex.x), rep(ex.t))


@dataclass
class _State:
    """Internal layout (variant axis last): W (n, m, V), b (n, 1, V), x (n0, S, V), t (nL, S, V)."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    x: np.ndarray
    t: np.ndarray

    @classmethod
    def of(cls, v: Values, copy: bool = True) -> _State:
        """The internal layout of ``v``: a copy, or without ``copy`` views of ``v``'s own arrays where
        the layout allows (one variant), for whoever never writes into them (training does not)."""
        if copy:
            last = lambda a: np.array(_last(np.asarray(a)), dtype=float, order="C")  # noqa: E731
        else:
            last = lambda a: np.ascontiguousarray(_last(np.asarray(a)), dtype=float)  # noqa: E731
        return cls([last(w) for w in v.W], [last(c)[:, None, :] for c in v.b], last(v.x), last(v.t))

    def copy(self) -> _State:
        return _State([w.copy() for w in self.W], [c.copy() for c in self.b], self.x.copy(), self.t.copy())


def _first(a: np.ndarray) -> np.ndarray:
    """The public layout of an internal array: the variant axis first."""
    return np.ascontiguousarray(a.transpose(a.ndim - 1, *range(a.ndim - 1)))


def _empty_like(arrays: list[np.ndarray], shapes: list[tuple[int, ...]] | None = None) -> list[np.ndarray]:
    """New float64 arrays shaped like ``arrays`` (or as ``shapes``), carved from one buffer.

    Why one: glibc gives each large array a fresh mapping, and filling it takes a page fault per
    4 KB, which costs more than computing a 2-2-2 gradient; one buffer of several MB is one
    mapping, which NumPy asks the kernel to back with huge pages."""
    shapes = [a.shape for a in arrays] if shapes is None else shapes
    sizes = [int(np.prod(shape)) for shape in shapes]
    buf = np.empty(sum(sizes))
    out, k = [], 0
    for shape, n in zip(shapes, sizes, strict=True):
        out.append(buf[k:k + n].reshape(shape))
        k += n
    return out


def _last(a: np.ndarray) -> np.ndarray:
    """A view of a public array with the variant axis moved last (``np.moveaxis(a, 0, -1)``)."""
    return a.transpose(*range(1, a.ndim), 0)


# ---------------------------------------------------------------------------- linear algebra
# Three kernels, each one of three ways: einsum over the contiguous variant axis for tiny
# matrices and many variants; for one variant, a plain 2-D product through BLAS (no batch axis, no
# copies); else BLAS batched over the variants. ``out`` (the result's shape) receives the result.
def _small(n: int, m: int, V: int) -> bool:
    """einsum along the variant axis wins for tiny matrices over many variants; BLAS for the rest."""
    return V >= 8 and n * m <= 256


def _Wa(W: np.ndarray, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r""":math:`W a`: (n, m, V), (m, S, V) -> (n, S, V)."""
    if _small(W.shape[0], W.shape[1], W.shape[2]):
        return np.einsum("ijv,jsv->isv", W, a, out=out)
    if W.shape[2] == 1:
        return _into(out, (W[..., 0] @ a[..., 0])[..., None])
    return _into(out, np.matmul(W.transpose(2, 0, 1), a.transpose(2, 0, 1)).transpose(1, 2, 0))


def _WTg(W: np.ndarray, g: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r""":math:`W^T g`: (n, m, V), (n, S, V) -> (m, S, V)."""
    if _small(W.shape[0], W.shape[1], W.shape[2]):
        return np.einsum("ijv,isv->jsv", W, g, out=out)
    if W.shape[2] == 1:
        return _into(out, (W[..., 0].T @ g[..., 0])[..., None])
    return _into(out, np.matmul(W.transpose(2, 1, 0), g.transpose(2, 0, 1)).transpose(1, 2, 0))


def _outer(g: np.ndarray, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r""":math:`\sum_s g_{:,s} a_{:,s}^T`: (n, S, V), (m, S, V) -> (n, m, V)."""
    if _small(g.shape[0], a.shape[0], g.shape[2]):
        return np.einsum("isv,jsv->ijv", g, a, out=out)
    if g.shape[2] == 1:
        return _into(out, (g[..., 0] @ a[..., 0].T)[..., None])
    return _into(out, np.matmul(g.transpose(2, 0, 1), a.transpose(2, 1, 0)).transpose(1, 2, 0))


def _into(out: np.ndarray | None, result: np.ndarray) -> np.ndarray:
    if out is None:
        return result
    out[...] = result
    return out


# ---------------------------------------------------------------------------- forward / backward
@dataclass(frozen=True)
class Forward:
    """``z[l]`` and ``a[l]`` for l = 0..L (``z[0]`` is None; ``a[0]`` is x): each (n_l, S, V)."""

    z: tuple[np.ndarray | None, ...]
    a: tuple[np.ndarray, ...]


def forward(net: Network, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray,
            sw: Switches | None = None) -> Forward:
    r""":math:`z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}`, :math:`a^{(l)} = f_l(z^{(l)})` (``sw``: per-variant switches)."""
    z: list[np.ndarray | None] = [None]
    a = [x]
    for l in range(1, net.L + 1):
        zl = _Wa(W[l - 1], a[-1])
        zl += b[l - 1] if sw is None else sw.bias(b[l - 1])  # in place: W a is a new array
        z.append(zl)
        a.append(activate(net.activations[l - 1], zl))
    return Forward(tuple(z), tuple(a))


@dataclass(frozen=True)
class Backward:
    r"""Cotangents of one scalar A per sample: ``ga[l]`` = ∂A/∂a^{(l)}, ``delta[l]`` = ∂A/∂z^{(l)}.

    Both (n_l, S, V); ``delta[0]`` is None, and ``ga[0]`` too when the pass stops before the
    inputs (training needs no ∂A/∂x). Layers above A's own are zero.
    """

    ga: tuple[np.ndarray, ...]
    delta: tuple[np.ndarray | None, ...]


def seed(net: Network, fwd: Forward, t: np.ndarray, A: Ref, sw: Switches | None = None) -> tuple[int, list[Any], list[Any]]:
    r"""Where the reverse pass for A starts: its layer k and the cotangents ``ga``/``delta``
    filled above and at k — :math:`\partial E/\partial y` for E, a one-hot on A otherwise, zeros
    above A (nothing there depends on it)."""
    L = net.L
    ga: list[Any] = [None] * (L + 1)
    delta: list[Any] = [None] * (L + 1)
    if A.kind == "E":
        k = L
        ga[L] = loss_grad(net, fwd.a[L], t) if sw is None else sw.loss_grad(net, fwd.a[L], t, loss_grad)
    else:
        k = A.layer
        one = np.zeros_like(fwd.a[k])
        one[A.index] = 1.0
        if A.kind == "a":
            ga[k] = one
        else:  # A = z: the layer's outputs lie downstream of it
            ga[k], delta[k] = np.zeros_like(one), one
    for l in range(L, k, -1):
        ga[l] = np.zeros_like(fwd.a[l])
        delta[l] = np.zeros_like(fwd.a[l])
    return k, ga, delta


def reverse(net: Network, W: list[np.ndarray], fwd: Forward, t: np.ndarray, A: Ref,
            sw: Switches | None = None, train: tuple[Any, list[Any]] | None = None,
            inputs: bool = True) -> Backward:
    r"""Reverse pass seeded at A: ``E``, or one neuron ``a``, pre-activation ``z`` or input.

    :math:`\delta^{(l)} = f_l'(z^{(l)})^T g_a^{(l)}`, :math:`g_a^{(l-1)} = W^{(l)T}\delta^{(l)}`,
    seeded with :math:`g_a^{(L)} = \partial E/\partial y` for E, or a one-hot cotangent on A.
    With switches ``sw``, each variant takes its own f′, what goes back, and through which W
    (``train`` = (η per variant, weight masks) inside a training step). Without ``inputs`` the
    pass ends at :math:`\delta^{(1)}`: :math:`g_a^{(0)} = \partial A/\partial x` is left None.
    """
    k, ga, delta = seed(net, fwd, t, A, sw)
    for l in range(k, 0, -1):
        act = net.activations[l - 1]
        if sw is None:
            if delta[l] is None:
                delta[l] = activation_vjp(act, fwd.z[l], fwd.a[l], ga[l])
            if l > 1 or inputs:
                ga[l - 1] = _WTg(W[l - 1], delta[l])
            continue
        if delta[l] is None:
            delta[l] = sw.vjp(l, act, fwd.z[l], fwd.a[l], ga[l], activation_vjp)
        if l == 1 and not inputs:
            break
        g = sw.propagated(l, ga[l], delta[l], A.kind, k)
        Wl = sw.back_weights(l, W[l - 1], fwd, delta[l], train, _outer)
        ga[l - 1] = sw.backprop(l, _WTg(Wl, g), Wl, g, _Wa)
    return Backward(tuple(ga), tuple(delta))


def gradients(net: Network, fwd: Forward, back: Backward, sw: Switches | None = None,
              out: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
              W: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    r""":math:`dW^{(l)} = \sum_s \delta^{(l)} a^{(l-1)T}` (n, m, V) and :math:`db^{(l)} = \sum_s \delta^{(l)}` (n, 1, V).

    ``out`` = (dW, db): lists of arrays of those shapes that receive the gradients. With switches,
    the weights ``W`` too: an elementwise product in the layer above shows in these gradients.
    """
    dW, db = out if out is not None else ([None] * net.L, [None] * net.L)
    for l in range(1, net.L + 1):
        d = back.delta[l]
        if sw is None:
            dW[l - 1] = _outer(d, fwd.a[l - 1], out=dW[l - 1])
            db[l - 1] = np.add.reduce(d, axis=1, keepdims=True, out=db[l - 1])
        else:
            dW[l - 1] = _into(dW[l - 1], sw.weight_grad(l, d, fwd, W, _outer))
            db[l - 1] = _into(db[l - 1], sw.bias_grad(l, d, W))
    return dW, db
