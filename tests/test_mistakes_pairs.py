"""Property: for random networks and a random pair of mistakes, a backward that makes exactly that
pair is diagnosed with that pair, or with a combination that gives the same numbers.

The student's backward here is hand-written NumPy with the mistakes as flags, independent of
:mod:`grader.switches`; an "equivalent" diagnosis is accepted only when this same hand-written
code, making the diagnosed mistakes instead, reproduces the student's numbers on every case.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from grader import mistakes, spec

EXERCISES = Path(__file__).resolve().parents[1] / "exercises"
sig = lambda z: 1.0 / (1.0 + np.exp(-z))

# (id, layer): layer 1 hidden, 2 output, 0 where the mistake has no layer
MISTAKES = [("no_activation_derivative", 2), ("no_activation_derivative", 1), ("sigmoid_derivative_of_z", 2),
            ("sigmoid_derivative_of_z", 1), ("derivative_of_output", 2), ("derivative_of_output", 1),
            ("derivative_twice", 2), ("derivative_twice", 1), ("hidden_delta_from_output_error", 0),
            ("sign_flipped", 0), ("half_dropped", 0), ("mean_over_samples", 0), ("bias_not_summed", 0),
            ("one_sample_only", 0), ("half_doubled", 0), ("updated_weights_backprop", 0)]
EXTRA = [("binary_cross_entropy_gradient", 0), ("cross_entropy_gradient", 0), ("derivative_replaces_error", 1),
         ("derivative_replaces_error", 2), ("activation_for_derivative", 1), ("activation_for_derivative", 2)]
ACT_IDS = {"no_activation_derivative", "sigmoid_derivative_of_z", "derivative_of_output", "derivative_twice",
           "derivative_replaces_error", "activation_for_derivative"}


def f_prime(kind: str | None, a, z, g):
    """δ = g ⊙ f′ taken as the mistake takes it."""
    right = a * (1 - a)
    return {None: g * right, "no_activation_derivative": g, "sigmoid_derivative_of_z": g * z * (1 - z),
            "derivative_of_output": g * sig(a) * (1 - sig(a)), "derivative_twice": g * right * right,
            "derivative_replaces_error": right, "activation_for_derivative": g * a}[kind]


def backward(flags: set, x, t, W1, b1, W2, b2):
    ids = {m for m, _ in flags}
    act = {l: m for m, l in flags if m in ACT_IDS}
    if "one_sample_only" in ids:
        x, t = x[:, :1], t[:, :1]
    z1 = W1 @ x + b1
    o = sig(z1)
    z2 = W2 @ o + b2
    y = sig(z2)
    g = y - t
    if "binary_cross_entropy_gradient" in ids:
        g = (y - t) / (y * (1 - y))
    if "cross_entropy_gradient" in ids:
        g = -t / y
    g = g * (-1 if "sign_flipped" in ids else 1) * (2 if "half_dropped" in ids else 1) \
        * (0.5 if "half_doubled" in ids else 1) / (x.shape[1] if "mean_over_samples" in ids else 1)
    d2 = f_prime(act.get(2), y, z2, g)
    back = g if "hidden_delta_from_output_error" in ids else d2
    if "updated_weights_backprop" in ids:  # W2 moved by η dW2 (the exercise's η) before it is used
        W2 = W2 - 0.5 * d2 @ o.T
    d1 = f_prime(act.get(1), o, z1, W2.T @ back)
    if "bias_not_summed" in ids:
        return d1 @ x.T, d1, d2 @ o.T, d2
    return d1 @ x.T, d1.sum(axis=1, keepdims=True), d2 @ o.T, d2.sum(axis=1, keepdims=True)


def _exercise(seed: int) -> spec.Exercise:
    rng = np.random.default_rng(seed)
    data = json.loads((EXERCISES / "tutorial-4-matrix.json").read_text("utf-8"))
    sizes = [[int(rng.integers(2, 5)), int(rng.integers(2, 6)), int(rng.integers(1, 4))] for _ in range(2)]
    data["functions"] = {"backward": {"sizes": sizes, "samples": [int(rng.integers(2, 6)), int(rng.integers(3, 7))],
                                      "hidden": 2, "seed": seed, "vectorized": False}}
    data["questions"] = data["questions"][:1]
    return spec.compile_spec(data, f"random-{seed}.json")


def _values(fn, flags):
    cases = [c for c in fn.cases if not c.group]
    out = []
    for case in cases:
        with np.errstate(all="ignore"):
            out.append(tuple(np.asarray(r, float) for r in backward(flags, *[np.asarray(v, float) for _, v in case.inputs])))
    return cases, out


def _same(a, b) -> bool:
    return all(x.shape == y.shape and np.allclose(x, y, rtol=1e-6, atol=1e-9) for va, vb in zip(a, b, strict=True)
               for x, y in zip(va, vb, strict=True))


def _reproduces(fn, ids: tuple[str, ...], values) -> bool:
    """Does our own hand-written code, making the diagnosed mistakes (at some layers), give these values?"""
    known = {m for m, _ in MISTAKES + EXTRA}
    if not set(ids) <= known:
        return False
    options = [[(m, 1), (m, 2)] if m in ACT_IDS else [(m, 0)] for m in ids]
    for choice in itertools.product(*options):
        if len({m for m, _ in choice}) < len(choice) and False:
            continue
        _, theirs = _values(fn, set(choice))
        if _same(theirs, values):
            return True
    return False


PAIRS = [(a, b) for a, b in itertools.combinations(MISTAKES, 2)
         if not (a[0] in ACT_IDS and b[0] in ACT_IDS and a[1] == b[1])  # one way of taking f′ per layer
         and {a[0], b[0]} not in ({"half_dropped", "half_doubled"},)]


@pytest.mark.parametrize("seed", range(12))
def test_a_random_pair_is_diagnosed(seed):
    rng = np.random.default_rng(1000 + seed)
    ex = _exercise(seed)
    fn = ex.functions[0]
    for k in rng.choice(len(PAIRS), size=4, replace=False):
        pair = set(PAIRS[k])
        cases, values = _values(fn, pair)
        d = mistakes.diagnose_cases(fn, cases, values)
        want = {m for m, _ in pair}
        assert d is not None, (seed, pair)
        if set(d.ids) == want or any(set(alt) == want for alt in d.alternatives):
            continue
        # an equivalent diagnosis: the same numbers from what it names (fewer parts is simpler)
        assert _reproduces(fn, d.ids, values), (seed, pair, d)


def test_the_hand_written_reference_is_right():
    ex = _exercise(0)
    fn = ex.functions[0]
    from grader import solver
    cases, values = _values(fn, set())
    for case, mine in zip(cases, values, strict=True):
        for m, r in zip(mine, solver.function_outputs(fn, case), strict=True):
            np.testing.assert_allclose(m, r, rtol=1e-9, atol=1e-12)
    assert mistakes.diagnose_cases(fn, cases, values) is None
