"""Compilation of the questions: ``ask``, ``given``, ``sample``, tolerances and chains."""

from __future__ import annotations

import dataclasses
from typing import Any

from .model import _KIND, Accept, Quantity, Question, Ref, Tolerance
from ..errors import SpecError
from .names import did_you_mean, lookup, normalise_name, parse_ask, suggest


class _Questions:
    """The question half of the compiler (mixed into :class:`~grader.spec.compiler._Compiler`,
    whose network half defines the names, parameters and ``fail`` it uses)."""

    # -- questions
    def ref(self, name: str, path: str) -> Ref:
        if name in ("E", "E_total"):
            return Ref("E", "E")
        ref = lookup(self.names, name)
        if ref is None:
            if normalise_name(name) == "E":
                return Ref("E", "E")
            hint = suggest(name, self.names, [*self.names, "E"], self.layer_quantities())
            raise self.fail(path, f"unknown name {name!r}{hint}")
        return ref

    def try_ref(self, name: str, path: str, problems: list[SpecError]) -> Ref | None:
        try:
            return self.ref(name, path)
        except SpecError as exc:
            problems.append(exc)
            return None

    def layer_quantities(self) -> dict[tuple[str, int], str]:
        """(kind, layer) -> the name the spec gives it (declared or default): ("W", 1) -> "W1"."""
        out = {}
        for l, names in enumerate(self.layer_names):
            for where in (names, self.implicit_names[l]):
                for key, kind in (("weights", "W"), ("bias", "b"), ("net", "z"), ("output", "a")):
                    if key in where:
                        out.setdefault((kind, l), where[key])
        return out

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

    def question(self, i: int, q: dict[str, Any], default: Tolerance, n_samples: int | None) -> Question | None:
        """One question; every problem of it goes to ``self.errors`` (then None). ``n_samples`` is
        None where the data could not be read (then ``sample`` is not checked against it)."""
        p = f"questions[{i}]"
        problems: list[SpecError] = []
        a = b = None
        try:
            top, bottom = parse_ask(q["ask"])
        except ValueError as exc:
            problems.append(self.fail(f"{p}.ask", str(exc)))
        else:
            b = self.try_ref(bottom, f"{p}.ask", problems)
            if top is not None:
                a = self.try_ref(top, f"{p}.ask", problems)
                if a is not None and a.kind not in ("E", "a", "z"):
                    problems.append(self.fail(f"{p}.ask", f"d{a.name}/d…: the numerator must be E or one neuron, "
                                              f"pre-activation or input, not a {_KIND[a.kind]}"))
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
                problems.append(self.fail(gp, f"{name!r} names {what}; given sets an input, a target (by output "
                                          f"neuron) or a parameter{suggest(name, self.names, choices)}"))
                continue
            try:
                given.append((ref.name, self.given_value(ref, value, gp, n_samples)))
            except SpecError as exc:
                problems.append(exc)
        sample = q.get("sample")
        if sample is not None and n_samples is not None and sample >= n_samples:
            valid = ", ".join(map(str, range(n_samples))) if n_samples <= 8 else f"0 to {n_samples - 1}"
            problems.append(self.fail(f"{p}.sample", f"sample {sample} does not exist: the exercise has {n_samples} "
                                      f"sample{'s' if n_samples != 1 else ''}, numbered from 0 (valid: {valid})"))
        accept = self.accepted(p, q, problems)
        if problems or b is None:
            self.errors.extend(problems)
            return None
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
            answer=q.get("answer", "either"),
            accept=accept,
        )

    def accepted(self, p: str, q: dict[str, Any], problems: list[SpecError]) -> tuple[Accept, ...]:
        """The question's ``accept`` list: values, other asks (checked like ``ask``), transposes."""
        out = []
        for k, alt in enumerate(q.get("accept", ())):
            where = f"{p}.accept[{k}]"
            quantity, value = None, None
            if "value" in alt:
                try:
                    value = self.floats(alt["value"], f"{where}.value").tolist()  # plain: a Question compares
                except SpecError as exc:
                    problems.append(exc)
                    continue
            else:
                try:
                    top, bottom = parse_ask(alt.get("ask", q["ask"]))
                except ValueError as exc:
                    problems.append(self.fail(f"{where}.ask", str(exc)))
                    continue
                b = self.try_ref(bottom, f"{where}.ask", problems)
                a = self.try_ref(top, f"{where}.ask", problems) if top is not None else None
                if b is None or (top is not None and a is None):
                    continue
                if a is not None and a.kind not in ("E", "a", "z"):
                    problems.append(self.fail(f"{where}.ask", f"d{a.name}/d…: the numerator must be E or one "
                                              "neuron, pre-activation or input"))
                    continue
                quantity = Quantity(b=b, a=a)
            out.append(Accept(float(alt.get("fraction", 1)), value, quantity, alt.get("ask", q["ask"]),
                              bool(alt.get("transpose", False)), alt.get("feedback", "")))
        return tuple(out)

    def chains(self, questions: tuple[Question | None, ...], ids: list[str]) -> tuple[Question | None, ...]:
        """Check explicit ``uses``; find chain-rule chains of earlier derivative questions for the
        others (dE/dw6 after dE/dy1, dy1/dz3, dz3/dw6 under the same given and epochs). A question
        that failed to compile is None; its id still counts as an earlier question."""
        out: list[Question | None] = []
        for i, q in enumerate(questions):
            if q is None:
                out.append(q)
                continue
            earlier = {e.id: e for e in out if e is not None}
            for k, used in enumerate(q.uses):
                if used not in ids[:i]:
                    self.errors.append(self.fail(f"questions[{i}].uses[{k}]", f"{used!r} is not an earlier question"
                                                 f"{did_you_mean(used, ids[:i])}"))
            if not q.uses and q.quantity.is_derivative and _scalar(self, q.quantity.b):
                same = [e for e in earlier.values() if e.quantity.is_derivative and _scalar(self, e.quantity.b)
                        and (e.given, e.after_epochs, e.sample) == (q.given, q.after_epochs, q.sample)]
                chain = _find_chain(q.quantity.a.name, q.quantity.b.name, same, [])
                if chain:
                    q = dataclasses.replace(q, uses=tuple(chain))
            out.append(q)
        return tuple(out)

    def given_value(self, ref: Ref, value: Any, path: str, n_samples: int | None) -> Any:
        arr = self.floats(value, path)
        if ref.kind == "param":
            if ref.name not in self.params:  # the parameter itself is broken (reported at its definition)
                return arr.tolist()
            shape = self.params[ref.name].shape
        elif ref.kind == "W":
            shape = self.W[ref.layer - 1].shape
        elif ref.kind == "b":
            shape = self.b[ref.layer - 1].shape
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
        elif ref.kind == "a":
            if arr.ndim == 0 or arr.shape == (n_samples,) or (n_samples is None and arr.ndim == 1):
                return arr.tolist()
            raise self.fail(path, f"expected a number or a list of {n_samples} (one per sample)")
        else:  # a whole input or target vector
            n = self.sizes[ref.layer]
            if arr.ndim == 1:
                arr = arr[:, None]
            if arr.ndim != 2 or arr.shape[0] != n or (n_samples is not None and arr.shape[1] not in (1, n_samples)):
                raise self.fail(path, f"expected {n} rows (one per neuron) and 1 or {n_samples} columns")
            return arr.tolist()
        if arr.shape != shape and not (arr.ndim == 0 and shape != ()):
            raise self.fail(path, f"expected shape {shape or 'a number'}, got {arr.shape or 'a number'}")
        return arr.tolist()


def _scalar(c: Any, ref: Ref) -> bool:
    return ref.kind in ("E", "a", "z") or (ref.kind == "param" and ref.name in c.params and c.params[ref.name].shape == ())


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
