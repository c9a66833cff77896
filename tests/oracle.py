"""An independent reference for the tests, written from DESIGN.md and nothing in ``grader``.

:class:`Oracle` reads a spec's JSON data itself and computes, one sample at a time with scalar
Python loops (``math.exp``, ``math.fsum``), the forward pass, the loss, central finite
differences of any quantity, a hand-written per-sample back-propagation and the training loops
(batch and online). It never imports ``grader``: a bug shared with the solver cannot hide here.

The module also holds the test-data builders that several test files share (a random network as a
JSON spec, JSON-value strategies for Hypothesis): ``conftest.py`` cannot be imported by name when
another directory of the suite has its own ``conftest.py``.
"""

from __future__ import annotations

import copy
import math
import sys
from typing import Any

import numpy as np

EPS = sys.float_info.epsilon
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax")
LOSSES = ("half_sse", "sse", "mse", "binary_cross_entropy", "cross_entropy")


# ---------------------------------------------------------------------------- scalar maths
def activate(name: str, z: list[float]) -> list[float]:
    if name == "sigmoid":
        return [1.0 / (1.0 + math.exp(-v)) for v in z]
    if name == "tanh":
        return [math.tanh(v) for v in z]
    if name == "relu":
        return [v if v > 0 else 0.0 for v in z]
    if name == "linear":
        return list(z)
    if name == "softmax":
        m = max(z)
        e = [math.exp(v - m) for v in z]
        s = math.fsum(e)
        return [v / s for v in e]
    raise ValueError(name)


def activation_jacobian(name: str, z: list[float], a: list[float]) -> list[list[float]]:
    """J[k][i] = d a_k / d z_i."""
    n = len(z)
    if name == "softmax":
        return [[a[k] * ((1.0 if k == i else 0.0) - a[i]) for i in range(n)] for k in range(n)]
    if name == "sigmoid":
        d = [v * (1.0 - v) for v in a]
    elif name == "tanh":
        d = [1.0 - v * v for v in a]
    elif name == "relu":
        d = [1.0 if v > 0 else 0.0 for v in z]
    elif name == "linear":
        d = [1.0] * n
    else:
        raise ValueError(name)
    return [[d[k] if k == i else 0.0 for i in range(n)] for k in range(n)]


def sample_loss(name: str, y: list[float], t: list[float]) -> float:
    """The loss of one sample (before the reduction over samples)."""
    K = len(y)
    if name == "half_sse":
        return 0.5 * math.fsum((y[k] - t[k]) ** 2 for k in range(K))
    if name == "sse":
        return math.fsum((y[k] - t[k]) ** 2 for k in range(K))
    if name == "mse":
        return math.fsum((y[k] - t[k]) ** 2 for k in range(K)) / K
    if name == "binary_cross_entropy":
        return -math.fsum(t[k] * math.log(y[k]) + (1.0 - t[k]) * math.log(1.0 - y[k]) for k in range(K))
    if name == "cross_entropy":
        return -math.fsum(t[k] * math.log(y[k]) for k in range(K))
    raise ValueError(name)


def sample_loss_grad(name: str, y: list[float], t: list[float]) -> list[float]:
    """d loss / d y_k for one sample, by hand from the formulas above."""
    K = len(y)
    if name == "half_sse":
        return [y[k] - t[k] for k in range(K)]
    if name == "sse":
        return [2.0 * (y[k] - t[k]) for k in range(K)]
    if name == "mse":
        return [2.0 * (y[k] - t[k]) / K for k in range(K)]
    if name == "binary_cross_entropy":
        return [-t[k] / y[k] + (1.0 - t[k]) / (1.0 - y[k]) for k in range(K)]
    if name == "cross_entropy":
        return [-t[k] / y[k] for k in range(K)]
    raise ValueError(name)


