"""Exercise specs: load JSON, validate against the packaged schema, compile to dataclasses.

Every error is a :class:`~grader.errors.SpecError` whose message starts with the file and the
JSON path (``tutorial.json: questions[3].given.x9: …``). Names live in one namespace (neurons,
pre-activations, parameters, layer names and ``E``); a duplicate names both places.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from . import jsonio
from .errors import SpecError, UsageError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax")
LOSSES = ("half_sse", "sse", "mse", "binary_cross_entropy", "cross_entropy")

MAX_WEIGHTS = 5_000_000

# Default tolerances (DESIGN.md): typed-in numbers vs code held to float64 accuracy.
DEFAULT_RTOL, DEFAULT_ATOL = 1e-2, 1e-8
CODE_RTOL, CODE_ATOL = 1e-6, 1e-9


# ---------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class Network:
    r"""The structure of a layered network, as the solver needs it.

    Layer ``l`` (1..L) computes :math:`z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}`,
    :math:`a^{(l)} = f_l(z^{(l)})`, with ``W[l]`` of shape ``(sizes[l], sizes[l-1])``.
    ``W_train[l]``/``b_train[l]`` mark the entries that gradient descent moves (edges that exist
    and are not ``fixed``); ``ties`` lists groups of entries that share one parameter, each entry
    as ``("W", l, (i, j))`` or ``("b", l, (i,))``.
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]  # index l-1 for layer l
    loss: str = "half_sse"
    reduction: str = "sum"
    W_train: tuple[np.ndarray, ...] = ()
    b_train: tuple[np.ndarray, ...] = ()
    ties: tuple[tuple[tuple[str, int, tuple[int, ...]], ...], ...] = ()

    @property
    def L(self) -> int:
        return len(self.sizes) - 1


@dataclass(frozen=True)
class Ref:
    """What a name refers to.

    ``kind`` is one of ``E``, ``a`` (a neuron's output; layer 0 = an input), ``z`` (a
    pre-activation), ``param`` (a named parameter), ``W``/``b`` (a layer's weight matrix or bias
    vector), ``Z``/``A`` (a layer's pre-activation or output vector).
    """

    name: str
    kind: str
    layer: int = 0
    index: int = 0

    @property
    def per_sample(self) -> bool:
        return self.kind in ("a", "z", "Z", "A")


@dataclass(frozen=True)
class Parameter:
    """A named parameter and the entries of ``W``/``b`` it sets (several when tied)."""

    name: str
    uses: tuple[tuple[str, int, tuple[int, ...]], ...]
    shape: tuple[int, ...]  # () for a scalar, (n, m) for a whole weight matrix, (n,) for a bias vector
    fixed: bool
    path: str  # JSON path of its definition


@dataclass(frozen=True)
class Tolerance:
    mode: str = "relabs"
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    digits: int = 3


@dataclass(frozen=True)
class Quantity:
    """A parsed ``ask``: the value of ``b`` (when ``a`` is None) or the total derivative d a / d b."""

    b: Ref
    a: Ref | None = None

    @property
    def is_derivative(self) -> bool:
        return self.a is not None


@dataclass(frozen=True)
class Question:
    id: str
    ask: str
    quantity: Quantity
    points: float = 1.0
    text: str = ""
    given: tuple[tuple[str, Any], ...] = ()
    after_epochs: int = 0
    sample: int | None = None
    tolerance: Tolerance = Tolerance()
    reveal: bool = False
    feedback: str = ""
    uses: tuple[str, ...] = ()  # earlier questions whose product this answer is (error carried forward)
    carried_forward: float = 0.5


@dataclass(frozen=True)
class Case:
    """One call of a student function: its inputs by conventional name (``x``, ``W1``, ``lr``…)."""

    id: str  # "exercise", "hidden-1", "vectorized-1000", …
    label: str  # for feedback: sizes and sample count, never values
    net: Network
    inputs: tuple[tuple[str, Any], ...]  # name -> float64 ndarray, float or int
    visible: bool
    group: str = ""  # cases of one group form one test (the vectorized pair)


@dataclass(frozen=True)
class Function:
    """A function a code submission must define (DESIGN.md, Student code).

    ``args``/``returns`` are conventional names: ``x``, ``t``, ``W1``, ``b1``… (biases are
    columns), ``z1``, ``a1``…, ``dW1``, ``db1``, ``delta1``, ``E``, ``lr``, ``epochs``, and ``z``,
    ``a`` for an elementwise activation. ``labels`` keep the spelling the spec used.
    """

    name: str
    args: tuple[str, ...]
    returns: tuple[str, ...]
    labels: tuple[str, ...]  # display names of the returns
    points: float
    cases: tuple[Case, ...]
    vectorized: bool
    vectorized_points: float
    activation: str | None  # for an elementwise function such as sigmoid
    reveal: bool
    visibility: str
    path: str


