"""The ``functions`` section of a spec: signatures in the sheet's convention and seeded cases.

Part of the spec stage: it turns the JSON into :class:`~grader.spec.Function` dataclasses whose
cases hold only inputs. Expected outputs come from the solver; the sandbox sees inputs only.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from typing import Any

import numpy as np

from .model import ACTIVATIONS, EXERCISE_CASE, Case, Function, Network
from .names import lookup, parse_ask

_CONVENTION = re.compile(r"^(W|b|z|a|dW|db|delta)([0-9]+)$")


def default_signature(name: str, L: int) -> tuple[list[str], list[str]] | None:
    """The sheet's calling convention (README, Student code), for an L-layer network."""
    layers = range(1, L + 1)
    params = [p for l in layers for p in (f"W{l}", f"b{l}")]
    if name in ACTIVATIONS:
        return ["z"], ["a"]
    if name == "forward":
        return ["x", *params], [f"a{l}" for l in layers]
    if name == "backward":
        return ["x", "t", *params], [f"d{p}" for p in params]
    if name == "train":
        return ["x", "t", *params, "lr", "epochs"], params
    if name == "loss":
        return [f"a{L}", "t"], ["E"]
    return None


def canonical(c: Any, name: str, L: int, path: str) -> str:
    """A conventional name for ``name``: itself (``W1``, ``o``, ``y``) or a name of the exercise."""
    if name in ("x", "t", "lr", "epochs", "E", "z", "a"):
        return name
    if L == 2 and name in ("o", "y"):
        return {"o": "a1", "y": "a2"}[name]
    m = _CONVENTION.match(name)
    if m and (1 <= int(m.group(2)) <= L or (m.group(1) == "a" and int(m.group(2)) == 0)):
        return "x" if name == "a0" else name
    try:
        top, bottom = parse_ask(name)
    except ValueError:
        top, bottom = None, name
    ref = lookup(c.names, bottom)
    if ref is not None:
        if top is None:
            if ref.kind in ("W", "b"):
                return f"{ref.kind}{ref.layer}"
            if ref.kind == "Z":
                return f"z{ref.layer}"
            if ref.kind == "A":
                return "x" if ref.layer == 0 else f"a{ref.layer}"
        elif top in ("E", "E_total") and ref.kind in ("W", "b", "Z"):
            return {"W": "dW", "b": "db", "Z": "delta"}[ref.kind] + str(ref.layer)
    raise c.fail(path, f"{name!r} is not an argument or return a function can have: use x, t, W1, b1, … "
                 "z1, a1, dW1, db1, delta1, E, lr, epochs, or a layer name of this exercise")


def _targets(net: Network, rng: np.random.Generator, S: int, lo: float, hi: float) -> np.ndarray:
    out_act = net.activations[-1]
    n = net.sizes[-1]
    if out_act == "softmax" or net.loss == "cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, S)]
    if out_act == "sigmoid" or net.loss == "binary_cross_entropy":
        return rng.uniform(0.05, 0.95, (n, S))
    if out_act == "tanh":
        return rng.uniform(-0.9, 0.9, (n, S))
    return rng.uniform(lo, hi, (n, S))


def _inputs(fn_args: list[str], net: Network, x: np.ndarray, t: np.ndarray, W: list[np.ndarray],
            b: list[np.ndarray], lr: float, epochs: int, z: np.ndarray) -> tuple[tuple[str, Any], ...]:
    values: dict[str, Any] = {"x": x, "t": t, "lr": float(lr), "epochs": int(epochs), "z": z}
    # a loss function's y: outputs strictly inside (0, 1), away from the targets, same shape
    values[f"a{net.L}"] = 0.05 + 0.9 * (1.0 - np.clip(np.asarray(t, float), 0.0, 1.0)) * 0.5 + 0.2
    for l in range(1, net.L + 1):
        values[f"W{l}"] = W[l - 1]
        values[f"b{l}"] = b[l - 1].reshape(-1, 1)  # biases are columns (h, 1)
    return tuple((a, _frozen(values[a])) for a in fn_args)


