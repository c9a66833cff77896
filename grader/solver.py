r"""The NumPy reference solver: forward pass, loss, back-propagation, training, any dA/dB.

Everything is float64, vectorised over neurons and samples, and batched over V variants of one
network (same shape, other values) that solve in one call.

Public arrays put the variant axis first: ``W[l]`` is (V, n_l, n_{l-1}), ``b[l]`` is (V, n_l),
``x`` is (V, n_0, S), ``t`` is (V, n_L, S) — columns are samples, as in the sheet.
Internally the variant axis is *last* (``W`` is (n_l, n_{l-1}, V), activations (n, S, V)), so
that each weight is one contiguous (V,) array: for small layers this runs several times faster
than batched (V, 2, 2) matmuls, and large layers with few variants go through BLAS instead.

The equations, for layer l = 1..L with activation f_l and loss E:

.. math::
    z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}, \qquad a^{(l)} = f_l(z^{(l)}), \qquad a^{(0)} = x

    \delta^{(L)} = \partial E/\partial z^{(L)} = f_L'(z^{(L)})^T \, \partial E/\partial y, \qquad
    \delta^{(l)} = f_l'(z^{(l)})^T \, W^{(l+1)T} \delta^{(l+1)}

    \partial E/\partial W^{(l)} = \delta^{(l)} a^{(l-1)T}, \qquad
    \partial E/\partial b^{(l)} = \textstyle\sum_s \delta^{(l)}_{:,s}

The passes take optional switches ``sw`` (:class:`grader.switches.Switches`): each of the V
variants then computes back-propagation its own way (a student's mistake, another convention),
in the same loop body as the reference; without ``sw`` they compute the equations above.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import activate, activation_vjp, loss, loss_grad
from .spec import Case, Exercise, Function, Network, Question, Ref
from .switches import Switches

__all__ = ["Values", "Forward", "Backward", "activate", "activation_vjp", "loss", "loss_grad", "forward",
           "reverse", "gradients", "train", "solve", "answer_key", "derivative", "function_outputs", "Switches"]

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
    def of(cls, v: Values) -> _State:
        last = lambda a: np.array(np.moveaxis(a, 0, -1), dtype=float, order="C")  # always a copy
        return cls([last(w) for w in v.W], [last(c)[:, None, :] for c in v.b], last(v.x), last(v.t))

    def copy(self) -> _State:
        return _State([w.copy() for w in self.W], [c.copy() for c in self.b], self.x.copy(), self.t.copy())

    def values(self) -> Values:
        return Values(tuple(_first(w) for w in self.W), tuple(_first(c[:, 0, :]) for c in self.b),
                      _first(self.x), _first(self.t))


def _first(a: np.ndarray) -> np.ndarray:
    """The public layout of an internal array: the variant axis first."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 0))


# ---------------------------------------------------------------------------- linear algebra
def _small(n: int, m: int, V: int) -> bool:
    """Broadcast kernels win for tiny matrices over many variants; BLAS for the rest."""
    return V >= 8 and n * m <= 256


def _Wa(W: np.ndarray, a: np.ndarray) -> np.ndarray:
    r""":math:`W a`: (n, m, V), (m, S, V) -> (n, S, V)."""
    if _small(W.shape[0], W.shape[1], W.shape[2]):
        return np.einsum("ijv,jsv->isv", W, a)
    return np.matmul(W.transpose(2, 0, 1), a.transpose(2, 0, 1)).transpose(1, 2, 0)


def _WTg(W: np.ndarray, g: np.ndarray) -> np.ndarray:
    r""":math:`W^T g`: (n, m, V), (n, S, V) -> (m, S, V)."""
    if _small(W.shape[0], W.shape[1], W.shape[2]):
        return np.einsum("ijv,isv->jsv", W, g)
    return np.matmul(W.transpose(2, 1, 0), g.transpose(2, 0, 1)).transpose(1, 2, 0)


