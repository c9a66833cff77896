"""The switches of the solver's own passes against hand-written NumPy that makes the same mistake.

Each oracle below is a student's backward written out with NumPy's own operators (``*`` where
``@`` belongs, an in-place update before the hidden δ), independent of :mod:`grader.switches`:
the switched solver must compute exactly what NumPy computes there, and the search must name it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from grader import mistakes, solver, spec
from grader.switches import Switches, Variant

EXERCISES = Path(__file__).resolve().parents[1] / "exercises"
sig = lambda z: 1.0 / (1.0 + np.exp(-z))


def _exercise(sizes: list[list[int]] | None = None, samples: list[int] | None = None) -> spec.Exercise:
    data = json.loads((EXERCISES / "tutorial-4-matrix.json").read_text("utf-8"))
    if sizes is not None:
        data["functions"] = {"backward": {"sizes": sizes, "samples": samples, "hidden": len(sizes), "seed": 3,
                                          "exercise_case": False, "vectorized": False}}
    return spec.compile_spec(data, "switches.json")


def _backward_fn(ex: spec.Exercise) -> spec.Function:
    return next(f for f in ex.functions if f.name == "backward")


def _forward(x, W1, b1, W2, b2):
    o = sig(W1 @ x + b1)
    return o, sig(W2 @ o + b2)


def elementwise_back(x, t, W1, b1, W2, b2):
    """``W2.T * d2`` for ``W2.T @ d2``; column-vector idioms for the rest (``d * a.T``, a row sum)."""
    o, y = _forward(x, W1, b1, W2, b2)
    d2 = (y - t) * y * (1 - y)
    d1 = (W2.T * d2) * o * (1 - o)
    dW1 = d1 * x.T if x.shape[1] == 1 else d1 @ x.T
    return dW1, d1.sum(axis=1, keepdims=True), d2 @ o.T, d2.sum(axis=1, keepdims=True)


def elementwise_dW2(x, t, W1, b1, W2, b2):
    """``d2 * o`` for ``d2 @ o.T``."""
    o, y = _forward(x, W1, b1, W2, b2)
    d2 = (y - t) * y * (1 - y)
    d1 = (W2.T @ d2) * o * (1 - o)
    return d1 @ x.T, d1.sum(axis=1, keepdims=True), d2 * o, d2.sum(axis=1, keepdims=True)


def elementwise_dW_returned(x, t, W1, b1, W2, b2):
    """``d * a`` for ``d @ a.T`` with one sample: NumPy gives a column, returned as it is."""
    o, y = _forward(x, W1, b1, W2, b2)
    d2 = (y - t) * y * (1 - y)
    d1 = (W2.T @ d2) * o * (1 - o)
    return d1 * x, d1.sum(axis=1, keepdims=True), d2 * o, d2.sum(axis=1, keepdims=True)


def in_place(x, t, W1, b1, W2, b2, lr=0.5):
    """W2 updated in place by η dW2 before the hidden δ is taken through it."""
    o, y = _forward(x, W1, b1, W2, b2)
    d2 = (y - t) * y * (1 - y)
    dW2 = d2 @ o.T
    W2 = W2 - lr * dW2
    d1 = (W2.T @ d2) * o * (1 - o)
    return d1 @ x.T, d1.sum(axis=1, keepdims=True), dW2, d2.sum(axis=1, keepdims=True)


def _switched(fn: spec.Function, case: spec.Case, variant: Variant) -> tuple[np.ndarray, ...]:
    sw = Switches(case.net, [Variant(), variant], lr=fn.learning_rate)
    return tuple(r[..., 1] for r in solver.function_variants(fn, case, sw))


@pytest.mark.parametrize("code, variant, sizes, samples", [
    (elementwise_back, Variant(elementwise=2), None, None),  # 2-2-2, one sample: diag(δ2) W2ᵀ
    (elementwise_back, Variant(elementwise=2), [[3, 3, 3]], [3]),  # square with S = n: same shapes
    (elementwise_dW2, Variant(elementwise_dW=2), [[3, 3, 3]], [3]),
    (in_place, Variant(updated=True), None, None),
    (in_place, Variant(updated=True), [[3, 4, 2]], [5]),
])
def test_the_switch_computes_what_numpy_computes(code, variant, sizes, samples):
    fn = _backward_fn(_exercise(sizes, samples))
    case = fn.cases[0]
    args = [np.asarray(v, float) for _, v in case.inputs]
    mine = code(*args)
    right = solver.function_outputs(fn, case)
    assert any(not np.allclose(m, r) for m, r in zip(mine, right, strict=True))  # the mistake shows
    for m, s in zip(mine, _switched(fn, case, variant), strict=True):
        np.testing.assert_allclose(s, m, rtol=1e-12, atol=1e-14)


def _values(fn, code):
    out = []
    for case in (c for c in fn.cases if not c.group):
        try:
            out.append(tuple(np.asarray(r, float) for r in code(*[np.asarray(v, float) for _, v in case.inputs])))
        except ValueError:  # shapes NumPy cannot broadcast: graded from the shape error
            out.append(None)
    return out


@pytest.mark.parametrize("code, want", [(elementwise_back, "elementwise_product"),
                                        (elementwise_dW_returned, "elementwise_product"),
                                        (in_place, "updated_weights_backprop")])
def test_the_search_names_the_switch_on_the_tutorial_cases(code, want):
    fn = _backward_fn(_exercise())
    cases = [c for c in fn.cases if not c.group]
    values = _values(fn, code)
    d = mistakes.diagnose_cases(fn, cases, values)
    assert d is not None and d.ids == (want,), d
    assert not re.search(r"\d\.\d", d.step)  # the step, never a number
    if code is not in_place:  # the cases it cannot broadcast on raise: the shape-error reading stays
        assert any(v is None for v in values)


def test_the_in_place_update_uses_the_exercises_learning_rate():
    data = json.loads((EXERCISES / "tutorial-4-matrix.json").read_text("utf-8"))
    data["learning_rate"] = 0.1
    ex = spec.compile_spec(data, "lr.json")
    fn = _backward_fn(ex)
    assert fn.learning_rate == 0.1
    cases = [c for c in fn.cases if not c.group]
    found = mistakes.diagnose_cases(fn, cases, _values(fn, lambda *a: in_place(*a, lr=0.1)))
    assert found is not None and found.ids == ("updated_weights_backprop",)
    other = mistakes.diagnose_cases(fn, cases, _values(fn, in_place))  # η = 0.5: not this exercise's
    assert other is None or other.ids != ("updated_weights_backprop",)


def test_a_typed_gradient_through_updated_weights_is_named():
    # the step-by-step tutorial's classic slip: w5..w8 updated first, then used for the hidden gradients
    ex = spec.load_exercise("tutorial-4")
    q = next(q for q in ex.questions if q.id == "dW1")
    x, t = np.asarray(ex.x, float), np.asarray(ex.t, float)
    W1, W2 = (np.asarray(w, float) for w in ex.W)
    b1, b2 = (np.asarray(b, float)[:, None] for b in ex.b)
    dW1 = in_place(x, t, W1, b1, W2, b2, lr=ex.learning_rate)[0]
    d = mistakes.diagnose(ex, q, dW1)
    assert d is not None and "updated_weights_backprop" in d.ids, d


def test_no_elementwise_part_where_numpy_cannot_broadcast():
    from grader.mistakes import catalogue
    net = _backward_fn(_exercise()).cases[1].net  # 3-4-2 with 4 samples
    assert not [p for p in catalogue.parts(net, 4, 0, False, code=True) if p.id == "elementwise_product"]


@pytest.mark.parametrize("code, want", [(elementwise_back, "elementwise_product"),
                                        (in_place, "updated_weights_backprop")])
def test_a_train_built_on_such_a_backward_is_named_too(code, want):
    def train(x, t, W1, b1, W2, b2, lr, epochs):
        for _ in range(int(epochs)):
            dW1, db1, dW2, db2 = code(x, t, W1, b1, W2, b2)
            W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
        return W1, b1, W2, b2
    fn = next(f for f in _exercise().functions if f.name == "train")
    d = mistakes.diagnose_cases(fn, [c for c in fn.cases if not c.group], _values(fn, train))
    assert d is not None and d.ids == (want,), d