@dataclass(frozen=True)
class Exercise:
    r"""A compiled exercise: the network, its starting values and the questions.

    ``W[l-1]`` is :math:`W^{(l)}` of shape (n_l, n_{l-1}); ``b[l-1]`` is (n_l,); ``x`` is
    (n_0, S) and ``t`` is (n_L, S); ``has_samples`` is False when the spec gave scalars (one
    sample, answers without a sample axis).
    """

    id: str
    title: str
    description: str
    path: str
    net: Network
    W: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]
    x: np.ndarray
    t: np.ndarray
    has_samples: bool
    learning_rate: float
    mode: str
    tolerance: Tolerance
    questions: tuple[Question, ...]
    names: dict[str, Ref] = field(repr=False)
    parameters: dict[str, Parameter] = field(repr=False)
    neurons: tuple[tuple[str, ...], ...] = ()  # per layer, the neuron names
    nets: tuple[tuple[str, ...], ...] = ()  # per layer (0 is empty), the pre-activation names
    layer_names: tuple[dict[str, str], ...] = ()  # per layer: weights/bias/net/output -> name
    aliases: tuple[str, ...] = ()
    functions: tuple[Function, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    variant_seed: int | None = None  # set for one student's variant
    student: str | None = None

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[1])

    @property
    def max_score(self) -> float:
        return float(sum(q.points for q in self.questions))


# ---------------------------------------------------------------------------- helpers
def _fail(source: str, path: Any, message: str) -> SpecError:
    where = path if isinstance(path, str) else jsonio.json_path(path)
    return SpecError(f"{source}: {where}: {message}")