def _outer(g: np.ndarray, a: np.ndarray) -> np.ndarray:
    r""":math:`\sum_s g_{:,s} a_{:,s}^T`: (n, S, V), (m, S, V) -> (n, m, V)."""
    if _small(g.shape[0], a.shape[0], g.shape[2]):
        return np.einsum("isv,jsv->ijv", g, a)
    return np.matmul(g.transpose(2, 0, 1), a.transpose(2, 1, 0)).transpose(1, 2, 0)


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
        z.append(_Wa(W[l - 1], a[-1]) + (b[l - 1] if sw is None else sw.bias(b[l - 1])))
        a.append(activate(net.activations[l - 1], z[-1]))
    return Forward(tuple(z), tuple(a))


@dataclass(frozen=True)
class Backward:
    r"""Cotangents of one scalar A per sample: ``ga[l]`` = ∂A/∂a^{(l)}, ``delta[l]`` = ∂A/∂z^{(l)}.

    Both (n_l, S, V); ``delta[0]`` is None. Layers above A's own are zero.
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
            sw: Switches | None = None, train: tuple[Any, list[Any]] | None = None) -> Backward:
    r"""Reverse pass seeded at A: ``E``, or one neuron ``a``, pre-activation ``z`` or input.

    :math:`\delta^{(l)} = f_l'(z^{(l)})^T g_a^{(l)}`, :math:`g_a^{(l-1)} = W^{(l)T}\delta^{(l)}`,
    seeded with :math:`g_a^{(L)} = \partial E/\partial y` for E, or a one-hot cotangent on A.
    With switches ``sw``, each variant takes its own f′, what goes back, and through which W
    (``train`` = (η per variant, weight masks) inside a training step).
    """
    k, ga, delta = seed(net, fwd, t, A, sw)
    for l in range(k, 0, -1):
        act = net.activations[l - 1]
        if sw is None:
            if delta[l] is None:
                delta[l] = activation_vjp(act, fwd.z[l], fwd.a[l], ga[l])
            ga[l - 1] = _WTg(W[l - 1], delta[l])
            continue
        if delta[l] is None:
            delta[l] = sw.vjp(l, act, fwd.z[l], fwd.a[l], ga[l], activation_vjp)
        g = sw.propagated(l, ga[l], delta[l], A.kind, k)
        Wl = sw.back_weights(l, W[l - 1], fwd, delta[l], train, _outer)
        ga[l - 1] = sw.backprop(l, _WTg(Wl, g), Wl, g, _Wa)
    return Backward(tuple(ga), tuple(delta))


def gradients(net: Network, fwd: Forward, back: Backward,
              sw: Switches | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    r""":math:`dW^{(l)} = \sum_s \delta^{(l)} a^{(l-1)T}` (n, m, V) and :math:`db^{(l)} = \sum_s \delta^{(l)}` (n, 1, V)."""
    if sw is None:
        dW = [_outer(back.delta[l], fwd.a[l - 1]) for l in range(1, net.L + 1)]
        db = [back.delta[l].sum(axis=1, keepdims=True) for l in range(1, net.L + 1)]
    else:
        dW = [_outer(back.delta[l], sw.edge_input(l, fwd)) for l in range(1, net.L + 1)]
        db = [sw.bias_sum(back.delta[l]) for l in range(1, net.L + 1)]
    return dW, db


# ---------------------------------------------------------------------------- training
_E = Ref("E", "E")
BLOCK = 2048  # variants processed together: one block's arrays stay in cache


def _backprop(net: Network, s: _State) -> tuple[list[np.ndarray], list[np.ndarray]]:
    r"""dW (n, m, V) and db (n, 1, V) of E for every variant, block by block of variants."""
    V = s.x.shape[2]
    dW = [np.empty_like(w) for w in s.W]
    db = [np.empty_like(c) for c in s.b]
    for lo in range(0, V, BLOCK):
        part = slice(lo, lo + BLOCK)
        W, b = [w[..., part] for w in s.W], [c[..., part] for c in s.b]
        fwd = forward(net, W, b, s.x[..., part])
        gW, gb = gradients(net, fwd, reverse(net, W, fwd, s.t[..., part], _E))
        for whole, g in zip(dW + db, gW + gb, strict=True):
            whole[..., part] = g
    return dW, db


def backprop(net: Network, values: Values) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    r"""One forward and one backward pass of every variant: :math:`\partial E/\partial W^{(l)}`
    (V, n_l, n_{l-1}) and :math:`\partial E/\partial b^{(l)}` (V, n_l), in blocks of variants."""
    s = _State.of(values)
    with np.errstate(all="ignore"):
        dW, db = _backprop(net, s)
    return tuple(_first(g) for g in dW), tuple(_first(g[:, 0, :]) for g in db)


def _step(net: Network, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, t: np.ndarray,
          lr: Any, masks: tuple[list[Any], list[Any]], sw: Switches | None = None) -> None:
    """One gradient-descent update in place; tied entries move by their summed gradient.
    With switches, ``lr`` is one η per variant."""
    Wm, bm = masks
    fwd = forward(net, W, b, x, sw)
    dW, db = gradients(net, fwd, reverse(net, W, fwd, t, _E, sw, None if sw is None else (lr, Wm)), sw)
    for group in net.ties:
        parts = [(dW if kind == "W" else db)[l - 1][idx] for kind, l, idx in group]
        total = sum(parts[1:], parts[0]) if sw is None else sw.tie_total(parts)
        for kind, l, idx in group:
            (dW if kind == "W" else db)[l - 1][idx] = total
    for l in range(net.L):
        W[l] -= lr * (dW[l] if Wm[l] is None else dW[l] * Wm[l])
        step = lr * (db[l] if bm[l] is None else db[l] * bm[l])
        b[l] -= step if sw is None else sw.bias_step(step)


def _masks(net: Network) -> tuple[list[Any], list[Any]]:
    """Trainable-entry masks shaped for the internal layout; None where every entry trains."""
    Wm = [None if m.all() else m.astype(float)[:, :, None] for m in net.W_train]
    bm = [None if m.all() else m.astype(float)[:, None, None] for m in net.b_train]
    return Wm, bm




def _train(net: Network, s: _State, lr: float, epochs: int, mode: str, sw: Switches | None = None) -> None:
    V = s.x.shape[2]
    if V > BLOCK and epochs > 1 and sw is None:  # switched variants are few: one block
        for lo in range(0, V, BLOCK):
            part = slice(lo, lo + BLOCK)
            block = _State([w[..., part].copy() for w in s.W], [c[..., part].copy() for c in s.b],
                           s.x[..., part].copy(), s.t[..., part].copy())
            _train_block(net, block, lr, epochs, mode)
            for whole, trained in zip(s.W + s.b, block.W + block.b, strict=True):
                whole[..., part] = trained
        return
    _train_block(net, s, lr, epochs, mode, sw)


def _train_block(net: Network, s: _State, lr: float, epochs: int, mode: str, sw: Switches | None = None) -> None:
    masks = _masks(net)
    S = s.x.shape[1]
    lr_v = lr if sw is None else sw.lr(lr, S)
    for _ in range(epochs):
        if mode == "online":  # one update per sample, in order: the one loop the design allows
            # each step is a batch of one (PyTorch DataLoader(batch_size=1), Keras batch_size=1):
            # the sample's own loss, whose mean over one sample is itself, so no 1/S here
            for k in range(S):
                _step(net, s.W, s.b, s.x[:, k:k + 1], s.t[:, k:k + 1], lr_v, masks, sw)
        else:
            _step(net, s.W, s.b, s.x, s.t, lr_v, masks, sw)


def train(net: Network, values: Values, lr: float, epochs: int, mode: str = "batch") -> Values:
    r"""Gradient descent for ``epochs`` epochs: :math:`\theta \leftarrow \theta - \eta\,\partial E/\partial\theta`.

    Batch mode takes one step per epoch on E over all samples; online mode one step per sample
    on that sample's own loss (a batch of one: ``mean`` and ``sum`` take the same online steps). Fixed entries never move; a tied
    parameter moves once, by its summed gradient.
    """
    s = _State.of(values)
    with np.errstate(all="ignore"):
        _train(net, s, lr, epochs, mode)
    return s.values()


# ---------------------------------------------------------------------------- questions
def _given(ex: Exercise, s: _State, given: tuple[tuple[str, Any], ...]) -> _State:
    """A copy of the state with the question's ``given`` values set (every variant)."""
    s = s.copy()
    for name, value in given:
        ref = ex.names[name]
        v = np.asarray(value, dtype=float)
        if ref.kind == "param":
            for kind, l, idx in ex.parameters[name].uses:
                target = s.W[l - 1] if kind == "W" else s.b[l - 1][:, 0]
                entry = v if v.ndim == 0 else v[idx]
                target[idx] = entry
        elif ref.kind == "W":
            s.W[ref.layer - 1][...] = v[..., None] if v.ndim else v
        elif ref.kind == "b":
            s.b[ref.layer - 1][...] = v[:, None, None] if v.ndim else v
        elif ref.kind == "a":
            data = s.x if ref.layer == 0 else s.t
            data[ref.index] = v[:, None] if v.ndim else v
        else:  # a whole input or target matrix (n, 1) or (n, S)
            data = s.x if ref.layer == 0 else s.t
            data[...] = v[:, :, None]
    return s