def _zero_gradient(case: Case, returns: list[str], grads: list[str]) -> bool:
    """Is one of the gradients ``grads`` that a correct function returns on ``case`` zero?"""
    from types import SimpleNamespace

    # the compiler builds on the solver (which builds on spec.model alone): imported when used
    from ..solver import function_outputs

    out = function_outputs(SimpleNamespace(activation=None, returns=tuple(returns)), case)
    return any(not np.any(np.abs(v) > 1e-9) for name, v in zip(returns, out, strict=True) if name in grads)


def _frozen(value: Any) -> Any:
    """A read-only float64 copy: a case's inputs never change after compiling."""
    if isinstance(value, np.ndarray):
        value = np.array(value, dtype=float)
        value.setflags(write=False)
    return value


def _label(c: Any, name: str) -> str:
    """How the exercise itself names a conventional return (``a2`` -> ``y`` on the sheet)."""
    m = _CONVENTION.match(name)
    if m and m.group(1) == "a":
        return c.layer_names[int(m.group(2))].get("output", name)
    return name


def compile_function(c: Any, name: str, f: dict[str, Any], ex_net: Network, x: np.ndarray, t: np.ndarray,
                     lr: float) -> Function:
    """Compile ``functions.<name>`` with its cases: the exercise's own values, hidden random ones
    of other sizes, and (when ``vectorized``) 1 and 1,000 samples of one network."""
    path = f"functions.{name}"
    L = ex_net.L
    default = default_signature(name, L)
    if default is None and ("args" not in f or "returns" not in f):
        raise c.fail(path, f"{name!r} is not one of sigmoid, tanh, relu, linear, softmax, forward, backward, "
                     "train, loss: give its 'args' and 'returns'")
    args_raw = f.get("args", default[0] if default else [])
    rets_raw = f.get("returns", default[1] if default else [])
    args = [canonical(c, a, L, f"{path}.args[{i}]") for i, a in enumerate(args_raw)]
    rets = [canonical(c, r, L, f"{path}.returns[{i}]") for i, r in enumerate(rets_raw)]
    activation = name if name in ACTIVATIONS else None
    if ("z" in args or "a" in rets) and activation is None:
        raise c.fail(path, "'z' and 'a' belong to an elementwise activation function (sigmoid, tanh, …)")
    givable = {"x", "t", "lr", "epochs", "z", f"a{L}"} | {f"{k}{l}" for k in "Wb" for l in range(1, L + 1)}
    for i, a in enumerate(args):
        if a not in givable:
            raise c.fail(f"{path}.args[{i}]", f"{args_raw[i]!r} is computed by the function, not given to it")
    lr = float(f.get("learning_rate", lr))
    epochs = int(f.get("epochs", 100))
    lo, hi = (float(v) for v in f.get("range", [-1.0, 1.0]))
    if not lo < hi:
        raise c.fail(f"{path}.range", "expected [low, high] with low < high")
    dense = lambda sizes: Network(  # function cases: dense layers where every parameter trains
        sizes=tuple(sizes), activations=ex_net.activations, loss=ex_net.loss, reduction=ex_net.reduction,
        W_train=tuple(np.ones((sizes[l], sizes[l - 1]), bool) for l in range(1, len(sizes))),
        b_train=tuple(np.ones(sizes[l], bool) for l in range(1, len(sizes))),
    )
    # drawn when first needed (NumPy's random module alone is ~12 ms of a `grade FILE`), in the same order
    rng = _Lazy(lambda: np.random.default_rng([int(f.get("seed", 0)), zlib.crc32(name.encode())]))
    z_visible = np.array([[-4.0, -1.0, -0.25, 0.0, 0.25, 1.0, 4.0]])
    cases: list[Case] = []
    if f.get("exercise_case", True):
        net = dense(ex_net.sizes)
        W = [np.asarray(w) for w in c.W]
        b = [np.asarray(v) for v in c.b]
        cases.append(Case(EXERCISE_CASE, "the exercise's values", net,
                          _inputs(args, net, x, t, W, b, lr, epochs, z_visible), visible=True))
    sizes_list = [list(s) for s in f.get("sizes", [])]
    for i, s in enumerate(sizes_list):
        if len(s) != L + 1:
            raise c.fail(f"{path}.sizes[{i}]", f"expected {L + 1} layer sizes (inputs first), got {len(s)}")
    if not sizes_list:
        sizes_list = [[3, 4, 2], [5, 3, 1], [2, 5, 3]] if L == 2 else \
            [[int(v) for v in rng.integers(1, 6, L + 1)] for _ in range(3)]
    samples = [int(v) for v in f.get("samples", [4, 1, 6])]
    for i, s in enumerate(sizes_list):
        one = [l for l in range(1, L + 1) if ex_net.activations[l - 1] == "softmax" and s[l] < 2]
        if one and "sizes" in f:
            raise c.fail(f"{path}.sizes[{i}]", f"a softmax layer of one neuron (layer {one[0]}) has a zero gradient "
                         "for every input: give it at least 2 neurons")
        for l in one:  # the default sizes: a softmax layer needs two neurons to have a gradient
            s[l] = 2

    grads = [r for r in rets if r.rstrip("0123456789") in ("dW", "db", "delta")]
    vectorized = bool(f.get("vectorized", name in ("forward", "backward", "sigmoid")))
    hidden = int(f.get("hidden", 3))
    draws = [(f"hidden-{k + 1}", sizes_list[k % len(sizes_list)], samples[k % len(samples)]) for k in range(hidden)]
    draws += [("vectorized-1000", sizes_list[0], 1000)] if vectorized else []
    facts = _draw_facts(name, f, args, rets, ex_net, lr, epochs, (lo, hi), draws)

    def draw() -> tuple[Case, ...]:
        drawn: list[Case] = []
        stored = _DrawnCases(facts, args, lr, epochs, ex_net.L, draws)

        def random_case(case_id: str, label: str, sizes: list[int], S: int, group: str = "",
                        rng: Any = rng) -> Case:
            """A case drawn from ``rng``; redrawn while a gradient it asks for is zero (a dead ReLU
            layer): there a backward returning zeros would be right. Taken from disk when this
            function's cases were drawn before (the same spec and grader)."""
            net = dense(sizes)
            if stored.old:
                return Case(case_id, label, net, stored.inputs(case_id), visible=False, group=group)
            for _ in range(50):
                W = [rng.uniform(lo, hi, (sizes[l], sizes[l - 1])) for l in range(1, L + 1)]
                b = [rng.uniform(lo, hi, sizes[l]) for l in range(1, L + 1)]
                xs = rng.uniform(lo, hi, (sizes[0], S))
                z = rng.uniform(4 * lo, 4 * hi, (sizes[1], S))
                case = Case(case_id, label, net,
                            _inputs(args, net, xs, _targets(net, rng, S, lo, hi), W, b, lr, epochs, z),
                            visible=False, group=group)
                if not grads or not _zero_gradient(case, rets, grads):
                    stored.drawn(case)
                    return case
            raise c.fail(path, f"no {'-'.join(map(str, sizes))} case has every gradient non-zero for values in "
                         f"[{lo:g}, {hi:g}] (a ReLU layer that is dead?): change 'range' or 'sizes'")

        for k, (case_id, sizes, S) in enumerate(draws[:hidden]):  # what _DrawnCases was told is drawn
            shape = f"{sizes[1]} x {S}" if activation else "-".join(map(str, sizes))
            what = f"z of shape {shape}" if activation else f"{shape} network, {S} sample{'s' * (S != 1)}"
            label = f"hidden case {k + 1}: {what}"
            drawn.append(random_case(case_id, label, sizes, S))
        if vectorized:
            sizes = sizes_list[0]
            what = f"z with {sizes[1]} rows" if activation else f"{'-'.join(map(str, sizes))} network"
            big = random_case("vectorized-1000", f"1,000 samples at once ({what})", sizes, 1000, group="vectorized",
                              rng=_Lazy(lambda: np.random.default_rng([int(f.get("seed", 0)), 1000])))
            first = tuple((k, v[:, :1] if k in ("x", "t", "z") else v) for k, v in big.inputs)
            drawn.append(big)
            drawn.append(Case("vectorized-1", "the first of those samples alone", big.net, first, False, "vectorized"))
        stored.keep()
        return tuple(drawn)

    cases += _same_draw(facts, draw)
    return Function(
        name=name,
        args=tuple(args),
        returns=tuple(rets),
        labels=tuple(rets_raw) if "returns" in f else tuple(_label(c, r) for r in rets),
        points=float(f.get("points", 1)),
        cases=tuple(cases),
        vectorized=vectorized,
        vectorized_points=float(f.get("vectorized_points", 0)),
        learning_rate=lr,
        activation=activation,
        reveal=bool(f.get("reveal", False)),
        visibility=f.get("visibility", "after_published"),
        path=path,
    )