def did_you_mean(word: str, choices: Any) -> str:
    match = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("grader.schema").joinpath("exercise.schema.json").read_text("utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _schema_properties(error: jsonschema.ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return list(props)


def _describe(error: jsonschema.ValidationError) -> str:
    """A one-line message for a schema error, with the most specific cause of a ``oneOf``."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = _schema_properties(error)
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            return f"unknown key {extra[0]!r}{did_you_mean(extra[0], allowed)}"
    if error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and best.validator not in ("oneOf", "anyOf"):
            if best.validator == "required":
                return best.message
            if best.validator == "type" and error.validator == "oneOf":
                return f"{_short(error.instance)} is not a valid value here"
            return _describe(best)
    if error.validator == "oneOf":
        return f"{_short(error.instance)} is not a valid value here"
    return error.message


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def validate(data: Any, source: str = "<spec>") -> list[SpecError]:
    """Every schema violation of ``data``, each naming ``source`` and the JSON path."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    out = []
    for error in errors:
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            extra = [k for k in error.instance if k not in _schema_properties(error)]
            path += extra[:1]  # point at the unknown key itself
        if error.context and error.validator == "oneOf":
            best = jsonschema.exceptions.best_match(error.context)
            if best is not None and len(best.absolute_path) > len(path):
                path = list(best.absolute_path)
        out.append(_fail(source, path, _describe(error)))
    return out


# ---------------------------------------------------------------------------- name spelling
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾₍₎", "01234567890123456789()()")


def normalise_name(name: str) -> str:
    """Other spellings of a name: ``w₆``, ``w_6``, ``w_{6}``, ``W^{(2)}``, ``E_total``."""
    s = name.strip().strip("$").translate(_SUB)
    s = s.replace("\\", "")
    s = re.sub(r"\^\{?\(([^)]*)\)\}?", r"(\1)", s)  # W^{(2)} -> W(2)
    s = re.sub(r"_\{([^}]*)\}", r"\1", s)  # w_{6} -> w6
    s = re.sub(r"_(?=[0-9(])", "", s)  # w_6 -> w6
    if s in ("E_total", "Etotal", "E_{total}", "Etot"):
        s = "E"
    return s


def lookup(names: dict[str, Ref], name: str) -> Ref | None:
    """Exact name first; only on a miss the other spellings."""
    if name in names:
        return names[name]
    wanted = normalise_name(name)
    if wanted in names:  # w₆ is w6 even where another name (w_6) also spells w6
        return names[wanted]
    hits = [ref for key, ref in names.items() if normalise_name(key) == wanted]
    return hits[0] if len(hits) == 1 else None


def parse_ask(ask: str) -> tuple[str | None, str]:
    """``"∂E/∂w10"`` -> ``("E", "w10")``; ``"w9"`` -> ``(None, "w9")``."""
    text = ask.strip()
    if "/" not in text:
        return None, text
    top, _, bottom = text.partition("/")
    top, bottom = top.strip(), bottom.strip()
    parts = []
    for part in (top, bottom):
        for prefix in ("\\partial", "∂", "d"):
            if part.startswith(prefix) and len(part) > len(prefix):
                part = part[len(prefix):].strip()
                break
        else:
            raise ValueError(f"{ask!r} is not of the form dA/dB")
        parts.append(part)
    return parts[0], parts[1]


# ---------------------------------------------------------------------------- compile
class _Compiler:
    def __init__(self, data: dict[str, Any], source: str):
        self.data = data
        self.source = source
        self.names: dict[str, Ref] = {}
        self.where: dict[str, str] = {}
        self.errors: list[SpecError] = []

    def fail(self, path: Any, message: str) -> SpecError:
        return _fail(self.source, path, message)

    def collect(self, build: Any) -> Any:
        """``build()``, or None with its SpecError kept in ``self.errors``."""
        try:
            return build()
        except SpecError as exc:
            self.errors.append(exc)
            return None

    def define(self, name: str, ref: Ref, path: str) -> None:
        if name in self.names or name in ("E", "E_total"):
            first = self.where.get(name, "the loss E (reserved)")
            raise self.fail(path, f"duplicate name {name!r}: also defined at {first}")
        self.names[name] = ref
        self.where[name] = path

    # -- layers
    def layers(self) -> None:
        layers = self.data["network"]["layers"]
        self.neurons: list[tuple[str, ...]] = []
        self.nets: list[tuple[str, ...]] = []
        self.layer_names: list[dict[str, str]] = []
        self.activations: list[str] = []
        for l, layer in enumerate(layers):
            p = f"network.layers[{l}]"
            if l == 0 and "activation" in layer:
                raise self.fail(f"{p}.activation", "the input layer has no activation")
            if l > 0:
                self.activations.append(layer.get("activation", "sigmoid"))
            spec = layer["neurons"]
            names, nets = [], []
            if isinstance(spec, int):
                prefix = layer.get("prefix") or layer.get("output") or f"n{l}_"
                entries = [(f"{prefix}{i + 1}", None, f"{p}.neurons") for i in range(spec)]
            else:
                entries = []
                for i, item in enumerate(spec):
                    if isinstance(item, str):
                        entries.append((item, None, f"{p}.neurons[{i}]"))
                    else:
                        entries.append((item["name"], item.get("net"), f"{p}.neurons[{i}]"))
            for i, (name, net, where) in enumerate(entries):
                self.define(name, Ref(name, "a", l, i), where)
                names.append(name)
                if l > 0:
                    net = net or f"net_{name}"
                    self.define(net, Ref(net, "z", l, i), f"{where}.net")
                    nets.append(net)
                elif net is not None:
                    raise self.fail(f"{where}.net", "an input has no pre-activation")
            self.neurons.append(tuple(names))
            self.nets.append(tuple(nets))
            lnames = {}
            for key, kind in (("weights", "W"), ("bias", "b"), ("net", "Z"), ("output", "A")):
                if key in layer:
                    if l == 0 and key != "output":
                        raise self.fail(f"{p}.{key}", f"the input layer has no {key}")
                    self.define(layer[key], Ref(layer[key], kind, l), f"{p}.{key}")
                    lnames[key] = layer[key]
            self.layer_names.append(lnames)
        self.default_layer_names()
        self.sizes = tuple(len(n) for n in self.neurons)
        weights = sum(a * b for a, b in zip(self.sizes, self.sizes[1:], strict=False))
        if weights > MAX_WEIGHTS:  # a typo such as 100000 neurons must not eat the machine's memory
            raise self.fail("network.layers", f"{weights:,} weights: at most {MAX_WEIGHTS:,} are allowed")

    def default_layer_names(self) -> None:
        """Layers that do not name their matrices answer to the sheet's W(l), b(l) and z(l), where
        nothing else in the spec uses those names (a neuron, a net, an edge or bias parameter)."""
        params = self.data["network"].get("parameters", {})
        taken = set(self.names) | {n for n, p in params.items() if "from" in p or "to" in p}
        # kept apart from layer_names: the figure and the worked solution show declared names only
        self.implicit_names: list[dict[str, str]] = [{} for _ in self.layer_names]
        for l in range(1, len(self.layer_names)):
            for key, kind, default in (("weights", "W", f"W({l})"), ("bias", "b", f"b({l})"), ("net", "Z", f"z({l})")):
                if key not in self.layer_names[l] and default not in taken:
                    self.names[default] = Ref(default, kind, l)
                    self.where[default] = f"network.layers[{l}] (default name)"
                    self.implicit_names[l][key] = default
                    taken.add(default)

    # -- parameters
    def neuron(self, name: str, path: str) -> Ref:
        ref = self.names.get(name)
        if ref is None or ref.kind != "a":
            hint = did_you_mean(name, [k for k, r in self.names.items() if r.kind == "a"])
            what = "no neuron" if ref is None else f"{name!r} is a {_KIND[ref.kind]}, not a neuron:"
            raise self.fail(path, f"{what} named {name!r}{hint}" if ref is None else f"{what} see {self.where[name]}")
        return ref

    def parameters(self) -> None:
        L = len(self.sizes) - 1
        self.W = [np.zeros((self.sizes[l], self.sizes[l - 1])) for l in range(1, L + 1)]
        self.b = [np.zeros(self.sizes[l]) for l in range(1, L + 1)]
        self.W_train = [np.zeros_like(w, dtype=bool) for w in self.W]
        self.b_train = [np.zeros_like(v, dtype=bool) for v in self.b]
        owner: dict[tuple[str, int, tuple[int, ...]], tuple[str, str]] = {}
        self.params: dict[str, Parameter] = {}
        ties = []
        layer_of = {}
        for l, names in enumerate(self.layer_names):
            for key in ("weights", "bias"):
                for where in (names, self.implicit_names[l]):
                    if key in where:
                        layer_of[where[key]] = (key, l)
        for name, spec in self.data["network"].get("parameters", {}).items():
            p = f"network.parameters.{name}"
            fixed = bool(spec.get("fixed", False))
            if name in layer_of:
                key, l = layer_of[name]
                for bad in ("from", "to"):
                    if bad in spec:
                        raise self.fail(f"{p}.{bad}", f"{name!r} is the whole {key} of layer {l}; it takes no {bad!r}")
                kind = "W" if key == "weights" else "b"
                shape = self.W[l - 1].shape if kind == "W" else self.b[l - 1].shape
                value = self.array_value(spec, shape, p, kind == "b")
                entries = [(kind, l, tuple(int(k) for k in idx)) for idx in np.ndindex(*shape)]
                self.params[name] = Parameter(name, tuple(entries), shape, fixed, p)
                self.where.setdefault(name, p)
                target = self.W[l - 1] if kind == "W" else self.b[l - 1]
                target[...] = value
                (self.W_train if kind == "W" else self.b_train)[l - 1][...] = not fixed
                uses = entries
            else:
                if "to" not in spec:
                    raise self.fail(p, f"parameter {name!r} needs 'to' (and 'from' for an edge), "
                                    "or must be named like a layer's weights or bias")
                if "init" in spec:
                    raise self.fail(f"{p}.init", "'init' draws a whole matrix or vector; give a scalar 'value'")
                value = spec["value"]
                if not isinstance(value, (int, float)):
                    raise self.fail(f"{p}.value", "a named edge or bias takes one number")
                if "from" in spec:
                    if isinstance(spec["to"], list):
                        raise self.fail(f"{p}.to", "an edge goes to one neuron")
                    src = self.neuron(spec["from"], f"{p}.from")
                    dst = self.neuron(spec["to"], f"{p}.to")
                    if dst.layer != src.layer + 1:
                        raise self.fail(p, f"edge {name!r} from {src.name!r} (layer {src.layer}) to {dst.name!r} "
                                        f"(layer {dst.layer}): an edge must go from one layer to the next")
                    uses = [("W", dst.layer, (dst.index, src.index))]
                else:
                    targets = spec["to"] if isinstance(spec["to"], list) else [spec["to"]]
                    uses = []
                    for k, t in enumerate(targets):
                        where = f"{p}.to" + (f"[{k}]" if isinstance(spec["to"], list) else "")
                        dst = self.neuron(t, where)
                        if dst.layer == 0:
                            raise self.fail(where, f"{t!r} is an input; a bias feeds a neuron of a later layer")
                        uses.append(("b", dst.layer, (dst.index,)))
                self.define(name, Ref(name, "param"), p)
                self.params[name] = Parameter(name, tuple(uses), (), fixed, p)
                for kind, l, idx in uses:
                    (self.W if kind == "W" else self.b)[l - 1][idx] = float(value)
                    (self.W_train if kind == "W" else self.b_train)[l - 1][idx] = not fixed
                if len(uses) > 1 and not fixed:
                    ties.append(tuple(uses))
            for use in uses:
                if use in owner:
                    other, where = owner[use]
                    what = "edge" if use[0] == "W" else "bias of a neuron"
                    raise self.fail(p, f"{name!r} sets the same {what} as {other!r} ({where})")
                owner[use] = (name, p)
            if name in layer_of:
                self.names[name] = Ref(name, "W" if layer_of[name][0] == "weights" else "b", layer_of[name][1])
        self.ties = tuple(ties)

    def floats(self, value: Any, path: str) -> np.ndarray:
        """A number, list or matrix as a float array; rows of different lengths are a spec error."""
        try:
            return np.asarray(value, dtype=float)
        except ValueError:
            raise self.fail(path, "the rows of the matrix have different lengths") from None

    def array_value(self, spec: dict[str, Any], shape: tuple[int, ...], path: str, vector: bool) -> np.ndarray:
        if "init" in spec:
            init = spec["init"]
            rng = np.random.default_rng(init["seed"])
            scale = float(init.get("scale", 0.1))
            if init.get("distribution", "normal") == "uniform":
                return rng.uniform(-scale, scale, size=shape)
            return rng.normal(0.0, scale, size=shape)
        value = self.floats(spec["value"], f"{path}.value")
        if vector and value.ndim == 2 and value.shape[1] == 1:
            value = value[:, 0]  # a bias column (n, 1) is the same vector
        if value.ndim == 0:
            value = np.full(shape, float(value))  # a scalar fills the whole matrix
        if value.shape != shape:
            rows = " x ".join(map(str, shape))
            raise self.fail(f"{path}.value", f"expected shape {rows} (rows = the layer's neurons), got "
                            f"{' x '.join(map(str, value.shape))}")
        return value

    # -- data
    def data_matrix(self, key: str, layer: int, required: bool) -> tuple[np.ndarray | None, int | None]:
        """Inputs (layer 0) or targets (last layer) as an (n, S) matrix, and S if lists were given."""
        values = self.data.get(key)
        n = self.sizes[layer]
        if values is None:
            if required:
                raise self.fail(key, f"missing: give a value for each of {', '.join(self.neurons[layer])}")
            return None, None
        columns: dict[int, Any] = {}
        whole = self.layer_names[layer].get("output")
        matrix = None
        for name, value in values.items():
            p = f"{key}.{name}"
            if whole is not None and name == whole:
                arr = self.floats(value, p)
                if arr.ndim == 0:
                    raise self.fail(p, f"expected a list of {n} (one per neuron) or {n} rows of samples")
                if arr.ndim == 1:
                    arr = arr[:, None]
                if arr.shape[0] != n:
                    raise self.fail(p, f"expected {n} rows (one per neuron), got {arr.shape[0]}")
                matrix = (arr, p, np.ndim(value) == 2)
                continue
            ref = lookup(self.names, name)
            if ref is None or ref.kind != "a" or ref.layer != layer:
                what = "input" if layer == 0 else "output neuron"
                hint = did_you_mean(name, self.neurons[layer])
                raise self.fail(p, f"no {what} named {name!r}{hint}")
            if self.floats(value, p).ndim > 1:
                raise self.fail(p, "a neuron takes a number or a list (one value per sample)")
            columns[ref.index] = (value, p)
        if matrix is not None:
            if columns:
                raise self.fail(key, f"give either {whole!r} or the neurons by name, not both")
            arr, p, listed = matrix
            return arr, (arr.shape[1] if listed else None)
        missing = [self.neurons[layer][i] for i in range(n) if i not in columns]
        if missing:
            raise self.fail(key, f"missing value for {', '.join(missing)}")
        lengths = {len(v) for v, _ in columns.values() if isinstance(v, list)}
        if len(lengths) > 1:
            raise self.fail(key, f"lists of different lengths {sorted(lengths)}: one value per sample")
        S = lengths.pop() if lengths else None
        out = np.empty((n, S or 1))
        for i, (v, _) in columns.items():
            out[i] = v
        return out, S

    # -- questions
    def ref(self, name: str, path: str) -> Ref:
        if name in ("E", "E_total"):
            return Ref("E", "E")
        ref = lookup(self.names, name)
        if ref is None:
            if normalise_name(name) == "E":
                return Ref("E", "E")
            raise self.fail(path, f"unknown name {name!r}{did_you_mean(name, list(self.names) + ['E'])}")
        return ref

    def tolerance(self, spec: dict[str, Any] | None, default: Tolerance) -> Tolerance:
        if not spec:
            return default
        mode = spec.get("mode") or ("relabs" if {"rtol", "atol"} & set(spec) else default.mode)
        base = default if mode == default.mode else Tolerance(mode)
        return Tolerance(
            mode,
            float(spec.get("rtol", base.rtol)),
            float(spec.get("atol", base.atol)),
            int(spec.get("digits", base.digits)),
        )

    def question(self, i: int, q: dict[str, Any], default: Tolerance, n_samples: int) -> Question:
        p = f"questions[{i}]"
        try:
            top, bottom = parse_ask(q["ask"])
        except ValueError as exc:
            raise self.fail(f"{p}.ask", str(exc)) from None
        b = self.ref(bottom, f"{p}.ask")
        a = None
        if top is not None:
            a = self.ref(top, f"{p}.ask")
            if a.kind not in ("E", "a", "z"):
                raise self.fail(f"{p}.ask", f"d{a.name}/d…: the numerator must be E or one neuron, "
                                f"pre-activation or input, not a {_KIND[a.kind]}")
        given = []
        for name, value in q.get("given", {}).items():
            gp = f"{p}.given.{name}"
            ref = lookup(self.names, name)
            if ref is None or not (
                ref.kind in ("param", "W", "b") or (ref.kind == "a" and ref.layer in (0, len(self.sizes) - 1))
                or (ref.kind == "A" and ref.layer in (0, len(self.sizes) - 1))
            ):
                choices = [k for k, r in self.names.items() if r.kind in ("param", "W", "b")]
                choices += list(self.neurons[0]) + list(self.neurons[-1])
                what = "nothing" if ref is None else f"a {_KIND[ref.kind]}"
                raise self.fail(gp, f"{name!r} names {what}; given sets an input, a target (by output "
                                f"neuron) or a parameter{did_you_mean(name, choices)}")
            given.append((ref.name, self.given_value(ref, value, gp, n_samples)))
        sample = q.get("sample")
        if sample is not None and sample >= n_samples:
            raise self.fail(f"{p}.sample", f"sample {sample} does not exist: the exercise has {n_samples} "
                            "sample(s), numbered from 0")
        return Question(
            id=q["id"],
            ask=q["ask"],
            quantity=Quantity(b=b, a=a),
            points=float(q.get("points", 1)),
            text=q.get("text", ""),
            given=tuple(given),
            after_epochs=int(q.get("after_epochs", 0)),
            sample=sample,
            tolerance=self.tolerance(q.get("tolerance"), default),
            reveal=bool(q.get("reveal", False)),
            feedback=q.get("feedback", ""),
            uses=tuple(q.get("uses", ())),
            carried_forward=float(q.get("carried_forward", self.data.get("carried_forward", 0.5))),
        )

    def chains(self, questions: tuple[Question, ...]) -> tuple[Question, ...]:
        """Check explicit ``uses``; find chain-rule chains of earlier derivative questions for the
        others (dE/dw6 after dE/dy1, dy1/dz3, dz3/dw6 under the same given and epochs)."""
        out: list[Question] = []
        for i, q in enumerate(questions):
            earlier = {e.id: e for e in out}
            for k, used in enumerate(q.uses):
                if used not in earlier:
                    raise self.fail(f"questions[{i}].uses[{k}]", f"{used!r} is not an earlier question"
                                    f"{did_you_mean(used, list(earlier))}")
            if not q.uses and q.quantity.is_derivative and _scalar(self, q.quantity.b):
                same = [e for e in out if e.quantity.is_derivative and _scalar(self, e.quantity.b)
                        and (e.given, e.after_epochs, e.sample) == (q.given, q.after_epochs, q.sample)]
                chain = _find_chain(q.quantity.a.name, q.quantity.b.name, same, [])
                if chain:
                    q = dataclasses.replace(q, uses=tuple(chain))
            out.append(q)
        return tuple(out)

    def given_value(self, ref: Ref, value: Any, path: str, n_samples: int) -> Any:
        arr = self.floats(value, path)
        if ref.kind == "param":
            shape = self.params[ref.name].shape
        elif ref.kind == "W":
            shape = self.W[ref.layer - 1].shape
        elif ref.kind == "b":
            shape = self.b[ref.layer - 1].shape
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
        elif ref.kind == "a":
            if arr.ndim == 0 or arr.shape == (n_samples,):
                return arr.tolist()
            raise self.fail(path, f"expected a number or a list of {n_samples} (one per sample)")
        else:  # a whole input or target vector
            n = self.sizes[ref.layer]
            if arr.ndim == 1:
                arr = arr[:, None]
            if arr.shape not in ((n, 1), (n, n_samples)):
                raise self.fail(path, f"expected {n} rows (one per neuron) and 1 or {n_samples} columns")
            return arr.tolist()
        if arr.shape != shape and not (arr.ndim == 0 and shape != ()):
            raise self.fail(path, f"expected shape {shape or 'a number'}, got {arr.shape or 'a number'}")
        return arr.tolist()

    def compile(self) -> Exercise:
        d = self.data
        self.layers()
        self.parameters()
        qs = d["questions"]
        ids: dict[str, int] = {}
        for i, q in enumerate(qs):
            if q["id"] in ids:
                raise self.fail(f"questions[{i}].id", f"duplicate question id {q['id']!r}: also questions[{ids[q['id']]}]")
            ids[q["id"]] = i
        x, S_in = self.data_matrix("inputs", 0, required=True)
        t, S_t = self.data_matrix("targets", len(self.sizes) - 1, required=False)
        S_values = {s for s in (S_in, S_t) if s is not None}
        if len(S_values) > 1:
            raise self.fail("targets", f"{S_t} samples of targets for {S_in} samples of inputs")
        has_samples = bool(S_values)  # lists given (even of one sample): a trailing sample axis
        S = S_values.pop() if S_values else 1
        x = np.broadcast_to(x, (x.shape[0], S)).copy()
        if t is None:
            t = np.full((self.sizes[-1], S), np.nan)
        else:
            t = np.broadcast_to(t, (t.shape[0], S)).copy()
        loss = d.get("loss", "half_sse")
        loss_name, reduction = (loss, "sum") if isinstance(loss, str) else (loss["name"], loss.get("reduction", "sum"))
        net = Network(
            sizes=self.sizes,
            activations=tuple(self.activations),
            loss=loss_name,
            reduction=reduction,
            W_train=tuple(self.W_train),
            b_train=tuple(self.b_train),
            ties=self.ties,
        )
        default = self.tolerance(d.get("tolerance"), Tolerance())
        lr = float(d.get("learning_rate", 0.5))
        from .functions import compile_function  # it builds on this module's dataclasses

        # each question and function is checked on its own, so `grade validate` reports them all
        questions = tuple(self.collect(lambda i=i, q=q: self.question(i, q, default, S)) for i, q in enumerate(qs))
        functions = tuple(
            self.collect(lambda name=name, f=f: compile_function(self, name, f, net, x, t, lr))
            for name, f in d.get("functions", {}).items()
        )
        if self.errors:
            raise self.errors[0]
        questions = self.chains(questions)
        if "targets" not in d:
            for i, q in enumerate(questions):
                if q.after_epochs or q.quantity.b.kind == "E" or (q.quantity.a and q.quantity.a.kind == "E"):
                    raise self.fail("targets", f"missing: question {q.id!r} (questions[{i}]) needs the loss E")
        for arr in (*self.W, *self.b, x, t):  # the exercise's values are never changed in place
            arr.setflags(write=False)
        return Exercise(
            id=d["id"],
            title=d.get("title", d["id"]),
            description=d.get("description", ""),
            path=self.source,
            net=net,
            W=tuple(self.W),
            b=tuple(self.b),
            x=x,
            t=t,
            has_samples=has_samples,
            learning_rate=lr,
            mode=d.get("training", {}).get("mode", "batch"),
            tolerance=default,
            questions=questions,
            names=dict(self.names),
            parameters=self.params,
            neurons=tuple(self.neurons),
            nets=tuple(self.nets),
            layer_names=tuple(self.layer_names),
            aliases=tuple(d.get("aliases", ())),
            functions=functions,
            raw=d,
        )


def _scalar(c: Any, ref: Ref) -> bool:
    return ref.kind in ("E", "a", "z") or (ref.kind == "param" and c.params[ref.name].shape == ())


def _find_chain(a: str, b: str, questions: list[Question], path: list[str]) -> list[str] | None:
    """Question ids dA/dX1, dX1/dX2, …, dXn/dB (at least two), the earliest first."""
    if len(path) >= 5:
        return None
    for e in questions:
        if e.id in path or e.quantity.a.name != a:
            continue
        nxt = e.quantity.b.name
        if nxt == b:
            if path:
                return [*path, e.id]
            continue
        found = _find_chain(nxt, b, questions, [*path, e.id])
        if found:
            return found
    return None


_KIND = {
    "E": "loss", "a": "neuron", "z": "pre-activation", "param": "parameter",
    "W": "weight matrix", "b": "bias vector", "Z": "pre-activation vector", "A": "layer output vector",
}


def compile_spec(data: Any, source: str = "<spec>") -> Exercise:
    """Validate ``data`` (parsed JSON) and compile it; raises the first :class:`SpecError`."""
    errors = validate(data, source)
    if errors:
        raise errors[0]
    return _Compiler(data, source).compile()


def check_spec(data: Any, source: str = "<spec>") -> list[SpecError]:
    """Every problem found: all schema errors; else every bad question or function, or the first
    problem of the network (later parts cannot be checked without it)."""
    errors = validate(data, source)
    if errors:
        return errors
    compiler = _Compiler(data, source)
    try:
        compiler.compile()
        if "variants" in data:  # a variant must compile too: try one
            from . import variants

            _Compiler(variants.concrete(data, 0, source), source).compile()
    except SpecError as exc:
        return compiler.errors or [exc]
    return []


def read_spec(path: str | Path) -> Any:
    path = Path(path)
    try:
        return jsonio.read(path)
    except jsonio.StrictJSONError as exc:
        raise SpecError(f"{path}: {exc}") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load(path: str | Path, student: str | None = None, secret: str | None = None) -> Exercise:
    """Load, validate and compile the spec file at ``path``; for a ``student``, their variant
    (keyed by ``secret``, default ``GRADER_SECRET``) when the spec has ``variants``."""
    data = read_spec(path)
    if student is None or not isinstance(data, dict) or "variants" not in data:
        return compile_spec(data, str(path))
    errors = validate(data, str(path))  # the variant is drawn from a well-formed spec only
    if errors:
        raise errors[0]
    from . import variants

    seed = variants.seed(data["id"], student, secret if secret is not None else variants.secret_from_env())
    ex = compile_spec(variants.concrete(data, seed, str(path)), str(path))
    return dataclasses.replace(ex, variant_seed=seed, student=student)


# ---------------------------------------------------------------------------- bundled exercises
def exercises_folder() -> Path:
    """The bundled specs: ``grader.exercises`` when installed, ``exercises/`` in a source tree."""
    try:
        return Path(str(resources.files("grader.exercises")))
    except ModuleNotFoundError:  # running from a checkout: the package maps exercises/ there
        return Path(__file__).resolve().parent.parent / "exercises"


def bundled() -> dict[str, Path]:
    """Bundled exercise ids (and aliases) -> their files."""
    out: dict[str, Path] = {}
    for entry in sorted(exercises_folder().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            path = Path(str(entry))
            try:
                data = json.loads(entry.read_text("utf-8"))
            except ValueError:
                continue
            for key in [data.get("id"), *data.get("aliases", []), path.stem]:
                if isinstance(key, str):
                    out.setdefault(key, path)
    return out


def find(name: str | Path) -> Path:
    """An exercise named by path or by bundled id/alias."""
    path = Path(name)
    if path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise UsageError(f"{name}: no such exercise file")
        return path
    known = bundled()
    if str(name) in known:
        return known[str(name)]
    raise UsageError(f"no exercise {str(name)!r}{did_you_mean(str(name), known)}; "
                     f"bundled: {', '.join(sorted(known))}")


def load_exercise(name: str | Path, student: str | None = None) -> Exercise:
    """The exercise named by path or bundled id; compiled once per file version and student
    (an Exercise is immutable, its arrays read-only, so a batch worker can share it)."""
    path = find(name)
    try:
        st = path.stat()
    except OSError:
        return load(path, student)
    secret = os.environ.get("GRADER_SECRET", "") if student is not None else ""
    return _load_cached(str(path.resolve()), st.st_mtime_ns, st.st_size, student, secret)


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, size: int, student: str | None, secret: str) -> Exercise:
    return load(path, student, secret or None)