# ---------------------------------------------------------------------------- the oracle
class Oracle:
    """A network read straight from spec data (the subset of the spec the tests write).

    ``W[l][i][j]`` is the weight into neuron i of layer l from neuron j of layer l-1 (``W[0]`` is
    unused), ``b[l][i]`` its bias; ``x[s]``/``t[s]`` are sample s's inputs and targets.
    """

    def __init__(self, data: dict[str, Any]):
        net = data["network"]
        self.names: dict[str, tuple] = {}
        self.neurons: list[list[str]] = []
        self.nets: list[list[str]] = []
        self.act: list[str | None] = [None]
        for l, layer in enumerate(net["layers"]):
            names, nets = [], []
            for i, item in enumerate(layer["neurons"]):
                name, zname = (item, None) if isinstance(item, str) else (item["name"], item.get("net"))
                names.append(name)
                self.names[name] = ("a", l, i)
                if l:
                    zname = zname or f"net_{name}"
                    nets.append(zname)
                    self.names[zname] = ("z", l, i)
            if l:
                self.act.append(layer.get("activation", "sigmoid"))
            for key, kind in (("weights", "W"), ("bias", "b"), ("net", "Z"), ("output", "A")):
                if key in layer:
                    self.names[layer[key]] = (kind, l)
            self.neurons.append(names)
            self.nets.append(nets)
        self.sizes = [len(n) for n in self.neurons]
        self.L = len(self.sizes) - 1
        L, n = self.L, self.sizes
        self.W = [[]] + [[[0.0] * n[l - 1] for _ in range(n[l])] for l in range(1, L + 1)]
        self.b = [[]] + [[0.0] * n[l] for l in range(1, L + 1)]
        self.params: dict[str, list[tuple]] = {}  # name -> slots ("W", l, i, j) / ("b", l, i)
        self.whole: set[str] = set()  # parameters that are a whole matrix/vector
        self.fixed: set[str] = set()
        for name, p in net.get("parameters", {}).items():
            if name in self.names and self.names[name][0] in ("W", "b"):
                kind, l = self.names[name]
                self.whole.add(name)
                if kind == "W":
                    slots = [("W", l, i, j) for i in range(n[l]) for j in range(n[l - 1])]
                else:
                    slots = [("b", l, i) for i in range(n[l])]
                self.params[name] = slots
                self.set_whole(name, p["value"])
            else:
                if "from" in p:
                    _, ls, j = self.names[p["from"]]
                    _, l, i = self.names[p["to"]]
                    slots = [("W", l, i, j)]
                else:
                    tos = p["to"] if isinstance(p["to"], list) else [p["to"]]
                    slots = [("b",) + self.names[t][1:] for t in tos]
                self.params[name] = slots
                self.names[name] = ("param",)
                for slot in slots:
                    self.set_slot(slot, float(p["value"]))
            if p.get("fixed"):
                self.fixed.add(name)
        self.x, S_x = self._data(data.get("inputs", {}), 0)
        self.t, S_t = self._data(data.get("targets", {}), L)
        self.has_samples = S_x is not None or S_t is not None
        S = S_x or S_t or 1
        self.x = [self.x[0]] * S if len(self.x) == 1 else self.x
        self.t = [self.t[0]] * S if len(self.t) == 1 else self.t
        loss = data.get("loss", "half_sse")
        self.loss, self.reduction = (loss, "sum") if isinstance(loss, str) else (loss["name"], loss.get("reduction", "sum"))
        self.lr = float(data.get("learning_rate", 0.5))
        self.mode = data.get("training", {}).get("mode", "batch")

    # -- reading values
    def _data(self, values: dict[str, Any], layer: int) -> tuple[list[list[float]], int | None]:
        """Per-sample rows; the sample count when lists were given (None: scalars)."""
        n = self.sizes[layer]
        columns: list[Any] = [None] * n
        S = None
        for name, v in values.items():
            kind = self.names[name]
            if kind[0] == "A":  # the whole vector (n,) or matrix (n, S)
                for i in range(n):
                    columns[i] = v[i]
                    if isinstance(v[i], list):
                        S = len(v[i])
            else:
                columns[kind[2]] = v
                if isinstance(v, list):
                    S = len(v)
        rows = []
        for s in range(S or 1):
            rows.append([float(c[s]) if isinstance(c, list) else float(c) for c in columns])
        return rows, S

    def slot(self, slot: tuple) -> float:
        return self.W[slot[1]][slot[2]][slot[3]] if slot[0] == "W" else self.b[slot[1]][slot[2]]

    def set_slot(self, slot: tuple, value: float) -> None:
        if slot[0] == "W":
            self.W[slot[1]][slot[2]][slot[3]] = value
        else:
            self.b[slot[1]][slot[2]] = value

    def set_whole(self, name: str, value: Any) -> None:
        kind, l = self.names[name]
        for slot in self.params.get(name) or self.layer_slots(kind, l):
            if isinstance(value, (int, float)):
                v = value
            elif kind == "W":
                v = value[slot[2]][slot[3]]
            else:
                v = value[slot[2]]
                v = v[0] if isinstance(v, list) else v
            self.set_slot(slot, float(v))

    def layer_slots(self, kind: str, l: int) -> list[tuple]:
        if kind == "W":
            return [("W", l, i, j) for i in range(self.sizes[l]) for j in range(self.sizes[l - 1])]
        return [("b", l, i) for i in range(self.sizes[l])]

    @property
    def S(self) -> int:
        return len(self.x)

    def copy(self) -> Oracle:
        return copy.deepcopy(self)

    # -- forward pass and loss
    def forward(self, s: int, bump: tuple | None = None) -> tuple[list, list]:
        """z[l] and a[l] of sample s; ``bump = (kind, l, i, h)`` adds h to a_i or z_i of layer l."""
        a0 = list(self.x[s])
        if bump and bump[0] == "a" and bump[1] == 0:
            a0[bump[2]] += bump[3]
        zs, acts = [None], [a0]
        for l in range(1, self.L + 1):
            prev = acts[-1]
            z = [math.fsum([self.b[l][i]] + [self.W[l][i][j] * prev[j] for j in range(len(prev))])
                 for i in range(self.sizes[l])]
            if bump and bump[0] == "z" and bump[1] == l:
                z[bump[2]] += bump[3]
            a = activate(self.act[l], z)
            if bump and bump[0] == "a" and bump[1] == l:
                a[bump[2]] += bump[3]
            zs.append(z)
            acts.append(a)
        return zs, acts

    @property
    def weight(self) -> float:
        return 1.0 / self.S if self.reduction == "mean" else 1.0

    def E(self) -> float:
        return self.weight * math.fsum(sample_loss(self.loss, self.forward(s)[1][-1], self.t[s]) for s in range(self.S))

    def restrict(self, s: int) -> Oracle:
        """The same network with sample s as its only (scalar) data."""
        o = self.copy()
        o.x, o.t, o.has_samples = [self.x[s]], [self.t[s]], False
        return o

    # -- values by name
    def value(self, name: str) -> np.ndarray:
        if name in ("E", "E_total"):
            return np.array(self.E())
        kind = self.names[name]
        if kind[0] == "param":
            return np.array(self.slot(self.params[name][0]))
        if kind[0] in ("W", "b"):
            return np.array(self.W[kind[1]] if kind[0] == "W" else self.b[kind[1]], dtype=float)
        per = [self.forward(s) for s in range(self.S)]
        if kind[0] in ("a", "z"):
            out = np.array([(acts if kind[0] == "a" else zs)[kind[1]][kind[2]] for zs, acts in per])
        else:  # a layer vector: (n, S)
            out = np.array([(acts if kind[0] == "A" else zs)[kind[1]] for zs, acts in per]).T
        return out if self.has_samples else out[..., 0]

    # -- finite differences
    def coordinates(self, B: str) -> tuple[tuple[int, ...], list[tuple[tuple, Any]]]:
        """B's shape and, per entry, what to perturb: a list of slots, or a per-sample neuron."""
        kind = self.names[B]
        if kind[0] == "param":
            return (), [((), self.params[B])]
        if kind[0] in ("W", "b"):
            l = kind[1]
            if kind[0] == "W":
                return (self.sizes[l], self.sizes[l - 1]), [((i, j), [("W", l, i, j)])
                                                            for i in range(self.sizes[l]) for j in range(self.sizes[l - 1])]
            return (self.sizes[l],), [((i,), [("b", l, i)]) for i in range(self.sizes[l])]
        if kind[0] in ("a", "z"):
            return (), [((), (kind[0], kind[1], kind[2]))]
        l, k = kind[1], "a" if kind[0] == "A" else "z"
        return (self.sizes[l],), [((i,), (k, l, i)) for i in range(self.sizes[l])]

    def fd(self, A: str, B: str) -> tuple[np.ndarray, np.ndarray]:
        """Central finite differences of dA/dB, in DESIGN.md's answer shape, and an error bound.

        A is ``E`` or one neuron, pre-activation or input; B any name. The step is h = 1e-6
        relative to the value perturbed (at least 1e-7), made exactly representable; the bound
        adds the roundoff of the two evaluations (16 ulps of |f| each, over 2h) and the
        truncation estimate |D(h) − D(2h)| (D(2h) has four times D(h)'s O(h²) error).
        """
        if A == "E_total":
            A = "E"
        per_A = A != "E"
        Akind = None if A == "E" else self.names[A]
        if B in ("E", "E_total"):
            one = np.array(1.0 if A == "E" else 0.0)
            shape = (self.S,) if per_A and self.has_samples else ()
            return np.broadcast_to(one, shape).copy(), np.zeros(shape)
        shape, coords = self.coordinates(B)
        per_B = self.names[B][0] in ("a", "z", "A", "Z")
        S = self.S
        est = np.zeros(shape + (S,))
        err = np.zeros(shape + (S,))

        def measure(s_list: list[int], bump: tuple | None) -> list[float]:
            out = []
            for s in s_list:
                zs, acts = self.forward(s, bump)
                if Akind is None:  # E's term of this sample (other samples do not move)
                    out.append(self.weight * sample_loss(self.loss, acts[-1], self.t[s]))
                else:
                    out.append((acts if Akind[0] == "a" else zs)[Akind[1]][Akind[2]])
            return out

        for idx, what in coords:
            if per_B:  # a neuron of one sample: perturb it there, measure A there
                for s in range(S):
                    kind, l, i = what
                    v = self.forward(s)[1 if kind == "a" else 0][l][i]
                    d, e = _central(lambda h, s=s, kind=kind, l=l, i=i: measure([s], (kind, l, i, h))[0], v)
                    est[idx + (s,)], err[idx + (s,)] = d, e
            else:  # parameter slots shared by every sample
                slots = what
                saved = [self.slot(sl) for sl in slots]

                def f(h: float, slots=slots, saved=saved) -> np.ndarray:
                    for sl, v in zip(slots, saved, strict=True):
                        self.set_slot(sl, v + h)
                    try:
                        return np.array(measure(list(range(S)), None))
                    finally:
                        for sl, v in zip(slots, saved, strict=True):
                            self.set_slot(sl, v)

                d, e = _central(f, saved[0])
                if per_A:
                    est[idx], err[idx] = d, e
                else:  # E = sum of the samples' terms
                    est[idx + (0,)], err[idx + (0,)] = np.sum(d), np.sum(e)
        if not per_A and not per_B:
            est, err = est[..., 0], err[..., 0]
        elif not self.has_samples:
            est, err = est[..., 0], err[..., 0]
        return est, err

    # -- hand-written back-propagation and training
    def slot_grads(self, samples: list[int], weight: float) -> tuple[list, list]:
        """d(weight · Σ_s loss_s)/dW and /db by the chain rule, one sample and one neuron at a time."""
        L, n = self.L, self.sizes
        dW = [[]] + [[[0.0] * n[l - 1] for _ in range(n[l])] for l in range(1, L + 1)]
        db = [[]] + [[0.0] * n[l] for l in range(1, L + 1)]
        for s in samples:
            zs, acts = self.forward(s)
            ga = [weight * g for g in sample_loss_grad(self.loss, acts[L], self.t[s])]  # dE/da(L)
            for l in range(L, 0, -1):
                J = activation_jacobian(self.act[l], zs[l], acts[l])
                delta = [math.fsum(J[k][i] * ga[k] for k in range(n[l])) for i in range(n[l])]
                for i in range(n[l]):
                    db[l][i] += delta[i]
                    for j in range(n[l - 1]):
                        dW[l][i][j] += delta[i] * acts[l - 1][j]
                ga = [math.fsum(self.W[l][i][j] * delta[i] for i in range(n[l])) for j in range(n[l - 1])]
        return dW, db

    def param_grads(self, samples: list[int] | None = None, weight: float | None = None) -> dict[str, Any]:
        """dE/d(parameter): a tied parameter sums over its slots; a whole one is per entry."""
        samples = list(range(self.S)) if samples is None else samples
        dW, db = self.slot_grads(samples, self.weight if weight is None else weight)
        g = lambda sl: dW[sl[1]][sl[2]][sl[3]] if sl[0] == "W" else db[sl[1]][sl[2]]
        out = {}
        for name, slots in self.params.items():
            out[name] = [g(sl) for sl in slots] if name in self.whole else math.fsum(g(sl) for sl in slots)
        return out

    def step(self, samples: list[int], weight: float) -> None:
        """θ ← θ − η ∂E/∂θ for every parameter that is not fixed; tied slots move together."""
        grads = self.param_grads(samples, weight)
        for name, slots in self.params.items():
            if name in self.fixed:
                continue
            if name in self.whole:
                for sl, gr in zip(slots, grads[name], strict=True):
                    self.set_slot(sl, self.slot(sl) - self.lr * gr)
            else:
                new = self.slot(slots[0]) - self.lr * grads[name]
                for sl in slots:
                    self.set_slot(sl, new)

    def train(self, epochs: int, mode: str | None = None) -> None:
        """Batch: one step per epoch on E. Online: one step per sample, in order, on that
        sample's own loss: a minibatch of one, where a mean over one sample weighs it by 1."""
        for _ in range(epochs):
            if (mode or self.mode) == "online":
                for s in range(self.S):
                    self.step([s], 1.0)
            else:
                self.step(list(range(self.S)), self.weight)

    def apply_given(self, given: dict[str, Any]) -> None:
        for name, v in given.items():
            kind = self.names[name]
            if kind[0] == "param":
                for sl in self.params[name]:
                    self.set_slot(sl, float(v))
            elif kind[0] in ("W", "b"):
                self.set_whole(name, v)
            elif kind[0] == "a":
                rows = self.x if kind[1] == 0 else self.t
                for s in range(self.S):
                    rows[s] = list(rows[s])
                    rows[s][kind[2]] = float(v[s] if isinstance(v, list) else v)
            else:
                raise NotImplementedError(name)