def _param_value(ex: Exercise, s: _State, name: str) -> np.ndarray:
    p = ex.parameters[name]
    if p.shape == ():
        kind, l, idx = p.uses[0]
        return (s.W[l - 1] if kind == "W" else s.b[l - 1][:, 0])[idx]
    kind, l, _ = p.uses[0]
    return s.W[l - 1] if kind == "W" else s.b[l - 1][:, 0]


def value_of(ex: Exercise, s: _State, fwd: Forward, B: Ref, sw: Switches | None = None) -> np.ndarray:
    """The value of a name: internal shape (*B's shape, [S,] V)."""
    if B.kind == "E":
        return loss(ex.net, fwd.a[-1], s.t) if sw is None else sw.E(ex.net, fwd.a[-1], s.t, loss)
    if B.kind == "a":
        return fwd.a[B.layer][B.index]
    if B.kind == "z":
        return fwd.z[B.layer][B.index]
    if B.kind == "A":
        return fwd.a[B.layer]
    if B.kind == "Z":
        return fwd.z[B.layer]
    if B.kind == "W":
        return s.W[B.layer - 1]
    if B.kind == "b":
        return s.b[B.layer - 1][:, 0]
    return _param_value(ex, s, B.name)


def derivative(ex: Exercise, s: _State, fwd: Forward, A: Ref, B: Ref, sw: Switches | None = None) -> np.ndarray:
    r"""The total derivative dA/dB: B's shape, then a sample axis when A or B is per sample, then V.

    With A = E, derivatives with respect to parameters sum over samples (E does); with A a
    neuron, pre-activation or input they are taken per sample:
    :math:`\partial A/\partial W^{(l)} = \delta^{(l)} a^{(l-1)T}`, :math:`\partial A/\partial b^{(l)} = \delta^{(l)}`.
    """
    per_sample = A.kind != "E"

    def dW(back: Backward, l: int) -> np.ndarray:
        d, a = back.delta[l], fwd.a[l - 1] if sw is None else sw.edge_input(l, fwd)
        return d[:, None] * a[None] if per_sample else _outer(d, a)  # (n, m, [S,] V)

    def db(back: Backward, l: int) -> np.ndarray:
        d = back.delta[l]
        return d if per_sample else d.sum(axis=1) if sw is None else sw.bias_sum(d)[:, 0]  # (n, [S,] V)

    total = (lambda parts: sum(parts[1:], parts[0])) if sw is None else sw.tie_total
    return by_name(ex, s, fwd, A, B, reverse(ex.net, s.W, fwd, s.t, A, sw), dW, db, total)


