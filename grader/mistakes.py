r"""Mistake diagnosis: which back-propagation step a wrong answer got wrong.

Each known mistake is a small *variant of the reference computation* (not a table of numbers):
the solver's forward pass, and a reverse pass, gradients and training step that follow
:mod:`grader.solver` line by line but take switches for the mistakes. All variants of one
question solve together in one batched call (the variant axis is the solver's internal last
axis, one variant per mistake and place), so a question trained for 1000 epochs costs one
batched training run. Variant 0 is the reference itself.

A variant can explain a wrong answer only when its own answer differs from the correct one
beyond the question's tolerance and the answer matches it within that tolerance (every entry
of a matrix). When several match, the first in :data:`PRIORITY` wins:

=============================  ==============================================================
``transposed``                 the answer is the transpose of the correct matrix (typed
                               answers, returned arrays); also, last in the order, a
                               back-propagation through :math:`W^{(l)}` instead of
                               :math:`W^{(l)T}` (square layers only)
``update_wrong_sign``          :math:`\theta \leftarrow \theta + \eta\,g` (training only; this
                               is also what a flipped ``y - t`` gives in training)
``update_no_learning_rate``    :math:`\theta \leftarrow \theta - g`
``updated_weights_backprop``   :math:`\delta^{(l-1)}` computed with the already updated
                               :math:`W^{(l)}` (training only)
``no_activation_derivative``   :math:`f'` replaced by 1 in one layer (each layer, output
                               first) or in every layer
``sigmoid_derivative_of_z``    :math:`\sigma'` computed as :math:`z(1-z)` instead of
                               :math:`a(1-a)` (for tanh: :math:`1-z^2`)
``single_path_delta``          :math:`\partial E/\partial a^{(l-1)}_j = w_{kj}\delta^{(l)}_k`
                               for one k only (each k checked) instead of the sum over k
``wrong_edge_input``           :math:`\partial z_i/\partial w_{ij}` taken as another neuron's
                               output :math:`a_{j'}` of the same source layer (each shift)
``z_instead_of_a``             :math:`\partial z_i/\partial w_{ij}` taken as the source's
                               pre-activation :math:`z_j` instead of its output :math:`a_j`
``bias_not_summed``            a bias gradient that is one sample's :math:`\delta` (not the
                               sum over samples), or one use of a tied bias (not the sum
                               over its uses)
``sign_flipped``               :math:`\partial E/\partial y` negated, :math:`t - y`
``half_dropped``               ``half_sse`` only: E and :math:`\partial E/\partial y` twice as
                               large, :math:`E = \sum (y-t)^2`, :math:`2(y - t)`
``half_doubled``               ``half_sse`` only: half as large, :math:`\tfrac12 (y - t)`
=============================  ==============================================================

Why this order: a transposed answer is exactly the right numbers in the wrong layout, the most
specific finding. In training questions a wrong update explains every parameter at once, and
it is indistinguishable from some gradient mistakes there (a flipped sign of ``y - t`` trains
exactly like ``+η``; with η = ½ a dropped ½ trains exactly like a missing η), so the update
step is named first. Then the steps of the chain rule in the order a student meets them going
backwards (activation derivative, the sum over paths, the edge's input, the bias sum), each
specific to a layer, a neuron or an edge; then the mistakes that scale the whole gradient by
−1, 2 or ½, which any other wrong number in such a ratio also produces (on the sheet x2 = 2 x1,
so x2 for x1 in ∂z/∂w is exactly "twice as large"). A back-propagation through an
untransposed square matrix comes last: a shape accident that other mistakes explain better.

A mistake is found only where it shows: W(1) after one small step, say, is often within 1% of
the right value whatever its gradient was, and then the answer is right, not a mistake.
Variants that diverge (an update going uphill for 1000 epochs) give non-finite values and are
left out.

When another mistake with a different id gives the same value, the message names it too
("or, giving the same value: …"): the student sees both candidate steps.

Messages name the step (with the exercise's own layer and parameter names) and never contain
a number of the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import compare, solver, spec
from .spec import Case, Exercise, Function, Network, Question, Ref

__all__ = ["Mistake", "PRIORITY", "diagnose", "diagnose_function"]

PRIORITY = (
    "transposed",
    "update_wrong_sign",
    "update_no_learning_rate",
    "updated_weights_backprop",
    "no_activation_derivative",
    "sigmoid_derivative_of_z",
    "single_path_delta",
    "wrong_edge_input",
    "z_instead_of_a",
    "bias_not_summed",
    "sign_flipped",
    "half_dropped",
    "half_doubled",
    # "transposed" again, for W(l) δ instead of W(l)ᵀ δ in the reverse pass (see the docstring)
)

# Caps that keep a large layer (784-64-10) from multiplying the variants: the first few of each
# kind are what a student typing numbers by hand works with.
_SAMPLE_CAP = 6  # "one sample's δ": the first samples and the last
_USE_CAP = 8  # "one use of a tied bias": the first uses
_PATH_CAP = 8  # "one path only": the first neurons of the layer above
_SHIFT_CAP = 4  # "another neuron's output": every other neuron up to this size, else the neighbours


@dataclass(frozen=True)
class Mistake:
    """A diagnosed mistake: a stable ``id`` and the ``step`` to show the student (no numbers)."""

    id: str
    step: str


# ---------------------------------------------------------------------------- variants
@dataclass(frozen=True)
class _Variant:
    """One mistake at one place; the defaults are the reference computation."""

    mistake: str = ""
    act: str = ""  # "none" (f' left out) or "of_z" (σ' evaluated at z) ...
    layers: frozenset[int] = frozenset()  # ... in these layers
    loss_scale: float = 1.0  # ∂E/∂y times this
    E_scale: float = 1.0  # E times this
    edge: tuple[int, int] | None = None  # (layer l, k): dW(l) uses roll(a(l-1), k); k = 0: z(l-1)
    path: tuple[int, int] | None = None  # (layer l, k): ∂E/∂a(l-1) through neuron k of layer l only
    backprop_T: int = 0  # layer l whose W(l) back-propagates untransposed
    updated: bool = False  # back-propagate through the updated W (training)
    lr: str = ""  # "sign": +η; "one": η = 1
    bias_sample: int = -1  # db = δ of this sample only
    tie_use: int = -1  # a tied parameter's gradient = this use's only
    answer_T: bool = False  # the final answer transposed


def _variants(net: Network, S: int, max_uses: int, training: bool) -> list[_Variant]:
    """Every variant that can apply to ``net``, in the order of :data:`PRIORITY`; [0] is the reference."""
    L = net.L
    out = [_Variant(), _Variant("transposed", answer_T=True)]
    if training:
        out += [_Variant("update_wrong_sign", lr="sign"), _Variant("update_no_learning_rate", lr="one")]
        if L >= 2:
            out.append(_Variant("updated_weights_backprop", updated=True))
    acts = net.activations
    for mode, mistake, ok in (("none", "no_activation_derivative", lambda a: a != "linear"),
                              ("of_z", "sigmoid_derivative_of_z", lambda a: a in ("sigmoid", "tanh"))):
        layers = [l for l in range(L, 0, -1) if ok(acts[l - 1])]
        out += [_Variant(mistake, act=mode, layers=frozenset({l})) for l in layers]
        if len(layers) >= 2:
            out.append(_Variant(mistake, act=mode, layers=frozenset(layers)))
    for l in range(L, 0, -1):
        if net.sizes[l] >= 2:
            out += [_Variant("single_path_delta", path=(l, k)) for k in range(min(net.sizes[l], _PATH_CAP))]
    for l in range(L, 0, -1):
        m = net.sizes[l - 1]
        shifts = range(1, m) if m <= _SHIFT_CAP else (1, m - 1)  # roll by m - 1 = the next neuron
        out += [_Variant("wrong_edge_input", edge=(l, k)) for k in shifts]
    out += [_Variant("z_instead_of_a", edge=(l, 0)) for l in range(L, 1, -1)]
    if S > 1:
        samples = list(range(S)) if S <= _SAMPLE_CAP else [*range(_SAMPLE_CAP - 1), S - 1]
        out += [_Variant("bias_not_summed", bias_sample=s) for s in samples]
    out += [_Variant("bias_not_summed", tie_use=u) for u in range(min(max_uses, _USE_CAP))]
    out.append(_Variant("sign_flipped", loss_scale=-1.0))
    if net.loss == "half_sse":
        out += [_Variant("half_dropped", loss_scale=2.0, E_scale=2.0),
                _Variant("half_doubled", loss_scale=0.5, E_scale=0.5)]
    out += [_Variant("transposed", backprop_T=l) for l in range(L, 0, -1) if net.sizes[l] == net.sizes[l - 1] >= 2]
    return out


class _Switches:
    """The variants as per-variant arrays on the solver's internal last axis (None: no variant uses it)."""

    def __init__(self, net: Network, variants: Sequence[_Variant]):
        L = net.L
        self.V = V = len(variants)
        col = lambda f: np.array([f(v) for v in variants])
        some = lambda arr: arr if arr.any() else None
        self.loss_scale = col(lambda v: v.loss_scale).astype(float)
        self.E_scale = col(lambda v: v.E_scale).astype(float)
        self.none: list[Any] = [None] + [some(col(lambda v, l=l: v.act == "none" and l in v.layers)) for l in range(1, L + 1)]
        self.of_z: list[Any] = [None] + [some(col(lambda v, l=l: v.act == "of_z" and l in v.layers)) for l in range(1, L + 1)]
        self.edge: list[list[tuple[int, np.ndarray]]] = [[]]
        self.path: list[Any] = [None]
        self.backprop_T: list[Any] = [None]
        for l in range(1, L + 1):
            shifts = sorted({v.edge[1] for v in variants if v.edge and v.edge[0] == l})
            self.edge.append([(k, col(lambda v, l=l, k=k: v.edge == (l, k))) for k in shifts])
            mask = None
            if any(v.path and v.path[0] == l for v in variants):
                mask = np.ones((net.sizes[l], 1, V))
                for i, v in enumerate(variants):
                    if v.path and v.path[0] == l:
                        mask[:, 0, i] = 0.0
                        mask[v.path[1], 0, i] = 1.0
            self.path.append(mask)
            self.backprop_T.append(some(col(lambda v, l=l: v.backprop_T == l)))
        self.updated = some(col(lambda v: v.updated).astype(float))
        self.sign = col(lambda v: v.lr == "sign")
        self.one = col(lambda v: v.lr == "one")
        self.bias_sample = col(lambda v: v.bias_sample)
        self.tie_use = col(lambda v: v.tie_use)

    def lr(self, lr: float) -> np.ndarray:
        return np.where(self.sign, -lr, np.where(self.one, 1.0, lr))


