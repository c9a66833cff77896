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

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

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


@dataclass(frozen=True)
class Part:
    """One mistake or convention at one place."""

    id: str
    variant: Variant = Variant()
    form: str = ""  # how the answer comes out: "T" transposed; for code "db_delta" δ itself, "db_neurons"

    @property
    def answer_T(self) -> bool:
        return self.form == "T"

    @cached_property
    def key(self) -> tuple:
        """Equal for the same part on any case: hashing it is cheap (the search hashes thousands)."""
        return (self.id, self.form, self.variant.key)

    @property
    def convention(self) -> bool:
        return self.id in CONVENTIONS


@dataclass(frozen=True)
class Candidate:
    """A combination of parts (the reference: none) and the one variant that makes them all."""

    parts: tuple[Part, ...]
    variant: Variant

    @property
    def form(self) -> str:
        return next((p.form for p in self.parts if p.form), "")

    @cached_property
    def key(self) -> frozenset:
        return frozenset(p.key for p in self.parts)

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


REFERENCE = Candidate((), Variant())

_ACT_IDS = (("none", "no_activation_derivative"), ("of_z", "sigmoid_derivative_of_z"),
            ("of_a", "derivative_of_output"), ("twice", "derivative_twice"), ("as_f", "activation_for_derivative"),
            ("only", "derivative_replaces_error"))


def parts(net: Network, S: int, max_uses: int, training: bool, code: bool = False) -> list[Part]:
    """Every single part that can apply to ``net`` with S samples, in the order of :data:`PRIORITY`
    (``code``: also the shapes a returned bias gradient can wrongly have)."""
    L = net.L
    out = [Part("transposed", form="T")]
    if training:
        out += [Part("update_wrong_sign", Variant(lr="sign")), Part("update_no_learning_rate", Variant(lr="one"))]
        if L >= 2:
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
    return out


def combine(ps: Sequence[Part]) -> Candidate | None:
    """The candidate making every part at once, or None when two parts collide."""
    if len({p.id for p in ps}) < len(ps) or sum(bool(p.form) for p in ps) > 1:
        return None
    v = Variant()
    for p in ps:
        merged = v.merge(p.variant)
        if merged is None:
            return None
        v = merged
    ordered = tuple(sorted(ps, key=lambda p: _RANK[p.id]))
    return Candidate(ordered, v)


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
    only while its candidates times the network's ``params`` stay within the memory budget."""
    out = [[Candidate((p,), p.variant) for p in ps]]
    many = [p for p in ps if _combinable(p)]
    n = len(many)
    if most >= 2 and n * (n - 1) // 2 * max(params, 1) <= _BUDGET:
        out.append([c for pair in itertools.combinations(many, 2) if (c := combine(pair)) is not None])
    if most >= 3 and len(out) == 2 and n * (n - 1) * (n - 2) // 6 <= min(_TRIPLES_CAP, _BUDGET / max(params, 1)):
        out.append([c for three in itertools.combinations(many, 3) if (c := combine(three)) is not None])
    return out


def n_params(net: Network) -> int:
    return sum(net.sizes[l] * (net.sizes[l - 1] + 1) for l in range(1, net.L + 1))
