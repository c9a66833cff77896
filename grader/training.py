r"""Training and blocked back-propagation: gradient descent on the solver's passes.

Part of the solver stage (:mod:`grader.solver` re-exports :func:`train` and :func:`backprop`).
One step is :math:`\theta \leftarrow \theta - \eta\,\partial E/\partial\theta` with the gradients of
:func:`grader.passes.gradients`; many variants run in blocks of :data:`BLOCK` whose arrays stay
in cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .passes import Values, _empty_like, _first, _State, forward, gradients, reverse
from .spec.model import Network, Ref
from .switches import Switches

_E = Ref("E", "E")
# variants processed together: a block's arrays stay in this machine's 1 MB L2 across the passes
# and epochs, and each NumPy call's fixed cost is spread over 8,192 variants (2,048 was ~1.3x slower)
BLOCK = 8192


def _backprop(net: Network, s: _State) -> tuple[list[np.ndarray], list[np.ndarray]]:
    r"""dW (n, m, V) and db (n, 1, V) of E for every variant, block by block of variants."""
    V = s.x.shape[2]
    out = _empty_like(s.W + s.b)
    dW, db = out[:len(s.W)], out[len(s.W):]
    for lo in range(0, V, BLOCK):
        part = slice(lo, lo + BLOCK)
        W, b = [w[..., part] for w in s.W], [c[..., part] for c in s.b]
        fwd = forward(net, W, b, s.x[..., part])
        back = reverse(net, W, fwd, s.t[..., part], _E, inputs=False)
        gradients(net, fwd, back, out=([g[..., part] for g in dW], [g[..., part] for g in db]))  # written in place
    return dW, db


def backprop(net: Network, values: Values) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    r"""One forward and one backward pass of every variant: :math:`\partial E/\partial W^{(l)}`
    (V, n_l, n_{l-1}) and :math:`\partial E/\partial b^{(l)}` (V, n_l), in blocks of variants."""
    s = _State.of(values, copy=False)  # read only
    with np.errstate(all="ignore"):
        dW, db = _backprop(net, s)
    grads = list(dW) + [g[:, 0, :] for g in db]
    public = _empty_like(grads, [(g.shape[-1], *g.shape[:-1]) for g in grads])  # variant axis first
    for p, g in zip(public, grads, strict=True):
        np.copyto(p, g.transpose(g.ndim - 1, *range(g.ndim - 1)))
    return tuple(public[:len(dW)]), tuple(public[len(dW):])


def _step(net: Network, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, t: np.ndarray,
          lr: Any, masks: tuple[list[Any], list[Any]], sw: Switches | None = None) -> None:
    """One gradient-descent update: the lists ``W`` and ``b`` get the new arrays; tied entries
    move by their summed gradient. With switches, ``lr`` is one η per variant."""
    Wm, bm = masks
    fwd = forward(net, W, b, x, sw)
    dW, db = gradients(net, fwd, reverse(net, W, fwd, t, _E, sw, None if sw is None else (lr, Wm), inputs=False), sw,
                       W=W)
    for group in net.ties:
        parts = [(dW if kind == "W" else db)[l - 1][idx] for kind, l, idx in group]
        total = sum(parts[1:], parts[0]) if sw is None else sw.tie_total(parts)
        for kind, l, idx in group:
            (dW if kind == "W" else db)[l - 1][idx] = total
    # θ − η (dθ ⊙ mask) is written into dθ (a new array), which becomes θ: the arrays W and b
    # held on entry are never written, so no caller's values need copying first
    for l in range(net.L):
        gW, gb = dW[l], db[l]
        if Wm[l] is not None:
            gW *= Wm[l]
        if bm[l] is not None:
            gb *= bm[l]
        gW *= lr
        gb *= lr
        W[l] = np.subtract(W[l], gW, out=gW)
        b[l] = np.subtract(b[l], gb if sw is None else sw.bias_step(gb), out=gb)


def _masks(net: Network) -> tuple[list[Any], list[Any]]:
    """Trainable-entry masks shaped for the internal layout; None where every entry trains."""
    Wm = [None if m.all() else m.astype(float)[:, :, None] for m in net.W_train]
    bm = [None if m.all() else m.astype(float)[:, None, None] for m in net.b_train]
    return Wm, bm


def _train(net: Network, s: _State, lr: float, epochs: int, mode: str, sw: Switches | None = None) -> None:
    """Train ``s`` for ``epochs`` epochs: ``s.W`` and ``s.b`` get new arrays (the old ones are read only)."""
    V = s.x.shape[2]
    if V > BLOCK and epochs > 1 and sw is None:  # switched variants are few: one block
        trained = _empty_like(s.W + s.b)
        for lo in range(0, V, BLOCK):
            part = slice(lo, lo + BLOCK)  # the block's data compact, so that it stays in cache
            block = _State([w[..., part] for w in s.W], [c[..., part] for c in s.b],
                           s.x[..., part].copy(), s.t[..., part].copy())
            _train_block(net, block, lr, epochs, mode)
            for whole, done in zip(trained, block.W + block.b, strict=True):
                whole[..., part] = done
        s.W[:], s.b[:] = trained[:net.L], trained[net.L:]
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
    s = _State.of(values, copy=epochs == 0)  # training never writes into the arrays it starts from
    with np.errstate(all="ignore"):
        _train(net, s, lr, epochs, mode)
    return Values(tuple(_first(w) for w in s.W), tuple(_first(c[:, 0, :]) for c in s.b),
                  np.asarray(values.x, float), np.asarray(values.t, float))