# ---------------------------------------------------------------------------- the computation
_E = Ref("E", "E")


def _vjp(name: str, z: np.ndarray, a: np.ndarray, ga: np.ndarray, none: Any, of_z: Any) -> np.ndarray:
    d = solver.activation_vjp(name, z, a, ga)
    if none is not None:
        d = np.where(none, ga, d)
    if of_z is not None:
        wrong = ga * z * (1.0 - z) if name == "sigmoid" else ga * (1.0 - z * z)
        d = np.where(of_z, wrong, d)
    return d


def _edge_input(fwd: solver.Forward, l: int, sw: _Switches) -> np.ndarray:
    """What multiplies δ(l) in dW(l): a(l-1), or for the edge variants another neuron's output or z(l-1)."""
    a = fwd.a[l - 1]
    for k, on in sw.edge[l]:
        a = np.where(on, fwd.z[l - 1] if k == 0 else np.roll(fwd.a[l - 1], k, axis=0), a)
    return a


def _bias_sum(delta: np.ndarray, sw: _Switches) -> np.ndarray:
    """Σ_s δ (n, S, V) -> (n, 1, V), or one sample's δ for the bias_not_summed variants."""
    total = delta.sum(axis=1, keepdims=True)
    S = delta.shape[1]
    which = sw.bias_sample
    on = (which >= 0) & (which < S)
    if S > 1 and on.any():
        one = delta[:, np.clip(which, 0, S - 1), np.arange(sw.V)][:, None, :]
        total = np.where(on, one, total)
    return total


