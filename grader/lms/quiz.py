"""Quiz export: an exercise's questions as LMS questions with precomputed variants.

Each variant is the exercise with its ``variants`` values drawn from a seed (reproducible:
the same ``--seed`` gives the same variants) and solved by the grader's own solver. A scalar
question becomes one quiz question; a vector or matrix question becomes one quiz question per
entry ("dW2[0][1]"), so every answer is a number an LMS can check. The question text lists the
network, the values (the varied ones as the LMS's variables) and what is asked; the answer is a
variable that carries the precomputed answer of each variant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ..spec import Exercise, Question, Tolerance, compile_spec, find, read_spec
from ..variants import concrete, seed as variant_seed


@dataclass(frozen=True)
class Item:
    """One quiz question: its name, its text (with ``{var}`` placeholders), its points and
    tolerance, and per variant the varied values and the answer."""

    id: str
    name: str
    text: str  # HTML; variables as {name}
    points: float
    tolerance: Tolerance
    answers: tuple[float, ...]  # per variant


@dataclass(frozen=True)
class Quiz:
    exercise: str
    title: str
    seed: int
    variables: tuple[tuple[str, str, float, float, int], ...]  # (variable, spec name, min, max, decimals)
    values: tuple[dict[str, float], ...]  # per variant: variable -> value
    items: tuple[Item, ...]
    answer_variable: str


def _safe(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", name.encode("ascii", "replace").decode())
    base = base if re.match(r"[A-Za-z]", base) else "v_" + base
    out, k = base, 1
    while out in taken:
        k += 1
        out = f"{base}_{k}"
    taken.add(out)
    return out


def _num(x: Any) -> str:
    return format(float(x), ".10g")


def _layers(raw: dict[str, Any]) -> str:
    parts = []
    for layer in raw["network"]["layers"]:
        names = [n if isinstance(n, str) else n["name"] for n in layer["neurons"]]
        act = f" ({layer['activation']})" if layer.get("activation") else ""
        parts.append(", ".join(names) + act)
    return " → ".join(parts)


def _values_html(raw: dict[str, Any], var_of: dict[str, str]) -> str:
    def show(name: str, value: Any) -> str:
        if name in var_of:
            return "{" + var_of[name] + "}"
        if isinstance(value, list):
            return "[" + ", ".join(show("", v) for v in value) + "]"
        return _num(value)

    rows = []
    for section, label in (("inputs", "Inputs"), ("targets", "Targets")):
        vals = raw.get(section, {})
        if vals:
            rows.append(f"{label}: " + ", ".join(f"{k} = {show(k, v)}" if section == "inputs" else
                                                 f"{k}: t = {show(k, v)}" for k, v in vals.items()) + ".")
    params = []
    for name, p in raw["network"].get("parameters", {}).items():
        edge = f" ({p['from']} → {p['to']})" if "from" in p else (
            f" (bias of {', '.join(p['to']) if isinstance(p['to'], list) else p['to']})" if "to" in p else "")
        value = show(name, p["value"]) if "value" in p else f"drawn with seed {p.get('init', {}).get('seed')}"
        params.append(f"{name}{edge} = {value}")
    if params:
        rows.append("Parameters: " + ", ".join(params) + ".")
    return "".join(f"<p>{_escape(r)}</p>" for r in rows)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _conditions(q: Question, lr: float) -> str:
    extra = []
    if q.given:
        extra.append("with " + ", ".join(f"{k} = {_num(v) if np.ndim(v) == 0 else np.asarray(v).tolist()}"
                                         for k, v in q.given))
    if q.after_epochs:
        extra.append(f"after {q.after_epochs} epoch{'s' * (q.after_epochs != 1)} of gradient descent "
                     f"(learning rate {_num(lr)})")
    if q.sample is not None:
        extra.append(f"for sample {q.sample}")
    return (" " + "; ".join(extra)) if extra else ""


def build(exercise: str, n: int, seed: int = 1) -> Quiz:
    """``n`` variants of ``exercise``'s questions, drawn from ``seed``."""
    from ..grading import reference

    if not 1 <= n <= 1000:
        raise UsageError(f"--variants {n}: from 1 to 1000")
    path = find(exercise)
    raw = read_spec(path)
    base = compile_spec(raw, str(path))  # a bad spec fails here, with its messages
    spec_variants = (raw.get("variants") or {}).get("values", {})
    if n > 1 and not spec_variants:
        raise UsageError(f"{path}: the exercise has no variants section, so every variant would be the same: "
                         "use --variants 1, or add variants.values")
    taken: set[str] = set()
    var_of = {name: _safe(name, taken) for name in spec_variants}
    answer_var = _safe("ans", taken)
    datas = [concrete(raw, variant_seed(base.id, f"quiz variant {k}", f"grade export --seed {seed}"), str(path))
             for k in range(n)]
    exs: list[Exercise] = [compile_spec(d, str(path)) for d in datas]
    keys = [reference(e) for e in exs]
    values = []
    for d in datas:
        params = d["network"].get("parameters", {})
        row = {}
        for name, var in var_of.items():
            if name in params:
                row[var] = float(params[name]["value"])
            else:
                row[var] = float(d["inputs"][name] if name in d.get("inputs", {}) else d["targets"][name])
        values.append(row)
    variables = tuple((var, name, float(spec_variants[name]["range"][0]), float(spec_variants[name]["range"][1]),
                       int(spec_variants[name].get("decimals", 2))) for name, var in var_of.items())
    head = (f"<p><b>{_escape(base.title)}</b></p><p>{_escape('Network: ' + _layers(raw))}; loss "
            f"{_escape(str(raw.get('loss', 'half_sse') if isinstance(raw.get('loss'), str) else raw['loss']['name']))}."
            f"</p>{_values_html(raw, var_of)}")
    items = []
    for q in base.questions:
        shape = np.shape(np.squeeze(keys[0][q.id]))
        entries = list(np.ndindex(*shape)) if shape else [()]
        for idx in entries:
            where = "".join(f"[{i}]" for i in idx)
            # not "[0][1]": Canvas reads [name] in a question's text as a variable
            entry = f", entry ({', '.join(map(str, idx))}) counting from 0" if idx else ""
            label = f"<p>{_escape(q.text)}</p>" if q.text else ""
            text = head + label + f"<p>{_escape('Compute ' + q.ask + _conditions(q, base.learning_rate) + entry)}.</p>"
            answers = tuple(float(np.squeeze(k[q.id])[idx]) for k in keys)
            items.append(Item(f"{q.id}{where}", f"{base.id} {q.id}{where}", text,
                              round(q.points / len(entries), 6), q.tolerance, answers))
    return Quiz(base.id, base.title, seed, variables, tuple(values), tuple(items), answer_var)


def tolerance(tol: Tolerance) -> tuple[str, float]:
    """("relative" | "absolute", amount) as an LMS checks a number: relabs uses its rtol (its
    atol when rtol is 0); ``decimal d`` half a unit of the d-th decimal; ``sigfig d`` a relative
    5·10⁻ᵈ, half a unit of the d-th significant figure of a number whose leading digit is 1 (so a
    correctly rounded answer always passes; for larger leading digits it is more lenient)."""
    if tol.mode == "relabs":
        return ("relative", tol.rtol) if tol.rtol > 0 else ("absolute", tol.atol)
    if tol.mode == "decimal":
        return "absolute", 0.5 * 10.0 ** (-tol.digits)
    return "relative", 5 * 10.0 ** (-tol.digits)


def decimals_for(answers: tuple[float, ...], digits: int = 4) -> int:
    """Decimal places that show every answer with at least ``digits`` significant figures."""
    smallest = min((abs(a) for a in answers if a), default=1.0)
    return int(min(12, max(0, digits - 1 - np.floor(np.log10(smallest)))))
