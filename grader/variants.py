"""Per-student variants: the same exercise with other values for each student.

A spec's ``variants.values`` names inputs, targets (by output neuron) and scalar parameters, each
with a ``range`` and ``decimals``. The values of a student are drawn from a seed that is an HMAC
of the course secret (``GRADER_SECRET``), the exercise id and the student id — the same student
always gets the same sheet, students get different ones, and nobody can compute another's
without the secret. Values are rounded as the sheet shows them *before* anything is computed,
and the variant is an ordinary concrete spec: its key is the key of that spec.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
from typing import Any

import numpy as np

from .errors import SpecError, UsageError

SECRET_ENV = "GRADER_SECRET"


def secret_from_env() -> str:
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise UsageError(f"per-student variants need a course secret: set {SECRET_ENV} (keep it out of the repository)")
    return secret


def seed(exercise_id: str, student: str, secret: str) -> int:
    """A 63-bit seed for one student's variant of one exercise."""
    digest = hmac.new(secret.encode(), f"{exercise_id}\0{student}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def concrete(data: dict[str, Any], variant_seed: int, source: str = "<spec>") -> dict[str, Any]:
    """The spec ``data`` with its ``variants`` values drawn from ``variant_seed``; no ``variants``.
    ``data`` is not changed; the result shares with it every part that the values do not change
    (a class compiles one copy per student: copying the whole spec was a third of that)."""
    spec_variants = data.get("variants")
    out = {k: v for k, v in data.items() if k != "variants"}
    if not spec_variants:
        return copy.deepcopy(out)
    rng = np.random.default_rng(variant_seed)
    # the sections a value may land in, copied down to the dicts that are written
    for section in ("inputs", "targets"):
        if isinstance(out.get(section), dict):
            out[section] = dict(out[section])
    network = out.get("network")
    if isinstance(network, dict) and isinstance(network.get("parameters"), dict):
        out["network"] = network = dict(network)
        network["parameters"] = {k: dict(v) if isinstance(v, dict) else v for k, v in network["parameters"].items()}
    params = out.get("network", {}).get("parameters", {})
    for name in sorted(spec_variants["values"]):
        rule = spec_variants["values"][name]
        lo, hi = (float(v) for v in rule["range"])
        where = f"{source}: variants.values.{name}"
        if not lo <= hi:
            raise SpecError(f"{where}: range must be [low, high] with low <= high")
        value = round(float(rng.uniform(lo, hi)), int(rule.get("decimals", 2)))
        targets = [section for section in ("inputs", "targets") if name in out.get(section, {})]
        if name in params:
            if not isinstance(params[name].get("value"), (int, float)):
                raise SpecError(f"{where}: only a parameter with one number as its value can vary")
            params[name]["value"] = value
        elif targets:
            if isinstance(out[targets[0]][name], list):
                raise SpecError(f"{where}: only a single-sample input or target can vary")
            out[targets[0]][name] = value
        else:
            raise SpecError(f"{where}: {name!r} is not an input, a target or a parameter with a value")
    return out
