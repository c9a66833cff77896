"""The formula language: parsing with limits, printing, evaluation over variants."""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import formula
from grader.formula import FormulaError


def ev(text: str, **env: float) -> float:
    values = {k: np.array([float(v)]) for k, v in env.items()}
    return float(formula.evaluate(formula.parse(text), values, 1)[0])


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7.0),
    ("(1 + 2) * 3", 9.0),
    ("2 ** 3 ** 2", 512.0),  # right-associative
    ("2 ^ 3", 8.0),
    ("-2 ** 2", -4.0),  # -(2**2), as in Python
    ("8 / 4 / 2", 1.0),
    ("10 - 4 - 3", 3.0),
    ("3 · 2 × 2 − 1", 11.0),
    ("1.5e-1 * 10", 1.5),
    (".5 + 1.", 1.5),
    ("exp(0) + log(1) + tanh(0) + sigmoid(0)", 1.5),
    ("+-+3", -3.0),
])
def test_arithmetic(text: str, expected: float) -> None:
    assert ev(text) == pytest.approx(expected)


def test_names_and_sum_over_samples() -> None:
    env = {"a": np.array([1.0, 2.0]), "s": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])}
    tree = formula.parse("sum(a * s)")
    assert formula.names(tree) == {"a", "s"}
    assert formula.evaluate(tree, env, 2).tolist() == [6.0, 30.0]
    assert formula.evaluate(formula.parse("a * s"), env, 2).shape == (2, 3)
    assert formula.evaluate(formula.parse("3"), env, 2).tolist() == [3.0, 3.0]


def test_sigmoid_is_the_logistic_function() -> None:
    for z in (-3.0, 0.2, 4.0):
        assert ev("sigmoid(z)", z=z) == pytest.approx(1 / (1 + math.exp(-z)))


@pytest.mark.parametrize("text, words", [
    ("1 +", "position 4"),
    ("(y1 - t1", "expected ')'"),
    ("y1 t1", "position 4"),
    ("y1(1 - y1)", "a product is written with *"),
    ("exp", "write exp(...)"),
    ("sum(a, b)", "one argument"),
    ("", "empty"),
    ("1e999", "too large"),
    ("a $ b", "unexpected '$' at position 3"),
])
def test_syntax_errors_name_the_position(text: str, words: str) -> None:
    with pytest.raises(FormulaError, match=None) as info:
        formula.parse(text)
    assert words in str(info.value)


@pytest.mark.parametrize("text, words", [
    ("__import__('os').system('touch /tmp/grader-formula-pwned')", "unexpected"),
    ("().__class__.__bases__", "attributes and subscripts"),
    ("y1.real", "attributes and subscripts"),
    ("o2[0]", "attributes and subscripts"),
    ("eval(1)", "not a function of formulas"),
    ("open('/etc/passwd')", "unexpected"),
    ("lambda: 1", "unexpected ':'"),
    ("(" * 10_000 + "1" + ")" * 10_000, "too long"),
    ("(" * 41 + "1" + ")" * 41, "nested too deeply"),
    ("-" * 41 + "1", "nested too deeply"),
    ("2 ** " * 45 + "2", "nested too deeply"),
    ("x" * 1_000_000, "too long"),
    ("1 + " * 300 + "1", "more than"),
])
def test_hostile_strings_are_refused_before_any_work(text: str, words: str, monkeypatch, tmp_path) -> None:
    def forbidden(*args, **kwargs):  # nothing a formula says may ever reach Python's evaluators
        raise AssertionError("eval/exec/compile called")

    for name in ("eval", "exec", "compile", "__import__"):
        monkeypatch.setattr(builtins, name, forbidden)
    with pytest.raises(FormulaError) as info:
        formula.parse(text)
    monkeypatch.undo()
    assert words in str(info.value)
    assert len(str(info.value)) < 400  # the message quotes a short context, never the whole input


def test_huge_exponents_overflow_to_inf_without_warnings() -> None:
    with np.errstate(all="raise"):  # evaluate() must not let NumPy raise or warn
        assert math.isinf(ev("10 ** 10 ** 10"))
        assert math.isinf(ev("1 / 0"))
        assert math.isnan(ev("log(-1)"))
        assert ev("exp(1000) * 0") != ev("exp(1000) * 0")  # inf * 0 is NaN


@pytest.mark.parametrize("value, expected", [
    ("y1 - t1", True), ("0.5", False), ("−0.5", False), ("8.22e-2", False), (0.5, False),
    (["o1", 0.1], True), ([0.1, "0.2"], False), (["1", ["x"]], True),
])
def test_is_formula(value, expected) -> None:
    assert formula.is_formula(value) is expected


_names = st.sampled_from(["a", "b", "c"])
_leaf = st.one_of(_names.map(formula.Name), st.floats(0.1, 9, allow_nan=False).map(lambda v: formula.Num(round(v, 3))))


def _trees(depth: int = 3):
    if depth == 0:
        return _leaf
    sub = _trees(depth - 1)
    return st.one_of(
        _leaf,
        st.builds(formula.Neg, sub),
        st.builds(formula.Bin, st.sampled_from(["+", "-", "*", "/", "**"]), sub, sub),
        st.builds(formula.Call, st.sampled_from(["exp", "log", "sigmoid", "tanh", "sum"]), sub),
    )


@settings(max_examples=200, deadline=None)
@given(_trees())
def test_printed_formulas_read_back_to_the_same_value(tree) -> None:
    env = {"a": np.array([0.3, 1.7]), "b": np.array([2.1, 0.4]), "c": np.array([0.9, 1.1])}
    text = formula.to_text(tree)
    again = formula.parse(text)
    want, got = formula.evaluate(tree, env, 2), formula.evaluate(again, env, 2)
    assert np.allclose(want, got, equal_nan=True, rtol=1e-12) or (np.isnan(want) == np.isnan(got)).all() and \
        np.allclose(np.nan_to_num(want), np.nan_to_num(got), rtol=1e-9)
    assert formula.to_text(again) == text  # printing is stable


def test_building_simplifies_zeros_and_ones() -> None:
    a, b = formula.Name("a"), formula.Name("b")
    assert formula.mul(a, formula.ZERO, b) == formula.ZERO
    assert formula.to_text(formula.mul(formula.ONE, a, b)) == "a * b"
    assert formula.to_text(formula.add(formula.ZERO, a, formula.Neg(b))) == "a - b"
    assert formula.to_text(formula.sub(formula.ONE, formula.sub(a, b))) == "1 - (a - b)"
