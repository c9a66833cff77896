r"""The chain rule written out as a formula in the exercise's names (``grade key --formulas``).

The reverse pass of :mod:`grader.solver`, done on expressions instead of numbers: for dA/dB the
cotangent of A is seeded (∂E/∂y for E, 1 on a neuron or pre-activation), and layer by layer

.. math::
    \delta_i^{(l)} = g_i^{(l)} \, f'(z_i^{(l)}), \qquad g_j^{(l-1)} = \sum_i \delta_i^{(l)} w_{ij}^{(l)},
    \qquad \partial A/\partial w_{ij}^{(l)} = \delta_i^{(l)} a_j^{(l-1)}

in the grammar of :mod:`grader.formula`, so the key's formula is graded like a student's:
``(y1 - t1) * y1 * (1 - y1) * o2`` for ∂E/∂w6 on the sheet. A derivative asked after training, a
ReLU on the path, weights with no scalar name (a whole-matrix parameter) or a formula longer
than the grammar allows has no formula (None).
"""

from __future__ import annotations

from typing import Any

from . import formula
from .formula import ONE, ZERO, Bin, Call, Name, Neg, Num
from .formula_grade import formula_names
from .spec import Exercise, Question

MAX_EDGES = 400  # weights in the network; beyond this the written-out formulas are not useful


class _Cannot(Exception):
    """The derivative cannot be written in the exercise's names."""


def _factors(node: Any) -> list[Any]:
    if isinstance(node, Bin) and node.op == "*":
        return _factors(node.left) + _factors(node.right)
    return [node]


def _mul(*factors: Any) -> Any:
    return formula.mul(*[f for x in factors for f in _factors(x)])


class _Symbols:
    """The exercise's names for each neuron, pre-activation, target and weight entry."""

    def __init__(self, ex: Exercise):
        known = formula_names(ex)
        self.ex = ex
        self.a = [[Name(n) if n in known else None for n in layer] for layer in ex.neurons]
        self.z = [[Name(n) if n in known else None for n in layer] for layer in ex.nets]
        targets = [n for n, (kind, _) in known.items() if kind == "t"]
        self.t = [next((Name(n) for n in targets if known[n][1] == k), None) for k in range(ex.net.sizes[-1])]
        self.W: dict[tuple[int, int, int], Any] = {}
        for p in ex.parameters.values():
            for kind, l, idx in p.uses:
                if kind == "W":
                    self.W[(l, *idx)] = Name(p.name) if p.shape == () and p.name in known else None

    def need(self, sym: Any) -> Any:
        if sym is None:
            raise _Cannot
        return sym

    def weight(self, l: int, i: int, j: int) -> Any:
        key = (l, i, j)
        return ZERO if key not in self.W else self.need(self.W[key])  # an edge not listed is zero


def _loss_grad(ex: Exercise, sym: _Symbols, k: int, S: int) -> Any:
    """∂E/∂y_k for one sample, with the reduction's 1/S."""
    y, t = sym.need(sym.a[-1][k]), sym.need(sym.t[k])
    loss = ex.net.loss
    if loss == "half_sse":
        g = formula.sub(y, t)
    elif loss == "sse":
        g = _mul(Num(2.0), formula.sub(y, t))
    elif loss == "mse":
        g = Bin("/", _mul(Num(2.0), formula.sub(y, t)), Num(float(ex.net.sizes[-1])))
    elif loss == "binary_cross_entropy":
        g = Bin("/", formula.sub(y, t), _mul(y, formula.sub(ONE, y)))
    else:  # cross_entropy
        g = Neg(Bin("/", t, y))
    return Bin("/", g, Num(float(S))) if ex.net.reduction == "mean" and S > 1 else g


def _delta(act: str, ga: list[Any], a: list[Any]) -> list[Any]:
    r""":math:`\delta = f'(z)^T g`, written with the layer's outputs."""
    if act == "softmax":
        dot = formula.add(*[_mul(g, a_i) for g, a_i in zip(ga, a, strict=True)])
        return [_mul(a_j, formula.sub(g, dot)) if g != ZERO or dot != ZERO else ZERO for g, a_j in zip(ga, a, strict=True)]
    out = []
    for g, a_i in zip(ga, a, strict=True):
        if g == ZERO:
            out.append(ZERO)
        elif act == "sigmoid":
            out.append(_mul(g, a_i, formula.sub(ONE, a_i)))
        elif act == "tanh":
            out.append(_mul(g, formula.sub(ONE, Bin("**", a_i, Num(2.0)))))
        elif act == "linear":
            out.append(g)
        else:  # relu: its derivative is a step, which the grammar does not have
            raise _Cannot
    return out


