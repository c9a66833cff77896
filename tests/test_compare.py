"""Answers and tolerances: parsing what a student typed, the tolerance modes, partial credit for
matrices, strict answers files, and that no JSON value sent as an answer breaks grading."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import answer_grade, compare, solver, spec
from grader.errors import AnswersError
from grader.results import STATUSES, Results
from grader.spec import Tolerance

BUNDLED = ("tutorial-4-output-layer", "tutorial-4-hidden-layer", "tutorial-4-matrix")


def key_of(ex: spec.Exercise) -> dict[str, np.ndarray]:
    return {qid: v[0] for qid, v in solver.solve(ex).items()}


# ---------------------------------------------------------------------------- parse_value
@pytest.mark.parametrize("value, want", [
    (0.082167041, 0.082167041), (3, 3.0), (-0, 0.0), ("8.22e-2", 0.0822), ("−0.5", -0.5), (" 0.25 ", 0.25),
    ("1E3", 1000.0), ("+4", 4.0), ("–2.5", -2.5), (1e308, 1e308), ("-1e-300", -1e-300),
])
def test_parse_value_numbers_and_numeric_strings(value, want):
    got = compare.parse_value(value)
    assert got.shape == () and got.dtype == np.float64 and float(got) == want


def test_parse_value_nested_lists():
    got = compare.parse_value([[1, "2"], ["−3.5e0", 4.5]])
    assert got.dtype == np.float64 and got.tolist() == [[1.0, 2.0], [-3.5, 4.5]]
    assert compare.parse_value([0.1, 0.2, "0.3"]).tolist() == [0.1, 0.2, 0.3]
    assert compare.parse_value([[[1]], [[2]]]).shape == (2, 1, 1)


@pytest.mark.parametrize("value", [
    True, False, None, {}, {"a": 1}, "NaN", "nan", "inf", "-Infinity", "infinity", "1e400", "abc", "", "0x10", "1,5",
    [], [[]], [[], []], [[1], [1, 2]], [1, [2]], [[1, 2], 3], [1, None], [True, 1.0], [{"a": 1}], [[[[[[[[[[1]]]]]]]]]],
    10**400, float("nan"), float("inf"), [1, float("-inf")], "1" * 200,
])
def test_parse_value_rejects(value):
    with pytest.raises(ValueError) as info:
        compare.parse_value(value)
    assert str(info.value)


# ---------------------------------------------------------------------------- tolerance modes
def passes(got: float, expected: float, tol: Tolerance) -> bool:
    return bool(compare.within(np.array(got), np.array(expected), tol))


def test_relabs_default_is_one_percent():
    tol = Tolerance()
    e = 0.082167041
    assert passes(e, e, tol) and passes(0.0822, e, tol) and passes(0.082, e, tol)
    assert passes(e * 1.0099, e, tol) and passes(e * 0.9901, e, tol)
    assert not passes(e * 1.0101, e, tol) and not passes(e * 0.9899, e, tol)
    assert not passes(-e, e, tol)
    assert passes(5e-9, 0.0, tol) and not passes(2e-8, 0.0, tol)  # atol 1e-8 around zero
    tight = Tolerance("relabs", rtol=1e-6, atol=1e-9)
    assert passes(e * (1 + 9e-7), e, tight) and not passes(e * (1 + 2e-6), e, tight)


@pytest.mark.parametrize("e, digits, good, bad", [
    # expected, significant figures, rounded and truncated answers, answers one digit off
    (0.082167041, 3, ["0.0822", "0.0821", "0.08217"], ["0.0820", "0.0824", "0.0812", "0.0922"]),
    (0.08276, 3, ["0.0828", "0.0827"], ["0.0829", "0.0826", "0.0838"]),
    (1234.5678, 4, ["1235", "1234", "1234.6"], ["1236", "1233", "1244"]),
    (-0.5678, 2, ["-0.57", "−0.56"], ["-0.58", "-0.55", "0.57"]),
    (6.02214e23, 3, ["6.02e23", "6.0221e23"], ["6.01e23", "6.04e23"]),
    (0.00027070458789, 2, ["0.00027", "2.7e-4"], ["0.00026", "0.00029"]),
])
def test_sigfig_accepts_rounded_and_truncated(e, digits, good, bad):
    tol = Tolerance("sigfig", digits=digits)
    for g in good:
        assert passes(compare.parse_value(g), e, tol), g
    for b in bad:
        assert not passes(compare.parse_value(b), e, tol), b


@pytest.mark.parametrize("e, digits, good, bad", [
    (0.08276, 3, ["0.083", "0.082"], ["0.084", "0.081", "0.08"]),
    (0.082167041, 4, ["0.0822", "0.0821"], ["0.0820", "0.0824"]),
    (-12.3456, 1, ["-12.3", "-12.35"], ["-12.2", "-12.5", "12.3", "−12.4"]),
    (0.0004, 3, ["0.000", "0.0004"], ["0.002", "-0.001", "0.001"]),
])
def test_decimal_accepts_rounded_and_truncated(e, digits, good, bad):
    tol = Tolerance("decimal", digits=digits)
    for g in good:
        assert passes(compare.parse_value(g), e, tol), g
    for b in bad:
        assert not passes(compare.parse_value(b), e, tol), b


def small_exercise(tolerance: dict | None = None, questions: list | None = None) -> spec.Exercise:
    data = {
        "id": "small",
        "network": {"layers": [
            {"neurons": ["x1", "x2"]},
            {"neurons": ["y1", "y2"], "weights": "W", "bias": "b", "output": "y"},
        ], "parameters": {"W": {"value": [[0.1, 0.2], [0.3, 0.4]]}, "b": {"value": [0.5, -0.5]}}},
        "inputs": {"x1": 0.5, "x2": -1.0},
        "targets": {"y1": 0.1, "y2": 0.9},
        "questions": questions or [
            {"id": "E", "ask": "E"}, {"id": "dW", "ask": "dE/dW", "points": 2}, {"id": "db", "ask": "dE/db"},
            {"id": "y1", "ask": "y1", "tolerance": {"mode": "decimal", "digits": 2}},
        ],
    }
    if tolerance:
        data["tolerance"] = tolerance
    return spec.compile_spec(data, "small.json")


def test_tolerance_per_question_else_per_exercise_else_default():
    ex = small_exercise({"mode": "sigfig", "digits": 2})
    key = key_of(ex)
    e = float(key["E"])
    rounded2 = float(f"{e:.2g}")
    res = answer_grade.grade_answers(ex, {"E": rounded2, "y1": round(float(key["y1"]), 2)}, key)
    status = {t.id: t.status for t in res.tests}
    assert status["E"] == "passed" and status["y1"] == "passed"
    # two figures pass under the exercise's sigfig 2, not under the default relative 1e-2
    plain = small_exercise()
    off = e * 1.02
    assert answer_grade.grade_answers(plain, {"E": off}, key_of(plain)).tests[0].status == "wrong"
    assert answer_grade.grade_answers(ex, {"E": float(f"{e:.3g}")}, key).tests[0].status == "passed"


# ---------------------------------------------------------------------------- matrices
def test_matrix_question_earns_the_fraction_of_entries():
    ex = small_exercise()
    key = key_of(ex)
    dW = key["dW"].tolist()
    three = [[dW[0][0], dW[0][1]], [dW[1][0], dW[1][1] * 1.5 + 1]]
    res = answer_grade.grade_answers(ex, {"dW": three}, key)
    t = {t.id: t for t in res.tests}["dW"]
    assert (t.status, t.score, t.max_score) == ("partial", 1.5, 2.0)
    assert "3 of 4" in t.feedback and "[1][1]" in t.feedback
    assert repr(dW[1][1])[:6] not in t.feedback  # feedback names the entry, never the expected number
    half = [[dW[0][0], 9.0], [9.0, dW[1][1]]]
    assert {t.id: t for t in answer_grade.grade_answers(ex, {"dW": half}, key).tests}["dW"].score == 1.0
    wrong = [[9.0, 9.0], [9.0, 9.0]]
    t = {t.id: t for t in answer_grade.grade_answers(ex, {"dW": wrong}, key).tests}["dW"]
    assert (t.status, t.score) == ("wrong", 0.0)
    t = {t.id: t for t in answer_grade.grade_answers(ex, {"dW": dW[0]}, key).tests}["dW"]
    assert (t.status, t.score) == ("wrong", 0.0) and "shape" in t.feedback
    # a bias vector may be written as a column: singleton axes are squeezed
    col = [[v] for v in key["db"].tolist()]
    assert {t.id: t for t in answer_grade.grade_answers(ex, {"db": col}, key).tests}["db"].status == "passed"


def test_statuses_and_warnings():
    ex = small_exercise()
    key = key_of(ex)
    res = answer_grade.grade_answers(ex, {"E": "not a number", "dWW": 1, "y1": [float(key["y1"])]}, key)
    t = {t.id: t for t in res.tests}
    assert t["E"].status == "invalid" and t["dW"].status == "missing" and t["db"].status == "missing"
    assert t["y1"].status == "passed"  # [y1] squeezes to y1
    assert any("'dWW'" in w and "did you mean 'dW'" in w for w in res.warnings)
    assert res.score == 1.0 and res.max_score == 5.0


# ---------------------------------------------------------------------------- answers files
@pytest.mark.parametrize("name, content, needle", [
    ("broken.json", '{"E": 0.29', "invalid JSON"),
    ("dup.json", '{"E": 0.29, "E": 0.3}', "duplicate key 'E'"),
    ("nan.json", '{"E": NaN}', "NaN"),
    ("inf.json", '{"E": Infinity}', "Infinity"),
    ("minf.json", '{"answers": {"E": -Infinity}}', "Infinity"),
    ("big.json", '{"E": 1e400}', "too large"),
    ("list.json", "[0.29, 0.3]", "(top level)"),
    ("string.json", '"0.29"', "(top level)"),
    ("inner.json", '{"exercise": "tutorial-4", "answers": [1, 2]}', "answers"),
    ("exid.json", '{"exercise": 4, "answers": {}}', "exercise"),
    ("empty.json", "", "empty"),
    ("latin1.json", b'{"E": "\xe9"}', "UTF-8"),
])
def test_read_answers_rejects_bad_files(name, content, needle, write_file):
    path = write_file(name, content)
    with pytest.raises(AnswersError) as info:
        compare.read_answers(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and needle in message, message


def test_read_answers_missing_file(tmp_path):
    with pytest.raises(AnswersError) as info:
        compare.read_answers(tmp_path / "nope.json")
    assert str(info.value).startswith(str(tmp_path / "nope.json"))


def test_read_answers_both_shapes(write_file):
    answers, ex = compare.read_answers(write_file("a.json", '{"exercise": "tutorial-4", "answers": {"E": "0.29"}}'))
    assert (answers, ex) == ({"E": "0.29"}, "tutorial-4")
    answers, ex = compare.read_answers(write_file("b.json", '\ufeff{"E": 0.29, "answers": 1}'))
    assert (answers, ex) == ({"E": 0.29, "answers": 1}, None)  # a bare object may have a question named "answers"


@pytest.mark.parametrize("name", BUNDLED)
def test_the_key_graded_as_answers_scores_full_marks(name, write_file):
    ex = spec.load_exercise(name)
    key = key_of(ex)
    text = json.dumps({"exercise": ex.id, "answers": solver.answer_key(ex)})
    answers, named = compare.read_answers(write_file("key.json", text))
    assert named == ex.id
    res = answer_grade.grade_answers(ex, answers, key)
    assert res.score == res.max_score > 0 and all(t.status == "passed" for t in res.tests)
    assert not res.warnings
    # the same numbers as strings, with a Unicode minus
    as_text = {qid: json.loads(json.dumps(v), parse_float=lambda s: s.replace("-", "−")) for qid, v in answers.items()}
    res = answer_grade.grade_answers(ex, as_text, key)
    assert res.score == res.max_score, [t.feedback for t in res.tests if t.status != "passed"]


def test_the_key_scores_full_marks_on_random_exercises():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        data = oracle.random_network(rng)
        o = oracle.Oracle(data)
        data["questions"] = [{"id": f"q{k}", "ask": n} for k, n in enumerate(o.names)]
        data["questions"] += [{"id": f"d{k}", "ask": f"dE/d{n}", "after_epochs": k % 3} for k, n in enumerate(o.names)]
        ex = spec.compile_spec(data, "random.json")
        answers = json.loads(json.dumps(solver.answer_key(ex)))
        res = answer_grade.grade_answers(ex, answers, key_of(ex))
        assert res.score == res.max_score, (seed, [t.name for t in res.tests if t.status != "passed"])


# ---------------------------------------------------------------------------- property tests
EX = spec.load_exercise("tutorial-4-matrix")
KEY = key_of(EX)
IDS = [q.id for q in EX.questions]


def check_results(res: Results) -> None:
    assert isinstance(res, Results)
    assert 0.0 <= res.score <= res.max_score == EX.max_score
    assert [t.id for t in res.tests] == IDS
    for t in res.tests:
        assert t.status in STATUSES and 0.0 <= t.score <= t.max_score
        assert math.isfinite(t.score)
        if t.got is not None:
            json.dumps(t.got, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(oracle.json_values())
def test_any_json_document_as_answers(value):
    try:
        answers, _ = compare.answers_object(value, "fuzz.json")
    except AnswersError as exc:
        assert str(exc).startswith("fuzz.json: ")
        return
    check_results(answer_grade.grade_answers(EX, answers, KEY))


VALUES = st.one_of(
    oracle.json_values(),
    st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8), max_size=3), max_size=3),
    st.floats(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["−0.5", "1e400", "NaN", [[0.1, 0.2], [0.3]], [[1e308, -1e308], [1e308, 1]], [[[1]]], "8.22e-2"]),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(IDS) | st.text(max_size=6), VALUES, max_size=len(IDS) + 2))
def test_any_json_value_as_an_answer(answers):
    check_results(answer_grade.grade_answers(EX, answers, KEY))


@pytest.mark.parametrize("mode, digits, exp, good, bad", [
    ("sigfig", 3, 0.082167041, ["0.0822", "0.0821", "0.08217", "8.22e-2"], ["0.0823", "0.0820", "0.082"]),
    ("sigfig", 3, 6.02214e23, ["6.02e23", "6.022e23"], ["6.03e23", "6.01e23"]),
    ("decimal", 3, 0.082167, ["0.082", "0.0822"], ["0.083", "0.081"]),
    ("sigfig", 2, -0.5468, ["-0.55", "-0.54", "−0.547"], ["-0.56", "0.55", "-0.53"]),
])
def test_rounded_or_truncated_not_rounded_up(mode, digits, exp, good, bad):
    tol = Tolerance(mode, digits=digits)
    for g in good:
        assert compare.within(compare.parse_value(g), np.float64(exp), tol), g
    for b in bad:
        assert not compare.within(compare.parse_value(b), np.float64(exp), tol), b


@pytest.mark.parametrize("text", ["1 2", "1_000", "0.5 5", "--1"])
def test_number_strings_are_strict(text):
    with pytest.raises(ValueError):
        compare.parse_number(text)


# ---------------------------------------------------------------------------- all cases in one pass
_SHAPES = st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1, max_size=3),
                   min_size=1, max_size=4)
_ENTRY = st.one_of(st.floats(-2.0, 2.0), st.sampled_from([0.0, 1e-9, -1e-9, 1e-7, math.nan, math.inf, -math.inf,
                                                          1e308, -1e308]))


@settings(max_examples=300, deadline=None)
@given(shapes=_SHAPES, data=st.data())
def test_all_within_is_check_outputs_scoring_one(shapes, data):
    """One pass over every case says a case is right exactly when check_outputs, case by case,
    scores it 1 with no feedback: near misses at the tolerance's edge, NaN, infinities, a wrong
    shape, a transposed return, a missing or extra return, a call with no values."""
    tol = spec.Tolerance("relabs", spec.CODE_RTOL, spec.CODE_ATOL)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    cases = [tuple(rng.normal(size=s) * 10.0 ** rng.integers(-3, 3) * (rng.random(s) < 0.7) for s in case)
             for case in shapes]  # with exact zeros, where the bound is atol alone
    layout = compare.expected_layout(cases, tol)
    values = []
    for exp in cases:
        how = data.draw(st.sampled_from(["same", "edge", "atol", "entry", "shape", "count", "none", "int"]))
        vals = [e.copy() for e in exp]
        if how == "atol":  # exactly at the bound: |atol − 0| <= atol passes, a little more does not
            for v in vals:
                v[v == 0] = data.draw(st.sampled_from([tol.atol, -tol.atol, 1.5 * tol.atol]))
        elif how == "edge":  # just inside or just outside |got − exp| <= atol + rtol |exp|
            k = rng.integers(len(vals))
            if vals[k].size:
                bound = tol.atol + tol.rtol * np.abs(vals[k])
                vals[k] = vals[k] + bound * data.draw(st.sampled_from([0.999999, 1.0, 1.000001, -1.0, -1.000001]))
        elif how == "entry":
            k = rng.integers(len(vals))
            if vals[k].size:
                vals[k].flat[rng.integers(vals[k].size)] = data.draw(_ENTRY)
        elif how == "shape":
            k = rng.integers(len(vals))
            vals[k] = vals[k].T if vals[k].ndim == 2 and vals[k].shape[0] != vals[k].shape[1] else vals[k][..., None]
        elif how == "count":
            vals = vals[:-1] if len(vals) > 1 and data.draw(st.booleans()) else vals + [vals[0]]
        elif how == "int":
            vals = [np.rint(v).astype(int) for v in vals]
        values.append(None if how == "none" else tuple(vals))
    fn = spec.Function("f", ("x",), tuple(f"r{i}" for i in range(3)), tuple(f"r{i}" for i in range(3)), 1.0, (),
                       False, 0.0, None, False, "visible", "")
    with np.errstate(all="ignore"):
        want = []
        for exp, vals in zip(cases, values, strict=True):
            f = dataclasses.replace(fn, returns=fn.returns[:len(exp)], labels=fn.labels[:len(exp)])
            want.append(vals is not None and compare.check_outputs(f, None, vals, exp, tol, False) == (1.0, ""))
        assert compare.all_within(layout, values) == want


def test_expected_layout_only_for_finite_relabs():
    finite = [(np.ones((2, 1)),)]
    assert compare.expected_layout(finite, spec.Tolerance("sigfig", digits=3)) is None
    assert compare.expected_layout([(np.array([1.0, np.inf]),)], spec.Tolerance("relabs", 1e-6, 1e-9)) is None
    assert compare.expected_layout(finite, spec.Tolerance("relabs", 1e-6, 1e-9)) is not None


def test_layouts_that_share_cases_are_laid_out_as_fresh_ones():
    """A student's variant lays out its own cases beside the random cases every student shares
    (the same tuples, laid out once): each layout is that of fresh copies, for its tolerance."""
    rng = np.random.default_rng(2)
    shared = (rng.normal(size=(3, 4)), rng.normal(size=(2, 1)))
    tight, loose = spec.Tolerance("relabs", 1e-6, 1e-9), spec.Tolerance("relabs", 1e-2, 1e-8)
    for k in range(3):
        own = (rng.normal(size=(2, 2)) + k,)
        for tol in (tight, loose):
            got = compare.expected_layout([own, shared], tol)
            fresh = compare.expected_layout([tuple(e.copy() for e in own), tuple(e.copy() for e in shared)], tol)
            assert got.shapes == fresh.shapes and np.array_equal(got.starts, fresh.starts)
            assert np.array_equal(got.flat, fresh.flat) and np.array_equal(got.bound, fresh.bound)
            want = np.concatenate([e.ravel() for e in (*own, *shared)])
            assert np.array_equal(got.bound, tol.atol + tol.rtol * np.abs(want))
