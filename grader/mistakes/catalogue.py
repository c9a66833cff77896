r"""The known mistakes and conventions, each one place in the network, and their combinations.

A :class:`Part` is one mistake (or one other convention) at one place: an ``id``, the solver
switches that make it (:class:`grader.switches.Variant`) and whether the answer comes out
transposed. A :class:`Candidate` is a combination of up to three parts whose switches do not
collide; the search tries every single part first, then pairs, then (where cheap) triples, and
the simplest candidate that fits every wrong value is the diagnosis.

The order of :data:`PRIORITY` decides between candidates of the same size that fit equally
(see the package docstring for why).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..spec import Network
from ..switches import Variant, applies

PRIORITY = (
    "transposed",
    "update_wrong_sign",
    "update_no_learning_rate",
    "updated_weights_backprop",
    "no_activation_derivative",
    "sigmoid_derivative_of_z",
    "derivative_of_output",
    "derivative_twice",
    "activation_for_derivative",
    "derivative_replaces_error",
    "hidden_delta_from_output_error",
    "single_path_delta",
    "elementwise_product",
    "wrong_edge_input",
    "z_instead_of_a",
    "bias_not_summed",
    "bias_axis",
    "one_sample_only",
    "sign_flipped",
    "half_doubled",
    # conventions: right for another common rule, named rather than blamed
    "mean_over_samples",
    "sum_over_samples",
    "half_dropped",
    "half_added",
    "cross_entropy_gradient",
    "binary_cross_entropy_gradient",
    "squared_error_gradient",
    "no_biases",
    "biases_not_trained",
    "learning_rate_over_batch",
    "transposed_backprop",
)
CONVENTIONS = frozenset({"mean_over_samples", "sum_over_samples", "half_dropped", "half_added",
                         "cross_entropy_gradient", "binary_cross_entropy_gradient", "squared_error_gradient",
                         "no_biases", "biases_not_trained", "learning_rate_over_batch"})
_RANK = {m: i for i, m in enumerate(PRIORITY)}

# Caps that keep a large layer (784-64-10) from multiplying the variants: the first few of each
# kind are what a student typing numbers by hand works with.
_SAMPLE_CAP = 6  # "one sample's δ": the first samples and the last
_USE_CAP = 8  # "one use of a tied bias": the first uses
_PATH_CAP = 8  # "one path only": the first neurons of the layer above
_SHIFT_CAP = 4  # "another neuron's output": every other neuron up to this size, else the neighbours
_TRIPLES_CAP = 6000  # triples are tried only when there are at most this many


_UIDS: dict[tuple, int] = {}  # (id, form, switches) -> a small int: the same part on any case, cheap to hash


@dataclass(frozen=True)
class Part:
    """One mistake or convention at one place."""

    id: str
    variant: Variant = Variant()
    form: str = ""  # how the answer comes out: "T" transposed; for code "db_delta" δ itself, "db_neurons"

    @property
    def answer_T(self) -> bool:
        return self.form == "T"

    def __post_init__(self) -> None:
        # plain attributes, read thousands of times a search: the key is equal for the same part
        # on any case (cheap to hash), and the switches are what Switches reads
        object.__setattr__(self, "switches", self.variant.key)
        object.__setattr__(self, "key", _UIDS.setdefault((self.id, self.form, self.switches), len(_UIDS)))

    @property
    def convention(self) -> bool:
        return self.id in CONVENTIONS


class Candidate:
    """A combination of parts (the reference: none), in the order of :data:`PRIORITY`.

    The search builds thousands per exercise, so it is a slotted object, not a dataclass, and
    what it switches is the parts' switches side by side (:attr:`switches`) rather than one
    merged :class:`~grader.switches.Variant`: :func:`levels` only combines parts that
    :func:`compatible` says do not switch the same thing differently."""

    __slots__ = ("parts", "_key")

    def __init__(self, parts: tuple[Part, ...]):
        self.parts = parts
        self._key: frozenset | None = None

    def __repr__(self) -> str:
        return f"Candidate({'+'.join(self.ids) or 'reference'})"

    @property
    def switches(self) -> tuple:
        """Every (field, value) the parts switch, for :class:`~grader.switches.Switches`."""
        ps = self.parts
        return ps[0].switches if len(ps) == 1 else tuple(item for p in ps for item in p.switches)

    @property
    def variant(self) -> Variant:
        """The one variant making every part (the parts are compatible)."""
        v = Variant()
        for p in self.parts:
            v = v.merge(p.variant) or v
        return v

    @property
    def form(self) -> str:
        return next((p.form for p in self.parts if p.form), "")

    @property
    def key(self) -> frozenset:
        if self._key is None:
            self._key = frozenset(p.key for p in self.parts)
        return self._key

    @property
    def answer_T(self) -> bool:
        return self.form == "T"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.parts)

    @property
    def mistakes(self) -> int:
        """How many of the parts are mistakes (conventions are not blamed)."""
        return sum(not p.convention for p in self.parts)


REFERENCE = Candidate(())

_ACT_IDS = (("none", "no_activation_derivative"), ("of_z", "sigmoid_derivative_of_z"),
            ("of_a", "derivative_of_output"), ("twice", "derivative_twice"), ("as_f", "activation_for_derivative"),
            ("only", "derivative_replaces_error"))


# What the catalogue builds depends on a network's shape only (sizes, activations, loss), never on
# its values: one copy serves every case and question of that shape, in any exercise.
_BUILT: dict[tuple, Any] = {}


def _built(key: tuple, make: Callable[[], Any]) -> Any:
    hit = _BUILT.get(key)
    if hit is None:
        if len(_BUILT) > 512:
            _BUILT.clear()
        hit = _BUILT[key] = make()
    return hit


def clear() -> None:
    """Forget what was built (the benchmark's cold start)."""
    _BUILT.clear()


def parts(net: Network, S: int, max_uses: int, training: bool, code: bool = False) -> list[Part]:
    """Every single part that can apply to ``net`` with S samples, in the order of :data:`PRIORITY`
    (``code``: also the shapes a returned bias gradient can wrongly have)."""
    key = ("parts", net.sizes, net.activations, net.loss, net.reduction, S, max_uses, training, code)
    return list(_built(key, lambda: _parts(net, S, max_uses, training, code)))


def _parts(net: Network, S: int, max_uses: int, training: bool, code: bool) -> tuple[Part, ...]:
    L = net.L
    out = [Part("transposed", form="T")]
    if training:
        out += [Part("update_wrong_sign", Variant(lr="sign")), Part("update_no_learning_rate", Variant(lr="one"))]
    if L >= 2:  # in a training step, or a backward that updates W in place with the exercise's η
        out.append(Part("updated_weights_backprop", Variant(updated=True)))
    acts = net.activations
    for mode, mistake in _ACT_IDS:
        layers = [l for l in range(L, 0, -1) if applies(mode, acts[l - 1])]
        out += [Part(mistake, Variant(act=((l, mode),))) for l in layers]
        if len(layers) >= 2:
            out.append(Part(mistake, Variant(act=tuple((l, mode) for l in sorted(layers)))))
    out += [Part("hidden_delta_from_output_error", Variant(from_output=frozenset({l})))
            for l in range(L, 1, -1) if applies("none", acts[l - 1])]
    for l in range(L, 0, -1):
        if net.sizes[l] >= 2:
            out += [Part("single_path_delta", Variant(path=(l, k))) for k in range(min(net.sizes[l], _PATH_CAP))]
    out += _elementwise(net, S)
    for l in range(L, 0, -1):
        m = net.sizes[l - 1]
        shifts = range(1, m) if m <= _SHIFT_CAP else (1, m - 1)  # roll by m - 1 = the next neuron
        out += [Part("wrong_edge_input", Variant(edge=(l, k))) for k in shifts]
    out += [Part("z_instead_of_a", Variant(edge=(l, 0))) for l in range(L, 1, -1)]
    if S > 1:
        samples = list(range(S)) if S <= _SAMPLE_CAP else [*range(_SAMPLE_CAP - 1), S - 1]
        out += [Part("bias_not_summed", Variant(bias_sample=s)) for s in samples]
    out += [Part("bias_not_summed", Variant(tie_use=u)) for u in range(min(max_uses, _USE_CAP))]
    if code and not training:
        out += [Part("bias_not_summed", form="db_delta"), Part("bias_axis", form="db_neurons")]
        if any(_broadcasts_apart(net.sizes[l], net.sizes[l - 1], S) for l in range(1, L + 1)):
            out.append(Part("elementwise_product", form="dW_mul"))
    if S > 1:
        out += [Part("one_sample_only", Variant(sample=0)), Part("one_sample_only", Variant(sample=-1))]
    out.append(Part("sign_flipped", Variant(loss_scale=-1.0)))
    squared = net.loss in ("half_sse", "sse", "mse")
    if net.loss == "half_sse":
        out.append(Part("half_doubled", Variant(loss_scale=0.5, E_scale=0.5)))
    # conventions
    if S > 1:
        out.append(Part("mean_over_samples", Variant(reduction="mean")) if net.reduction == "sum"
                   else Part("sum_over_samples", Variant(reduction="sum")))
    if net.loss == "half_sse":
        out.append(Part("half_dropped", Variant(loss="sse")))
    elif net.loss == "sse":
        out.append(Part("half_added", Variant(loss="half_sse")))
    if squared:
        out += [Part("binary_cross_entropy_gradient", Variant(loss="binary_cross_entropy")),
                Part("cross_entropy_gradient", Variant(loss="cross_entropy"))]
    else:
        out.append(Part("squared_error_gradient", Variant(loss="half_sse")))
    out.append(Part("no_biases", Variant(no_bias=True)))
    if training:
        out.append(Part("biases_not_trained", Variant(bias_fixed=True)))
        if S > 1 and net.reduction == "sum":
            out.append(Part("learning_rate_over_batch", Variant(lr="per_sample")))
    out += [Part("transposed_backprop", Variant(backprop_T=l)) for l in range(L, 0, -1)
            if net.sizes[l] == net.sizes[l - 1] >= 2]
    return tuple(out)


def _elementwise(net: Network, S: int) -> list[Part]:
    """``W.T * delta`` for ``W.T @ delta`` and ``delta * a`` for ``delta @ a.T`` where NumPy broadcasts
    them to a result (:func:`grader.switches.elementwise_back`): square layers with as many samples
    as neurons, or one sample with the matrix δ reaching the first layer's gradients. Elsewhere
    the code raises and the shape-error reading names the operands."""
    n = net.sizes
    out = [Part("elementwise_product", Variant(elementwise=l)) for l in range(net.L, 1, -1)
           if n[l] == n[l - 1] >= 2 and (S == n[l] or (S == 1 and l == 2 and n[0] == n[l]))]
    out += [Part("elementwise_product", Variant(elementwise_dW=l)) for l in range(net.L, 0, -1)
            if n[l] == n[l - 1] == S >= 2]
    return out


# switches that compose (a union of layers, a product of scales) rather than collide
_COMPOSE = frozenset({"from_output", "loss_scale", "E_scale"})


def _slots(p: Part) -> dict[tuple, object]:
    """What a part switches that another part must not switch differently: (field[, layer]) -> value."""
    out: dict[tuple, object] = {}
    for name, value in p.variant.key:
        if name == "act":
            out.update({("act", l): mode for l, mode in value})
        elif name not in _COMPOSE:
            out[(name,)] = value
    return out


def compatible(ps: Sequence[Part]) -> np.ndarray:
    """(n, n): whether parts i and j can be made at once — other ids, at most one answer form, and
    no field switched two ways (:meth:`grader.switches.Variant.merge` agrees). Whether a set of
    parts combines is decided pair by pair."""
    slots = [_slots(p) for p in ps]
    n = len(ps)
    ok = np.ones((n, n), dtype=bool)
    for i in range(n):
        a, pi = slots[i], ps[i]
        for j in range(i + 1, n):
            pj = ps[j]
            if pi.id == pj.id or (pi.form and pj.form) or any(k in a and a[k] != v for k, v in slots[j].items()):
                ok[i, j] = ok[j, i] = False
    return ok


def _broadcasts_apart(n: int, m: int, S: int) -> bool:
    """Whether ``delta * a`` ((n, S) by (m, S)) broadcasts to a shape other than dW's (n, m): code
    returns it as it is, and the search reads the returned dW as δ * a (form "dW_mul")."""
    return (n == m or 1 in (n, m)) and (max(n, m), S) != (n, m)


def combine(ps: Sequence[Part]) -> Candidate | None:
    """The candidate making every part at once, or None when two parts collide."""
    if not compatible(ps)[np.triu_indices(len(ps), 1)].all():
        return None
    return Candidate(tuple(sorted(ps, key=lambda p: _RANK[p.id])))


# mistakes at one particular place (one path, one edge, one sample's δ, one use of a tie, one
# untransposed matrix) are tried alone: real code that makes two mistakes makes them in steps
# that apply everywhere (f′, δ, the sum, the loss, the update), and leaving the places out of
# the combinations keeps pairs few and triples cheap
_ALONE = frozenset({"single_path_delta", "wrong_edge_input", "z_instead_of_a", "transposed_backprop"})


def _combinable(p: Part) -> bool:
    return p.id not in _ALONE and p.variant.bias_sample < 0 and p.variant.tie_use < 0


_BUDGET = 2e7  # candidates × parameters of one size: a 784-64-10 network tries single parts only


def levels(ps: Sequence[Part], most: int = 3, params: int = 0) -> list[list[Candidate]]:
    """Candidates by size: [singles, pairs, triples]; triples only where they are few, and a size
    only while its candidates times the network's ``params`` stay within the memory budget.
    Each candidate's parts are in the order of :data:`PRIORITY`. Built once per set of parts."""
    return _built(("levels", tuple(p.key for p in ps), most, params), lambda: _levels(ps, most, params))


def _levels(ps: Sequence[Part], most: int, params: int) -> list[list[Candidate]]:
    out = [[Candidate((p,)) for p in ps]]
    many = sorted((p for p in ps if _combinable(p)), key=lambda p: _RANK[p.id])  # stable: combinations stay ordered
    n = len(many)
    if most < 2 or n * (n - 1) // 2 * max(params, 1) > _BUDGET:
        return out
    ok = compatible(many)
    pairs = np.argwhere(np.triu(ok, 1))
    out.append([Candidate((many[i], many[j])) for i, j in pairs.tolist()])
    if most >= 3 and n * (n - 1) * (n - 2) // 6 <= min(_TRIPLES_CAP, _BUDGET / max(params, 1)):
        i, j = pairs[:, 0], pairs[:, 1]
        third = ok[i] & ok[j] & (np.arange(n)[None, :] > j[:, None])  # k > j, compatible with both
        rows, k = np.nonzero(third)
        out.append([Candidate((many[a], many[b], many[c]))
                    for a, b, c in zip(i[rows].tolist(), j[rows].tolist(), k.tolist(), strict=True)])
    return out


def n_params(net: Network) -> int:
    return sum(net.sizes[l] * (net.sizes[l - 1] + 1) for l in range(1, net.L + 1))