def _central(f: Any, v: float) -> tuple[np.ndarray, np.ndarray]:
    h = 1e-6 * max(abs(v), 0.1)
    h = (v + h) - v  # exactly representable
    fp, fm = np.asarray(f(h), float), np.asarray(f(-h), float)
    fp2, fm2 = np.asarray(f(2 * h), float), np.asarray(f(-2 * h), float)
    d1 = (fp - fm) / (2 * h)
    d2 = (fp2 - fm2) / (4 * h)
    scale = np.maximum.reduce([np.abs(fp), np.abs(fm), np.abs(fp2), np.abs(fm2)])
    return d1, np.abs(d1 - d2) + 16 * EPS * scale / h


def fd_close(got: Any, est: np.ndarray, err: np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """Entrywise: |got − est| ≤ rtol·max(|got|, |est|, 1e-8) + the finite-difference error bound."""
    got = np.asarray(got, float)
    return np.abs(got - est) <= rtol * np.maximum(np.maximum(np.abs(got), np.abs(est)), 1e-8) + err


# ---------------------------------------------------------------------------- random networks
def random_network(rng: np.random.Generator, *, layers: int | None = None, loss: str | None = None,
                   samples: int | None | str = "random", reduction: str | None = None,
                   matrices: bool | None = None) -> dict[str, Any]:
    """A random spec (without questions): 1-4 weight layers of 1-5 neurons, every activation,
    named edges (some missing, some fixed), tied/per-neuron/whole biases, whole matrices.

    ``samples``: None for scalar inputs, an int for lists of that length. Pre-activations of
    ReLU layers stay at least 0.05 away from 0, so finite differences never cross the kink.
    """
    while True:
        data = _draw_network(rng, layers, loss, samples, reduction, matrices)
        o = Oracle(data)
        ok = all(abs(z) >= 0.05 for s in range(o.S) for l, zl in enumerate(o.forward(s)[0])
                 if l and o.act[l] == "relu" for z in zl)
        ok = ok and all(1e-6 < y < 1 - 1e-6 for s in range(o.S) for y in o.forward(s)[1][-1]) \
            if o.loss in ("binary_cross_entropy", "cross_entropy") else ok
        if ok:
            return data


def _draw_network(rng, layers, loss, samples, reduction, matrices) -> dict[str, Any]:
    L = int(rng.integers(1, 5)) if layers is None else layers
    loss = loss or str(rng.choice(LOSSES))
    sizes = [int(rng.integers(1, 6)) for _ in range(L + 1)]
    acts = [str(rng.choice(ACTIVATIONS)) for _ in range(L)]
    if loss == "binary_cross_entropy":
        acts[-1] = "sigmoid"
    if loss == "cross_entropy":
        acts[-1] = "softmax"
        sizes[-1] = max(sizes[-1], 2)
    if samples == "random":
        samples = [None, 1, 2, 3, 4][int(rng.integers(0, 5))]
    names = [[f"x{i + 1}" for i in range(sizes[0])]]
    names += [[f"h{l}_{i + 1}" for i in range(sizes[l])] for l in range(1, L)]
    names += [[f"y{i + 1}" for i in range(sizes[L])]]
    layer_specs: list[dict[str, Any]] = [{"neurons": names[0]}]
    if rng.random() < 0.5:
        layer_specs[0]["output"] = "x"
    params: dict[str, Any] = {}
    counter = {"w": 0, "b": 0}
    bias_how: dict[int, str] = {}

    def pname(kind: str) -> str:
        counter[kind] += 1
        return f"{kind}{counter[kind]}"

    def value() -> float:
        return round(float(rng.uniform(-1.5, 1.5)), 6)

    for l in range(1, L + 1):
        neurons = [n if rng.random() < 0.5 else {"name": n, "net": f"z{l}_{i + 1}"} for i, n in enumerate(names[l])]
        spec: dict[str, Any] = {"neurons": neurons}
        if acts[l - 1] != "sigmoid" or rng.random() < 0.5:
            spec["activation"] = acts[l - 1]
        named = bool(matrices) or rng.random() < 0.75
        if named:
            spec.update({"weights": f"W({l})", "bias": f"b({l})", "net": f"z({l})", "output": f"a({l})"})
        whole = named and (matrices if matrices is not None else rng.random() < 0.4)
        n, m = sizes[l], sizes[l - 1]
        if whole:
            params[f"W({l})"] = {"value": [[value() for _ in range(m)] for _ in range(n)]}
            if rng.random() < 0.2:
                params[f"W({l})"]["fixed"] = True
        else:
            for i in range(n):
                for j in range(m):
                    if rng.random() < 0.8:
                        p = {"from": names[l - 1][j], "to": names[l][i], "value": value()}
                        if rng.random() < 0.15:
                            p["fixed"] = True
                        params[pname("w")] = p
        how = str(rng.choice(["none", "each", "tied", "vector"] if named else ["none", "each", "tied"]))
        bias_how[l] = how
        if how == "vector":
            params[f"b({l})"] = {"value": [value() for _ in range(n)], **({"fixed": True} if rng.random() < 0.2 else {})}
        elif how == "each":
            for i in range(n):
                params[pname("b")] = {"to": names[l][i], "value": value(), **({"fixed": True} if rng.random() < 0.15 else {})}
        elif how == "tied":
            tied = [names[l][i] for i in range(n) if rng.random() < 0.7] or [names[l][0]]
            params[pname("b")] = {"to": tied, "value": value()}
        layer_specs.append(spec)
    # now and then a bias tied across two layers (when neither layer has a bias of its own)
    if L >= 2 and bias_how[1] == bias_how[L] == "none" and rng.random() < 0.5:
        params[pname("b")] = {"to": [names[1][0], names[L][-1]], "value": value()}

    S = samples
    def col(lo: float, hi: float) -> Any:
        return round(float(rng.uniform(lo, hi)), 6) if S is None else [round(float(v), 6) for v in rng.uniform(lo, hi, S)]

    if "output" in layer_specs[0] and rng.random() < 0.5:
        inputs = {"x": [col(-1, 1) for _ in range(sizes[0])]}
    else:
        inputs = {nm: col(-1, 1) for nm in names[0]}
    K = sizes[L]
    if loss == "cross_entropy":
        draws = rng.dirichlet(np.ones(K), size=S or 1)  # each sample's targets sum to 1
        targets = {nm: (float(draws[0, k]) if S is None else [float(v) for v in draws[:, k]]) for k, nm in enumerate(names[L])}
    elif loss == "binary_cross_entropy":
        targets = {nm: col(0.05, 0.95) for nm in names[L]}
    else:
        targets = {nm: col(-1, 1) for nm in names[L]}
        if S and rng.random() < 0.3:
            targets[names[L][0]] = round(float(rng.uniform(-1, 1)), 6)  # a scalar broadcasts to every sample
    return {
        "id": "random",
        "network": {"layers": layer_specs, "parameters": params},
        "inputs": inputs,
        "targets": targets,
        "loss": {"name": loss, "reduction": reduction or str(rng.choice(["sum", "mean"]))},
        "learning_rate": round(float(rng.uniform(0.05, 0.5)), 3),
        "questions": [{"id": "E", "ask": "E"}],
    }


# ---------------------------------------------------------------------------- JSON strategies
def json_values(max_leaves: int = 20) -> Any:
    """Hypothesis: any value strict JSON can hold (finite floats, ints a float64 can hold)."""
    from hypothesis import strategies as st

    scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**1023), max_value=2**1023)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=max_leaves)