def _tie_total(parts: list[np.ndarray], sw: _Switches) -> np.ndarray:
    """A tied parameter's gradient: the sum over its uses, or one use for the bias_not_summed variants."""
    total = sum(parts[1:], parts[0])
    if len(parts) > 1:
        for u, part in enumerate(parts):
            total = np.where(sw.tie_use == u, part, total)
    return total


def _reverse(net: Network, W: list[np.ndarray], fwd: solver.Forward, t: np.ndarray, A: Ref, sw: _Switches,
             train: tuple[np.ndarray, list[Any]] | None = None) -> solver.Backward:
    """:func:`grader.solver.reverse` with the switches. ``train`` = (lr per variant, weight masks)
    during a training step, for the variant that back-propagates through the updated weights."""
    k, ga, delta = solver.seed(net, fwd, t, A, sw.loss_scale)
    for l in range(k, 0, -1):
        if delta[l] is None:
            delta[l] = _vjp(net.activations[l - 1], fwd.z[l], fwd.a[l], ga[l], sw.none[l], sw.of_z[l])
        g = delta[l]
        if sw.path[l] is not None and (A.kind == "E" or l < k):  # only where several paths meet
            g = g * sw.path[l]
        Wl = W[l - 1]
        if train is not None and sw.updated is not None and l > 1:
            lr, Wm = train
            dW = solver._outer(delta[l], _edge_input(fwd, l, sw))
            if Wm[l - 1] is not None:
                dW = dW * Wm[l - 1]
            Wl = Wl - (sw.updated * lr) * dW
        ga[l - 1] = solver._WTg(Wl, g)
        if sw.backprop_T[l] is not None:
            ga[l - 1] = np.where(sw.backprop_T[l], solver._Wa(Wl, g), ga[l - 1])
    return solver.Backward(tuple(ga), tuple(delta))