def by_name(ex: Exercise, s: _State, fwd: Forward, A: Ref, B: Ref, back: Backward, dW: Any, db: Any,
            total: Any) -> np.ndarray:
    """dA/dB from a reverse pass: a neuron's or layer's cotangent, a layer's ``dW(back, l)`` or
    ``db(back, l)``, a whole-matrix parameter, or a scalar parameter's ``total`` over its uses."""
    V, S = s.x.shape[2], s.x.shape[1]
    if B.kind == "E":  # E is downstream of every neuron: only dE/dE is not zero
        return np.ones((V,)) if A.kind == "E" else np.zeros((S, V))
    if B.kind in ("a", "z", "A", "Z"):
        g = back.ga[B.layer] if B.kind in ("a", "A") else back.delta[B.layer]
        if g is None:  # z of the input layer cannot be named; keep the type stable
            g = np.zeros_like(fwd.a[B.layer])
        return g[B.index] if B.kind in ("a", "z") else g
    if B.kind in ("W", "b"):
        return (dW if B.kind == "W" else db)(back, B.layer)
    p = ex.parameters[B.name]
    if p.shape != ():
        kind, l, _ = p.uses[0]
        return (dW if kind == "W" else db)(back, l)
    cache: dict[tuple[str, int], np.ndarray] = {}
    parts = []
    for kind, l, idx in p.uses:
        if (kind, l) not in cache:
            cache[(kind, l)] = (dW if kind == "W" else db)(back, l)
        parts.append(cache[(kind, l)][idx])
    return total(parts)