class _Lazy:
    """A random generator made on its first draw."""

    def __init__(self, make: Any):
        self._make, self._rng = make, None

    def __getattr__(self, name: str) -> Any:
        if self._rng is None:
            self._rng = self._make()
        return getattr(self._rng, name)


def _draw_facts(name: str, f: dict, args: list[str], rets: list[str], net: Network, lr: float, epochs: int,
                bounds: tuple[float, float], draws: list[tuple[str, list[int], int]]) -> str | None:
    """Everything the drawing of a function's random cases reads, as JSON text (None when the
    spec holds something JSON cannot write): equal text, the same cases."""
    facts = {"name": name, "function": f, "args": args, "returns": rets, "sizes": list(net.sizes),
             "activations": list(net.activations), "loss": net.loss, "reduction": net.reduction, "lr": lr,
             "epochs": epochs, "range": list(bounds), "draws": draws}
    try:
        return json.dumps(facts, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None


_SAME: dict[str, tuple[Case, ...]] = {}  # facts -> the cases drawn from them, in this process


def _same_draw(facts: str | None, draw: Any) -> tuple[Case, ...]:
    """``draw()``, once per process and facts: each student's variant of an exercise compiles its
    functions again, and only their ``exercise`` cases hold the student's values; the random cases
    are then the very same objects (so is what is computed from them, once per worker)."""
    if facts is None:
        return draw()
    found = _SAME.get(facts)
    if found is None:
        found = draw()  # a spec error raises here and is not remembered
        if len(_SAME) >= 64:
            _SAME.clear()
        _SAME[facts] = found
    return found


class _DrawnCases:
    """A function's random cases as drawn before, kept on disk (``$GRADER_CACHE_DIR/cases/``,
    :mod:`grader.arraycache`): named by everything the drawing reads (:func:`_draw_facts`, and the
    grader's code), so a hit is the same draw. All of a function's cases come from the file or
    none does (each draw continues the generator of the last)."""

    def __init__(self, facts: str | None, args: list[str], lr: float, epochs: int, L: int,
                 draws: list[tuple[str, list[int], int]]):
        from .. import arraycache
        from ..cachedir import cache_base

        self.args, self.lr, self.epochs = args, lr, epochs
        self.new: dict[tuple[str, ...], np.ndarray] = {}
        self.path = None
        if facts is not None:
            try:
                h = hashlib.sha256(f"cases\0{arraycache.code_signature()}\0{facts}".encode("utf-8", "surrogatepass"))
                self.path = cache_base() / "cases" / f"{h.hexdigest()}.bin"
            except OSError:
                pass
        old = arraycache.read(self.path) or {}
        want = {}
        for case_id, sizes, S in draws:
            shapes = {"x": (sizes[0], S), "t": (sizes[L], S), "z": (sizes[1], S), f"a{L}": (sizes[L], S)}
            for l in range(1, L + 1):
                shapes[f"W{l}"], shapes[f"b{l}"] = (sizes[l], sizes[l - 1]), (sizes[l], 1)
            want.update({(case_id, a): shapes.get(a) for a in args if a not in ("lr", "epochs")})
        complete = set(old) == set(want) and all(old[k].shape == shape for k, shape in want.items())
        self.old = old if complete and old else {}

    def inputs(self, case_id: str) -> tuple[tuple[str, Any], ...]:
        """The case's inputs as drawn before (only when :attr:`old` holds every case)."""
        return tuple((a, float(self.lr) if a == "lr" else int(self.epochs) if a == "epochs" else self.old[(case_id, a)])
                     for a in self.args)

    def drawn(self, case: Case) -> None:
        self.new.update({(case.id, a): v for a, v in case.inputs if isinstance(v, np.ndarray)})

    def keep(self) -> None:
        if self.new and not self.old:
            from .. import arraycache

            arraycache.write(self.path, self.new)