def _gradients(net: Network, fwd: solver.Forward, back: solver.Backward,
               sw: _Switches) -> tuple[list[np.ndarray], list[np.ndarray]]:
    dW = [solver._outer(back.delta[l], _edge_input(fwd, l, sw)) for l in range(1, net.L + 1)]
    db = [_bias_sum(back.delta[l], sw) for l in range(1, net.L + 1)]
    return dW, db


def _step(net: Network, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, t: np.ndarray,
          lr: np.ndarray, masks: tuple[list[Any], list[Any]], sw: _Switches) -> None:
    """:func:`grader.solver._step` with the switches (``lr`` per variant)."""
    fwd = solver.forward(net, W, b, x)
    Wm, bm = masks
    back = _reverse(net, W, fwd, t, _E, sw, train=(lr, Wm))
    dW, db = _gradients(net, fwd, back, sw)
    for group in net.ties:
        total = _tie_total([(dW if kind == "W" else db)[l - 1][idx] for kind, l, idx in group], sw)
        for kind, l, idx in group:
            (dW if kind == "W" else db)[l - 1][idx] = total
    for l in range(net.L):
        W[l] -= lr * (dW[l] if Wm[l] is None else dW[l] * Wm[l])
        b[l] -= lr * (db[l] if bm[l] is None else db[l] * bm[l])


def _train(net: Network, s: solver._State, lr: float, epochs: int, mode: str, sw: _Switches) -> None:
    masks = solver._masks(net)
    lr_v = sw.lr(lr)
    for _ in range(epochs):
        if mode == "online":
            for k in range(s.x.shape[1]):  # a batch of one: no 1/S (see solver._train_block)
                _step(net, s.W, s.b, s.x[:, k:k + 1], s.t[:, k:k + 1], lr_v, masks, sw)
        else:
            _step(net, s.W, s.b, s.x, s.t, lr_v, masks, sw)


def _derivative(ex: Exercise, s: solver._State, fwd: solver.Forward, A: Ref, B: Ref, sw: _Switches) -> np.ndarray:
    """:func:`grader.solver.derivative` with the switches."""
    per_sample = A.kind != "E"

    def dW(back: solver.Backward, l: int) -> np.ndarray:
        d, a = back.delta[l], _edge_input(fwd, l, sw)
        return d[:, None] * a[None] if per_sample else solver._outer(d, a)

    def db(back: solver.Backward, l: int) -> np.ndarray:
        d = back.delta[l]
        return d if per_sample else _bias_sum(d, sw)[:, 0]

    back = _reverse(ex.net, s.W, fwd, s.t, A, sw)
    return solver.by_name(ex, s, fwd, A, B, back, dW, db, lambda parts: _tie_total(parts, sw))


def _answer(ex: Exercise, s: solver._State, q: Question, sw: _Switches) -> np.ndarray:
    """:func:`grader.solver._answer` with the switches: (V, *shape)."""
    if q.sample is not None:
        k = q.sample
        s = solver._State(s.W, s.b, s.x[:, k:k + 1], s.t[:, k:k + 1])
    fwd = solver.forward(ex.net, s.W, s.b, s.x)
    A, B = q.quantity.a, q.quantity.b
    if A is None:
        out = solver.value_of(ex, s, fwd, B)
        if B.kind == "E":
            out = out * sw.E_scale
    else:
        out = _derivative(ex, s, fwd, A, B, sw)
    if solver.per_sample(A, B) and (q.sample is not None or not ex.has_samples):
        out = out[..., 0, :]
    return np.array(np.moveaxis(out, -1, 0))