def _reverse(ex: Exercise, sym: _Symbols, q: Question) -> tuple[list[Any], list[Any]]:
    """Cotangents ``ga[l][i]`` = ∂A/∂a_i and ``delta[l][i]`` = ∂A/∂z_i per sample, as expressions."""
    A = q.quantity.a
    L, sizes = ex.net.L, ex.net.sizes
    S = 1 if q.sample is not None else ex.n_samples
    ga: list[Any] = [[ZERO] * n for n in sizes]
    delta: list[Any] = [[ZERO] * n for n in sizes]
    if A.kind == "E":
        k = L
        ga[L] = [_loss_grad(ex, sym, i, S) for i in range(sizes[L])]
    else:
        k = A.layer
        if A.kind == "a":
            ga[k] = [ONE if i == A.index else ZERO for i in range(sizes[k])]
        else:
            delta[k] = [ONE if i == A.index else ZERO for i in range(sizes[k])]
    for l in range(k, 0, -1):
        if not (A.kind == "z" and l == k):
            a = [sym.need(s) if g != ZERO else s for g, s in zip(ga[l], sym.a[l], strict=True)]
            delta[l] = _delta(ex.net.activations[l - 1], ga[l], a)
        ga[l - 1] = [formula.add(*[_mul(delta[l][i], sym.weight(l, i, j)) for i in range(sizes[l])])
                     for j in range(sizes[l - 1])]
    return ga, delta


def _tree(ex: Exercise, q: Question) -> Any:
    """The derivative's expression, or nested lists of them for a vector or matrix."""
    sym = _Symbols(ex)
    ga, delta = _reverse(ex, sym, q)
    A, B = q.quantity.a, q.quantity.b
    summed = A.kind == "E" and ex.has_samples and q.sample is None  # E sums over samples

    def total(node: Any) -> Any:
        return Call("sum", node) if summed and node != ZERO else node

    def dW(l: int, i: int, j: int) -> Any:
        return _mul(delta[l][i], sym.need(sym.a[l - 1][j])) if delta[l][i] != ZERO else ZERO

    sizes = ex.net.sizes
    if B.kind == "a":
        return ga[B.layer][B.index]
    if B.kind == "z":
        return delta[B.layer][B.index]
    if B.kind == "A":
        return list(ga[B.layer])
    if B.kind == "Z":
        return list(delta[B.layer])
    p = ex.parameters.get(B.name) if B.kind == "param" else None
    if B.kind == "W" or (p is not None and p.shape != () and p.uses[0][0] == "W"):
        l = B.layer if B.kind == "W" else p.uses[0][1]
        return [[total(dW(l, i, j)) for j in range(sizes[l - 1])] for i in range(sizes[l])]
    if B.kind == "b" or (p is not None and p.shape != ()):
        l = B.layer if B.kind == "b" else p.uses[0][1]
        return [total(delta[l][i]) for i in range(sizes[l])]
    if p is None:  # dA/dE
        raise _Cannot
    parts = [dW(l, *idx) if kind == "W" else delta[l][idx[0]] for kind, l, idx in p.uses]
    return total(formula.add(*parts))


def _text(tree: Any) -> Any:
    if isinstance(tree, list):
        return [_text(t) for t in tree]
    text = formula.to_text(tree)
    if len(text) > formula.MAX_LENGTH:
        raise _Cannot
    return text


def derivative_formula(ex: Exercise, q: Question) -> str | list | None:
    """The chain-rule formula of a derivative question (a string, or nested lists of strings), or
    None where it cannot be written in the grammar."""
    if not q.quantity.is_derivative or q.after_epochs:
        return None
    if sum(a * b for a, b in zip(ex.net.sizes, ex.net.sizes[1:], strict=False)) > MAX_EDGES:
        return None
    try:
        return _text(_tree(ex, q))
    except _Cannot:
        return None


def with_formulas(ex: Exercise, answers: dict[str, Any]) -> dict[str, Any]:
    """The key's answers with each derivative question's value replaced by its formula."""
    out = dict(answers)
    for q in ex.questions:
        f = derivative_formula(ex, q)
        if f is not None:
            out[q.id] = f
    return out
