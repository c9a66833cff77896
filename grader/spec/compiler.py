"""Compilation of a validated spec into an :class:`~grader.spec.model.Exercise`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecError
from .functions import compile_function
from .model import _KIND, MAX_WEIGHTS, Exercise, Network, Parameter, Ref, Tolerance
from .names import did_you_mean, lookup
from .questions import _Questions
from .schema import _fail, validate


# ---------------------------------------------------------------------------- compile
class _Compiler(_Questions):
    def __init__(self, data: dict[str, Any], source: str, skip: frozenset[int] = frozenset()):
        self.data = data
        self.source = source
        self.skip = skip  # questions left out (invalid by the schema; see grader.spec.check)
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

    def try_define(self, name: str, ref: Ref, path: str) -> bool:
        """:meth:`define`, keeping a duplicate as an error and going on with the next name."""
        try:
            self.define(name, ref, path)
        except SpecError as exc:
            self.errors.append(exc)
            return False
        return True

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
                self.errors.append(self.fail(f"{p}.activation", "the input layer has no activation"))
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
            for i, (name, net, where) in enumerate(entries):  # a bad entry still takes its place
                self.try_define(name, Ref(name, "a", l, i), where)
                names.append(name)
                if l > 0:
                    net = net or f"net_{name}"
                    self.try_define(net, Ref(net, "z", l, i), f"{where}.net")
                    nets.append(net)
                elif net is not None:
                    self.errors.append(self.fail(f"{where}.net", "an input has no pre-activation"))
            self.neurons.append(tuple(names))
            self.nets.append(tuple(nets))
            lnames = {}
            for key, kind in (("weights", "W"), ("bias", "b"), ("net", "Z"), ("output", "A")):
                if key in layer:
                    if l == 0 and key != "output":
                        self.errors.append(self.fail(f"{p}.{key}", f"the input layer has no {key}"))
                        continue
                    if self.try_define(layer[key], Ref(layer[key], kind, l), f"{p}.{key}"):
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
            self.collect(lambda name=name, spec=spec: self.parameter(name, spec, layer_of, owner, ties))
        self.ties = tuple(ties)

    def parameter(self, name: str, spec: dict[str, Any], layer_of: dict[str, tuple[str, int]],
                  owner: dict[tuple[str, int, tuple[int, ...]], tuple[str, str]], ties: list[Any]) -> None:
        """One parameter. Its name is known before anything about it is checked, so that a bad
        parameter does not also make every question that names it an unknown-name error."""
        p = f"network.parameters.{name}"
        if name not in layer_of and name not in self.names and name not in ("E", "E_total"):
            self.names[name] = Ref(name, "param")
            self.where[name] = p
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
            if self.where.get(name) != p:
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

    def floats(self, value: Any, path: str) -> np.ndarray:
        """A number, list or matrix as a float array; rows of different lengths are a spec error."""
        try:
            return np.asarray(value, dtype=float)
        except ValueError:
            raise self.fail(path, "the rows of the matrix have different lengths") from None

    def array_value(self, spec: dict[str, Any], shape: tuple[int, ...], path: str, vector: bool) -> np.ndarray:
        if "init" in spec:
            init = spec["init"]
            seed = init["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise self.fail(f"{path}.init.seed", f"{seed!r}: the seed is a whole number ≥ 0")
            scale = float(init.get("scale", 0.1))
            if not 0 <= scale <= 1e100:  # rng.uniform overflows near the float range; NaN fails too
                raise self.fail(f"{path}.init.scale", f"{scale!r}: the scale is a number from 0 to 1e100")
            rng = np.random.default_rng(seed)
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

    def compile(self) -> Exercise:
        d = self.data
        self.layers()
        self.parameters()
        qs = d["questions"]
        ids: dict[str, int] = {}
        for i, q in enumerate(qs):
            if i in self.skip:
                continue
            if q["id"] in ids:
                self.errors.append(self.fail(f"questions[{i}].id", f"duplicate question id {q['id']!r}: "
                                             f"also questions[{ids[q['id']]}]"))
            ids.setdefault(q["id"], i)
        # a problem of the network or the data does not stop the questions from being checked:
        # `grade validate` reports every problem of a file in one run
        network_ok = not self.errors
        x, S_in = self.collect(lambda: self.data_matrix("inputs", 0, required=True)) or (None, None)
        t, S_t = self.collect(lambda: self.data_matrix("targets", len(self.sizes) - 1, required=False)) or (None, None)
        data_ok = x is not None and (t is not None or "targets" not in d)
        S_values = {s for s in (S_in, S_t) if s is not None}
        if len(S_values) > 1:
            self.errors.append(self.fail("targets", f"{S_t} samples of targets for {S_in} samples of inputs"))
            data_ok = False
        has_samples = bool(S_values)  # lists given (even of one sample): a trailing sample axis
        S = min(S_values) if S_values else 1
        known_S = S if x is not None and len(S_values) <= 1 else None  # the sample count, where it is known
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
        # each question and function is checked on its own, so `grade validate` reports them all
        questions = tuple(None if i in self.skip else self.collect(lambda i=i, q=q: self.question(i, q, default, known_S))
                          for i, q in enumerate(qs))
        functions: tuple[Any, ...] = ()
        if network_ok and data_ok:  # function cases are built from the exercise's network and data
            x = np.broadcast_to(x, (x.shape[0], S)).copy()
            t = np.full((self.sizes[-1], S), np.nan) if t is None else np.broadcast_to(t, (t.shape[0], S)).copy()
            functions = tuple(
                self.collect(lambda name=name, f=f: compile_function(self, name, f, net, x, t, lr))
                for name, f in d.get("functions", {}).items()
            )
        questions = self.chains(questions, [q.get("id") if isinstance(q, dict) else None for q in qs])
        if "targets" not in d:
            for i, q in enumerate(questions):
                if q is not None and (q.after_epochs or q.quantity.b.kind == "E"
                                      or (q.quantity.a and q.quantity.a.kind == "E")):
                    self.errors.append(self.fail("targets", f"missing: question {q.id!r} (questions[{i}]) needs the loss E"))
        if self.errors:
            raise self.errors[0]
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



def compile_spec(data: Any, source: str = "<spec>", validated: bool = False) -> Exercise:
    """Validate ``data`` (parsed JSON) and compile it; raises the first :class:`SpecError`.
    ``validated``: ``data`` is a student's variant of a spec that passed the schema (numbers
    replaced by numbers), so the schema is not run on every student's copy again."""
    if not validated:
        errors = validate(data, source)
        if errors:
            raise errors[0]
    return _Compiler(data, source).compile()