def _max_uses(ex: Exercise) -> int:
    return max((len(p.uses) for p in ex.parameters.values() if p.shape == () and len(p.uses) > 1), default=0)


def variant_answers(ex: Exercise, q: Question) -> tuple[list[_Variant], np.ndarray]:
    """Every variant that applies to the question and its answer (V, *shape); [0] is the reference."""
    variants = _variants(ex.net, ex.n_samples, _max_uses(ex), training=q.after_epochs > 0)
    sw = _Switches(ex.net, variants)
    s = solver._given(ex, solver._State.of(solver.Values.of(ex, len(variants))), q.given)
    with np.errstate(all="ignore"):  # a wrong update may diverge; such a variant explains nothing
        _train(ex.net, s, ex.learning_rate, q.after_epochs, ex.mode, sw)
        return variants, _answer(ex, s, q, sw)


# ---------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class _Names:
    """How to name each layer in a message: symbols for its outputs, pre-activations, weights."""

    net: Network
    out: tuple[str, ...]
    z: tuple[str, ...]
    W: tuple[str, ...]
    neurons: tuple[tuple[str, ...], ...]

    @classmethod
    def of_exercise(cls, ex: Exercise) -> _Names:
        L = ex.net.L
        names = ex.layer_names or tuple({} for _ in range(L + 1))
        return cls(
            ex.net,
            tuple(names[l].get("output", "x" if l == 0 else "a") for l in range(L + 1)),
            tuple(names[l].get("net", "z") for l in range(L + 1)),
            tuple(names[l].get("weights", f"W({l})") for l in range(L + 1)),
            ex.neurons or tuple(() for _ in range(L + 1)),
        )

    @classmethod
    def of_case(cls, net: Network) -> _Names:
        L = net.L
        return cls(net, ("x", *(f"a{l}" for l in range(1, L + 1))), tuple(f"z{l}" for l in range(L + 1)),
                   tuple(f"W{l}" for l in range(L + 1)), tuple(() for _ in range(L + 1)))

    def layer(self, l: int) -> str:
        L = self.net.L
        what = "the inputs" if l == 0 else "the output layer" if l == L else \
            "the hidden layer" if L == 2 else f"hidden layer {l}"
        names = self.neurons[l]
        if names:
            shown = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
            what += f" ({shown})"
        return what


_DERIVATIVE = {
    "sigmoid": "{a}(1 − {a}) for a sigmoid",
    "tanh": "1 − {a}² for tanh",
    "relu": "1 where {z} > 0, else 0, for a ReLU",
    "softmax": "the softmax Jacobian diag({a}) − {a}{a}ᵀ",
}