def per_sample(A: Ref | None, B: Ref) -> bool:
    """Whether the answer to ``A`` (None: the value of B) or ``dA/dB`` has a sample axis."""
    if A is None:
        return B.per_sample
    return A.kind != "E" or B.per_sample


def _answer(ex: Exercise, s: _State, q: Question, sw: Switches | None = None) -> np.ndarray:
    if q.sample is not None:
        k = q.sample
        s = _State(s.W, s.b, s.x[:, k:k + 1], s.t[:, k:k + 1])
    fwd = forward(ex.net, s.W, s.b, s.x, sw)
    A, B = q.quantity.a, q.quantity.b
    out = value_of(ex, s, fwd, B, sw) if A is None else derivative(ex, s, fwd, A, B, sw)
    if per_sample(A, B) and (q.sample is not None or not ex.has_samples):
        out = out[..., 0, :]  # one sample: no sample axis
    return np.array(np.moveaxis(out, -1, 0))  # a copy: training goes on in place


def solve(ex: Exercise, values: Values | None = None, sw: Switches | None = None,
          questions: tuple[Question, ...] | None = None) -> dict[str, np.ndarray]:
    """Every question's answer for V variants at once: question id -> (V, *shape) float64.

    Questions that share a ``given`` share one training run, evaluated at each ``after_epochs``.
    With switches ``sw`` (V variants of the computation) the values default to the exercise's
    own, repeated V times; ``questions`` limits the questions answered.
    """
    if values is None and sw is not None:
        values = Values.of(ex, sw.V)
    with np.errstate(all="ignore"):  # an overflow shows as inf/NaN in the answer, not as a warning
        return _solve(ex, values, sw, ex.questions if questions is None else questions)


def _solve(ex: Exercise, values: Values | None, sw: Switches | None, questions: tuple[Question, ...]) -> dict[str, np.ndarray]:
    base = _State.of(values if values is not None else Values.of(ex))
    groups: dict[str, list[Question]] = {}
    for q in questions:
        groups.setdefault(json.dumps(q.given), []).append(q)
    out: dict[str, np.ndarray] = {}
    for qs in groups.values():
        s = _given(ex, base, qs[0].given)
        done = 0
        for q in sorted(qs, key=lambda q: q.after_epochs):
            _train(ex.net, s, ex.learning_rate, q.after_epochs - done, ex.mode, sw)
            done = q.after_epochs
            out[q.id] = _answer(ex, s, q, sw)
    return {q.id: out[q.id] for q in questions}


