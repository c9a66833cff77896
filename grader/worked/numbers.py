"""The numbers of a worked solution: one variant's values and the backward pass, node by node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .. import solver
from ..spec import Exercise, Question, Ref
from .notation import Notation
from .tex import (
    dd,
)


@dataclass
class Vals:
    """One variant's values without the variant axis: W[l-1] (n, m), b[l-1] (n,), a[l]/z[l] (n, S)."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    x: np.ndarray
    t: np.ndarray
    z: list[Any]
    a: list[np.ndarray]

    @property
    def S(self) -> int:
        return int(self.x.shape[1])


def _vals(ex: Exercise, s: solver._State) -> Vals:
    fwd = solver.forward(ex.net, s.W, s.b, s.x)
    return Vals([w[..., 0].copy() for w in s.W], [c[:, 0, 0].copy() for c in s.b], s.x[..., 0].copy(),
                s.t[..., 0].copy(), [None] + [z[..., 0] for z in fwd.z[1:]], [a[..., 0] for a in fwd.a])


def _start(ex: Exercise, q: Question | None) -> solver._State:
    s = solver._State.of(solver.Values.of(ex))
    return solver._given(ex, s, q.given) if q is not None else s


def _sample(s: solver._State, k: int | None) -> solver._State:
    if k is None:
        return s
    return solver._State(s.W, s.b, s.x[:, k:k + 1], s.t[:, k:k + 1])


def fprime(act: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """f'(z) elementwise (not for softmax)."""
    if act == "sigmoid":
        return a * (1.0 - a)
    if act == "tanh":
        return 1.0 - a * a
    if act == "relu":
        return (z > 0).astype(float)
    return np.ones_like(a)


def _loss_grad(ex: Exercise, v: Vals) -> np.ndarray:
    return solver.loss_grad(ex.net, v.a[-1][..., None], v.t[..., None])[..., 0]


def _loss(ex: Exercise, v: Vals) -> float:
    return float(solver.loss(ex.net, v.a[-1][..., None], v.t[..., None])[0])


def _backward(ex: Exercise, v: Vals, A: Ref) -> tuple[list[np.ndarray], list[Any]]:
    """G[l] = ∂A/∂a^(l) and D[l] = ∂A/∂z^(l), each (n_l, S), zero above A's layer."""
    L = ex.net.L
    G = [np.zeros_like(a) for a in v.a]
    D: list[Any] = [None] + [np.zeros_like(a) for a in v.a[1:]]
    if A.kind == "E":
        k = L
        G[L] = _loss_grad(ex, v)
    else:
        k = A.layer
        (G if A.kind == "a" else D)[k][A.index] = 1.0
    for l in range(k, 0, -1):
        if not (A.kind == "z" and l == k):
            act = ex.net.activations[l - 1]
            if act == "softmax":
                D[l] = v.a[l] * (G[l] - (G[l] * v.a[l]).sum(axis=0, keepdims=True))
            else:
                D[l] = G[l] * fprime(act, v.z[l], v.a[l])
        G[l - 1] = v.W[l - 1].T @ D[l]
    return G, D


# ---------------------------------------------------------------------------- the writer
Node = tuple[str, int, int]  # ("a" | "z", layer, index)


class _Derivation(Protocol):
    """What a derivative's context reads of the derivation it belongs to (a chain.``_Chain``)."""

    ex: Exercise
    n: Notation


class _Ctx:
    """Everything about one derivative dA/d… at one set of values."""

    def __init__(self, w: _Derivation, v: Vals, A: Ref):
        self.w, self.v, self.A = w, v, A
        self.G, self.D = _backward(w.ex, v, A)
        self.sA = "E" if A.kind == "E" else (w.n.a(A.layer, A.index) if A.kind == "a" else w.n.z(A.layer, A.index))
        self.node = None if A.kind == "E" else (A.kind, A.layer, A.index)
        self.reach = self._upstream()

    @property
    def per_sample(self) -> bool:
        return self.A.kind != "E"

    def _parents(self, node: Node) -> list[Node]:
        kind, l, i = node
        n = self.w.n
        if kind == "a":
            if l == 0:
                return []
            if n.act(l) == "softmax":
                return [("z", l, k) for k in range(n.sizes[l])]
            return [("z", l, i)]
        return [("a", l - 1, j) for j in range(n.sizes[l - 1]) if n.edges[l][i, j]]

    def _children(self, node: Node) -> list[Node]:
        kind, l, i = node
        n = self.w.n
        if kind == "z":
            if n.act(l) == "softmax":
                return [("a", l, k) for k in range(n.sizes[l])]
            return [("a", l, i)]
        if l == n.L:
            return []
        return [("z", l + 1, k) for k in range(n.sizes[l + 1]) if n.edges[l + 1][k, i]]

    def _upstream(self) -> set[Node]:
        n = self.w.n
        todo = [("a", n.L, i) for i in range(n.sizes[n.L])] if self.node is None else [self.node]
        seen = set(todo)
        while todo:
            for p in self._parents(todo.pop()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    def between(self, starts: list[Node]) -> list[Node]:
        """Nodes on a path from any of ``starts`` to A (excluding the starts), from A backwards."""
        todo, seen = list(starts), set(starts)
        while todo:
            for c in self._children(todo.pop()):
                if c in self.reach and c not in seen:
                    seen.add(c)
                    todo.append(c)
        out = [x for x in seen if x not in starts]
        return sorted(out, key=lambda x: (-x[1], 0 if x[0] == "a" else 1, x[2]))

    def sym(self, node: Node) -> str:
        kind, l, i = node
        return self.w.n.a(l, i) if kind == "a" else self.w.n.z(l, i)

    def d(self, node: Node) -> str:
        return dd(self.sA, self.sym(node))

    def value(self, node: Node) -> np.ndarray:
        kind, l, i = node
        return self.G[l][i] if kind == "a" else self.D[l][i]

    def fp(self, l: int, i: int) -> np.ndarray:
        return fprime(self.w.n.act(l), self.v.z[l][i], self.v.a[l][i])