def _message(v: _Variant, names: _Names, ex: Exercise | None = None, q: Question | None = None) -> str:
    net = names.net
    m = v.mistake
    if m == "transposed":
        if v.backprop_T:
            l = v.backprop_T
            return (f"back-propagating into {names.layer(l - 1)}: the error goes back through "
                    f"{names.W[l]}ᵀ δ, the transpose; {names.W[l]} seems to be used without it")
        return ("the matrix seems to be transposed: its rows are the neurons the weights lead to "
                "(∂E/∂W = δ aᵀ, the shape of W)")
    if m == "update_wrong_sign":
        return ("the update seems to go uphill: gradient descent subtracts the gradient, θ ← θ − η ∂E/∂θ "
                "(check the sign of the update and of y − t)")
    if m == "update_no_learning_rate":
        return "the update seems to leave out the learning rate: θ ← θ − η ∂E/∂θ"
    if m == "updated_weights_backprop":
        return ("the hidden layer's error seems to be back-propagated through weights that were already "
                "updated: compute every gradient with the old weights first, then update them all")
    if m in ("no_activation_derivative", "sigmoid_derivative_of_z"):
        layers = sorted(v.layers)
        l = layers[-1]
        act = net.activations[l - 1]
        a, z = (names.out[l], names.z[l]) if len(layers) == 1 else ("a", "z")
        where = names.layer(l) if len(layers) == 1 else "every layer"
        if m == "no_activation_derivative":
            formula = _DERIVATIVE.get(act, "f′(z)").format(a=a, z=z)
            return f"∂{a}/∂{z} in {where}: the derivative of the activation seems to be missing ({formula})"
        right = f"{a}(1 − {a})" if act == "sigmoid" else f"1 − {a}²"
        wrong = f"{z}(1 − {z})" if act == "sigmoid" else f"1 − {z}²"
        return (f"∂{a}/∂{z} in {where}: the derivative of the {act} seems to be taken of the pre-activation, "
                f"{wrong}, instead of the output, {right}")
    if m == "sign_flipped":
        if net.loss in ("half_sse", "sse", "mse"):
            return "∂E/∂y: the sign seems to be flipped: the error term is (y − t), not (t − y)"
        return "∂E/∂y: the sign of the loss gradient seems to be flipped"
    if m == "half_dropped":
        return ("the ½ of E = ½ Σ(y − t)² seems to be left out (E or its gradient comes out twice as large); "
                "it cancels the 2 of the square: ∂E/∂y = y − t")
    if m == "half_doubled":
        return ("the ½ of E = ½ Σ(y − t)² seems to be applied twice: it cancels the 2 of the square, "
                "so ∂E/∂y = y − t with no ½ left")
    if m == "single_path_delta":
        l = v.path[0]
        return (f"∂E/∂{names.out[l - 1]} in {names.layer(l - 1)}: a neuron's error sums over every path, "
                f"Σₖ wₖⱼ δₖ over all the neurons of {names.layer(l)} it feeds; only one path seems to be followed")
    if m in ("wrong_edge_input", "z_instead_of_a"):
        l = v.edge[0]
        edge = _edge_of_question(ex, q, l) if ex is not None and q is not None else None
        if edge is not None:
            p, src, dst_z, src_z = edge
            if m == "wrong_edge_input" and l == 1:
                return f"∂{dst_z}/∂{p}: it is the input the edge {p} comes from ({src}), not another input"
            if m == "wrong_edge_input":
                return (f"∂{dst_z}/∂{p}: it is the output of the neuron the edge {p} comes from ({src}), "
                        "not another neuron's output")
            return f"∂{dst_z}/∂{p}: it is the output {src} of the neuron the edge comes from, not its pre-activation {src_z}"
        if m == "wrong_edge_input" and l == 1:
            return (f"∂{names.z[l]}/∂{names.W[l]}: each weight's gradient uses the input its edge comes from "
                    f"({names.layer(0)}); another input seems to be used")
        if m == "wrong_edge_input":
            return (f"∂{names.z[l]}/∂{names.W[l]}: each weight's gradient uses the output of the neuron its edge "
                    f"comes from in {names.layer(l - 1)}; another neuron's output seems to be used")
        return (f"∂{names.z[l]}/∂{names.W[l]}: a weight's gradient uses the output {names.out[l - 1]} of "
                f"{names.layer(l - 1)}, not its pre-activation {names.z[l - 1]}")
    if m == "bias_not_summed":
        B = q.quantity.b if q is not None else None
        b = B.name if B is not None and B.kind in ("b", "param") and q.after_epochs == 0 else "b"
        if v.tie_use >= 0:
            return (f"∂E/∂{b}: a bias shared by several neurons gets the sum of the gradients of all its uses; "
                    "only one use seems to be counted")
        return f"∂E/∂{b}: a bias gradient sums δ over every sample; only one sample seems to be used"
    return m  # pragma: no cover - every variant above has a message


def _edge_of_question(ex: Exercise, q: Question, l: int) -> tuple[str, str, str, str] | None:
    """(parameter, source neuron, destination net, source net) when q asks about one named edge of layer l."""
    B = q.quantity.b
    if B.kind != "param":
        return None
    p = ex.parameters.get(B.name)
    if p is None or p.shape != () or len(p.uses) != 1 or p.uses[0][0] != "W" or p.uses[0][1] != l:
        return None
    _, _, (i, j) = p.uses[0]
    try:
        src = ex.neurons[l - 1][j]
        dst_z = ex.nets[l][i]
        src_z = ex.nets[l - 1][j] if l > 1 else ""
    except IndexError:
        return None
    return p.name, src, dst_z, src_z


# ---------------------------------------------------------------------------- matching
def _all_within(got: np.ndarray, expected: np.ndarray, tol: spec.Tolerance) -> bool:
    if got.shape != expected.shape:
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(compare.within(got, expected, tol)))


