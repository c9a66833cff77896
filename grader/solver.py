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

The stage is three modules, data flowing one way: :mod:`grader.passes` (the internal layout, its
linear algebra, forward, reverse, gradients), :mod:`grader.training` (blocked back-propagation,
gradient descent) and this one (questions, any dA/dB, what a student's function returns), which
re-exports the public names of the other two.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .activations import activate, activation_vjp, loss, loss_grad
from .passes import Backward, Forward, Values, _outer, _State, forward, gradients, reverse, seed
from .spec.model import Case, Exercise, Function, Question, Ref
from .switches import Switches
from .training import _E, BLOCK, _train, backprop, train

# the solver stage is three modules (passes, training, this one); its names stay importable from here
__all__ = ["Values", "Forward", "Backward", "Switches", "activate", "activation_vjp", "loss", "loss_grad", "forward",
           "seed", "reverse", "gradients", "train", "backprop", "BLOCK", "solve", "answer_key", "derivative",
           "function_outputs", "function_variants"]


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
        if sw is not None and not per_sample:
            return sw.weight_grad(l, d, fwd, s.W, _outer)
        return d[:, None] * a[None] if per_sample else _outer(d, a)  # (n, m, [S,] V)

    def db(back: Backward, l: int) -> np.ndarray:
        d = back.delta[l]
        return d if per_sample else d.sum(axis=1) if sw is None else sw.bias_grad(l, d, s.W)[:, 0]  # (n, [S,] V)

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
    base = _State.of(values if values is not None else Values.of(ex), copy=False)  # _given copies
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
                      returns: tuple[str, ...] | None = None,
                      stacked: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
    """What ``fn`` returns on ``case`` for each variant of ``sw`` (one without): each return with a
    trailing variant axis; ``returns`` names other conventional returns. Not for an activation.

    ``stacked``: V variants of the case's array inputs instead, each with a trailing variant axis
    (name -> (*shape, V), as ``case.inputs`` names them; the class's students' own ``exercise``
    cases, :mod:`grader.variant_keys`); the other inputs are the case's, for every variant."""
    given = dict(case.inputs)
    net = case.net
    L = net.L
    V = 1 if sw is None else sw.V
    if stacked:
        V = next(iter(stacked.values())).shape[-1]
        if sw is not None and sw.V != V:
            raise ValueError(f"{V} stacked variants against {sw.V} switched ones")

    def rep(arr: Any, name: str | None = None) -> np.ndarray:
        # copies: training below works in place and the case's inputs must stay as they are
        if stacked and name in stacked:
            return np.array(stacked[name], float)
        return np.repeat(np.asarray(arr, float)[..., None], V, axis=-1)

    W = [rep(given.get(f"W{l}", np.zeros((net.sizes[l], net.sizes[l - 1]))), f"W{l}") for l in range(1, L + 1)]
    b = [rep(np.reshape(given.get(f"b{l}", np.zeros((net.sizes[l], 1))), (-1, 1)), f"b{l}") for l in range(1, L + 1)]
    x = rep(given.get("x", np.zeros((net.sizes[0], 1))), "x")
    t = rep(given.get("t", np.zeros((net.sizes[-1], x.shape[1]))), "t")
    s = _State(W, b, x, t)
    with np.errstate(all="ignore"):  # a variant's wrong update may diverge: it explains nothing
        if "epochs" in given:
            _train(net, s, float(given.get("lr", 0.5)), int(given["epochs"]), "batch", sw)
        E_of = (lambda y: loss(net, y, s.t)) if sw is None else (lambda y: sw.E(net, y, s.t, loss))
        if f"a{L}" in given and "x" not in given:  # a loss function: E from y and t alone
            E = E_of(rep(given[f"a{L}"], f"a{L}"))
            return tuple(E for _ in (fn.returns if returns is None else returns))
        fwd = forward(net, s.W, s.b, s.x, sw)
        back = reverse(net, s.W, fwd, s.t, _E, sw)
        dW, db = gradients(net, fwd, back, sw, W=s.W)
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