def to_plain(value: np.ndarray) -> float | list[Any]:
    """One variant's answer as JSON data: a float or nested lists of floats."""
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr.tolist()


def answer_key(ex: Exercise) -> dict[str, Any]:
    """The exercise's own answers: question id -> float or nested list."""
    return {qid: to_plain(v[0]) for qid, v in solve(ex).items()}


# ---------------------------------------------------------------------------- student functions
def function_outputs(fn: Function, case: Case) -> tuple[np.ndarray, ...]:
    r"""What a correct ``fn`` returns on ``case``, in the sheet's column layout.

    ``a{l}``/``z{l}`` (n_l, S); ``dW{l}`` (n_l, n_{l-1}); ``db{l}`` (n_l, 1); ``delta{l}`` (n_l, S);
    ``W{l}``/``b{l}`` after ``epochs`` epochs of training when the function takes ``epochs``;
    ``E`` a 0-d array; ``a`` = f(z) for an elementwise activation.
    """
    given = dict(case.inputs)
    if fn.activation is not None:
        return tuple(activate(fn.activation, np.asarray(given["z"], float)) for _ in fn.returns)
    return tuple(np.array(arr[..., 0]) for arr in function_variants(fn, case))


def function_variants(fn: Function, case: Case, sw: Switches | None = None,
                      returns: tuple[str, ...] | None = None) -> tuple[np.ndarray, ...]:
    """What ``fn`` returns on ``case`` for each variant of ``sw`` (one without): each return with a
    trailing variant axis; ``returns`` names other conventional returns. Not for an activation."""
    given = dict(case.inputs)
    net = case.net
    L = net.L
    V = 1 if sw is None else sw.V
    # copies: training below works in place and the case's inputs must stay as they are
    rep = lambda arr: np.repeat(np.asarray(arr, float)[..., None], V, axis=-1)
    W = [rep(given.get(f"W{l}", np.zeros((net.sizes[l], net.sizes[l - 1])))) for l in range(1, L + 1)]
    b = [rep(np.reshape(given.get(f"b{l}", np.zeros((net.sizes[l], 1))), (-1, 1))) for l in range(1, L + 1)]
    x = rep(given.get("x", np.zeros((net.sizes[0], 1))))
    t = rep(given.get("t", np.zeros((net.sizes[-1], x.shape[1]))))
    s = _State(W, b, x, t)
    with np.errstate(all="ignore"):  # a variant's wrong update may diverge: it explains nothing
        if "epochs" in given:
            _train(net, s, float(given.get("lr", 0.5)), int(given["epochs"]), "batch", sw)
        E_of = (lambda y: loss(net, y, s.t)) if sw is None else (lambda y: sw.E(net, y, s.t, loss))
        if f"a{L}" in given and "x" not in given:  # a loss function: E from y and t alone
            E = E_of(rep(given[f"a{L}"]))
            return tuple(E for _ in (fn.returns if returns is None else returns))
        fwd = forward(net, s.W, s.b, s.x, sw)
        back = reverse(net, s.W, fwd, s.t, _E, sw)
        dW, db = gradients(net, fwd, back, sw)
        out = []
        for name in fn.returns if returns is None else returns:
            kind = name.rstrip("0123456789")
            l = int(name[len(kind):] or 0)
            if kind == "E":
                arr = E_of(fwd.a[L])
            else:
                arr = {"a": fwd.a, "z": fwd.z, "delta": back.delta}[kind][l] if kind in ("a", "z", "delta") \
                    else {"W": s.W, "b": s.b, "dW": dW, "db": db}[kind][l - 1]
            out.append(arr)
    return tuple(out)