def diagnose(ex: Exercise, q: Question, got: np.ndarray) -> Mistake | None:
    """The mistake that explains a wrong typed answer ``got`` to ``q`` within ``q.tolerance``, or None.

    ``got`` is compared after squeezing singleton axes, as :func:`grader.compare.compare` does.
    Never returns a mistake when ``got`` is right within the tolerance.
    """
    try:
        g = np.squeeze(np.asarray(got, dtype=float))
    except (TypeError, ValueError):
        return None
    if not np.all(np.isfinite(g)):
        return None
    variants, answers = variant_answers(ex, q)
    tol = q.tolerance
    ref = np.squeeze(answers[0])
    if _all_within(g, ref, tol):
        return None

    def candidate(i: int) -> np.ndarray | None:
        v = variants[i]
        if v.answer_T:
            return ref.T if ref.ndim == 2 else None
        return np.squeeze(answers[i])

    def differs(i: int) -> bool:
        c = candidate(i)
        return c is not None and np.all(np.isfinite(c)) and not _all_within(c, ref, tol)

    def matches(i: int) -> bool:
        c = candidate(i)
        return c is not None and _all_within(g, c, tol)

    found = [i for i in range(1, len(variants)) if differs(i) and matches(i)]  # in priority order
    return _mistake([variants[i] for i in found], _Names.of_exercise(ex), ex, q)


# the first message already covers the second
_IMPLIED = {("update_wrong_sign", "sign_flipped")}


def _mistake(found: Sequence[_Variant], names: _Names, ex: Exercise | None = None,
             q: Question | None = None) -> Mistake | None:
    """The first variant found, its message naming a second mistake that gives the same value."""
    if not found:
        return None
    first = found[0]
    step = _message(first, names, ex, q)
    other = next((v for v in found[1:] if v.mistake != first.mistake and (first.mistake, v.mistake) not in _IMPLIED), None)
    if other is not None:
        step += f"; or, giving the same value: {_message(other, names, ex, q)}"
    return Mistake(first.mistake, step)


# ---------------------------------------------------------------------------- student functions
CODE_TOLERANCE = spec.Tolerance("relabs", spec.CODE_RTOL, spec.CODE_ATOL)


def function_variant_outputs(fn: Function, case: Case) -> tuple[list[_Variant], list[tuple[np.ndarray, ...]]] | None:
    """What each variant of ``fn`` returns on ``case`` ([0]: the reference), or None when no
    mistake applies (an elementwise activation, a forward pass)."""
    if fn.activation is not None:
        return None
    given = dict(case.inputs)
    net = case.net
    L = net.L
    kinds = {name.rstrip("0123456789") for name in fn.returns}
    training = "epochs" in given
    loss_only = f"a{L}" in given and "x" not in given
    if not training and not loss_only and not kinds & {"delta", "dW", "db", "E"}:
        return None
    x0 = np.array(given.get("x", np.zeros((net.sizes[0], 1))), float)
    S = x0.shape[1]
    variants = _variants(net, S, 0, training=training)
    if loss_only:
        variants = [v for v in variants if v.mistake in ("", "half_dropped", "half_doubled")]
    sw = _Switches(net, variants)
    V = len(variants)
    rep = lambda arr: np.repeat(np.asarray(arr, float)[..., None], V, axis=-1)
    W = [rep(given.get(f"W{l}", np.zeros((net.sizes[l], net.sizes[l - 1])))) for l in range(1, L + 1)]
    b = [rep(np.reshape(given.get(f"b{l}", np.zeros((net.sizes[l], 1))), (-1, 1))) for l in range(1, L + 1)]
    t = rep(given.get("t", np.zeros((net.sizes[-1], S))))
    s = solver._State(W, b, rep(x0), t)
    with np.errstate(all="ignore"):  # a wrong update may diverge; such a variant explains nothing
        return variants, _function_outputs(fn, net, s, given, training, loss_only, sw)


def _function_outputs(fn: Function, net: Network, s: solver._State, given: dict[str, Any], training: bool,
                      loss_only: bool, sw: _Switches) -> list[tuple[np.ndarray, ...]]:
    L, V = net.L, sw.V
    if training:
        _train(net, s, float(given.get("lr", 0.5)), int(given["epochs"]), "batch", sw)
    if loss_only:
        E = solver.loss(net, np.repeat(np.asarray(given[f"a{L}"], float)[..., None], V, axis=-1), s.t) * sw.E_scale
        return [tuple(np.array(E[i]) for _ in fn.returns) for i in range(V)]
    fwd = solver.forward(net, s.W, s.b, s.x)
    back = _reverse(net, s.W, fwd, s.t, _E, sw)
    dW, db = _gradients(net, fwd, back, sw)
    E = solver.loss(net, fwd.a[L], s.t) * sw.E_scale
    per_return = []
    for name in fn.returns:
        kind = name.rstrip("0123456789")
        l = int(name[len(kind):] or 0)
        arr = E if kind == "E" else {"a": fwd.a, "z": fwd.z, "delta": back.delta}[kind][l] \
            if kind in ("a", "z", "delta") else {"W": s.W, "b": s.b, "dW": dW, "db": db}[kind][l - 1]
        per_return.append(arr)
    return [tuple(np.array(arr[..., i]) for arr in per_return) for i in range(V)]


def diagnose_function(fn: Function, case: Case, values: tuple[np.ndarray, ...]) -> Mistake | None:
    """The mistake that explains ``fn``'s wrong returns ``values`` on ``case``, or None.

    Shapes must match exactly (code tolerance rtol 1e-6, atol 1e-9). A variant explains the
    returns when every return is right or equals the variant's, and at least one wrong return
    equals the variant's (a mistake made in one layer only still counts). A return that is the
    transpose of the right matrix is the ``transposed`` mistake; a ``db`` that is δ itself,
    (n, S) for S > 1 samples, is ``bias_not_summed``.
    """
    try:
        got = tuple(np.asarray(v, dtype=float) for v in values)
    except (TypeError, ValueError):
        return None
    computed = function_variant_outputs(fn, case)
    if computed is None or len(got) != len(fn.returns):
        return None
    variants, outputs = computed
    ref = outputs[0]
    tol = CODE_TOLERANCE
    right = [_all_within(g, r, tol) for g, r in zip(got, ref, strict=True)]
    if all(right):
        return None
    names = _Names.of_case(case.net)

    def transposed(k: int) -> bool:
        g, r = got[k], ref[k]
        return g.ndim == 2 and r.ndim == 2 and not _all_within(r.T, r, tol) and _all_within(g.T, r, tol)

    def unsummed(k: int) -> bool:  # db returned as δ itself, one column per sample
        name = fn.returns[k]
        if not name.startswith("db") or got[k].ndim != 2 or got[k].shape[1] < 2:
            return False
        delta = _reference_delta(case, int(name[2:]))
        return delta is not None and _all_within(got[k], delta, tol)

    found: list[_Variant] = []
    checked_unsummed = False
    for i, v in enumerate(variants[1:], start=1):  # in priority order
        if v.mistake == "bias_not_summed" and not checked_unsummed:
            checked_unsummed = True
            if _explains([unsummed(k) for k in range(len(got))], right):
                found.append(v)
        if v.answer_T:
            flags = [transposed(k) for k in range(len(got))]
        else:
            flags = [_differs(outputs[i][k], ref[k], tol) and _all_within(got[k], outputs[i][k], tol)
                     for k in range(len(got))]
        if _explains(flags, right):
            found.append(v)
    return _mistake(found, names)


def _differs(variant: np.ndarray, ref: np.ndarray, tol: spec.Tolerance) -> bool:
    return bool(np.all(np.isfinite(variant))) and not _all_within(variant, ref, tol)


def _explains(flags: list[bool], right: list[bool]) -> bool:
    """Every return right or explained, and at least one wrong return explained."""
    return all(f or r for f, r in zip(flags, right, strict=True)) and any(f and not r for f, r in zip(flags, right, strict=True))


def _reference_delta(case: Case, l: int) -> np.ndarray | None:
    """δ(l) of the reference on the case's own values (None when the case does not give them all)."""
    given = dict(case.inputs)
    net = case.net
    if not {"x", "t", *(f"{k}{m}" for k in "Wb" for m in range(1, net.L + 1))} <= set(given):
        return None
    L = net.L
    W = [np.asarray(given[f"W{k}"], float)[..., None] for k in range(1, L + 1)]
    b = [np.reshape(given[f"b{k}"], (-1, 1)).astype(float)[..., None] for k in range(1, L + 1)]
    x = np.asarray(given["x"], float)[..., None]
    t = np.asarray(given["t"], float)[..., None]
    fwd = solver.forward(net, W, b, x)
    return np.array(solver.reverse(net, W, fwd, t, _E).delta[l][..., 0])
