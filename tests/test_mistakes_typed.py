"""Typed answers diagnosed together: one combination for all of a student's wrong numbers, and a
wrong formula diagnosed at all its points in one call.

The student's numbers are hand-written NumPy at the tutorial's values (independent of the solver
and its switches): σ′ of the output taken of z, and the hidden δ from y − t.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader import answer_grade, formula_grade, mistakes, solver, spec

sig = lambda z: 1.0 / (1.0 + np.exp(-z))


@pytest.fixture(scope="module")
def ex() -> spec.Exercise:
    return spec.load_exercise("tutorial-4")


def _two_mistakes(ex: spec.Exercise) -> dict[str, np.ndarray]:
    x, t = np.asarray(ex.x, float), np.asarray(ex.t, float)
    W1, W2 = (np.asarray(w, float) for w in ex.W)
    b1, b2 = (np.asarray(b, float)[:, None] for b in ex.b)
    o = sig(W1 @ x + b1)
    z2 = W2 @ o + b2
    y = sig(z2)
    d2 = (y - t) * z2 * (1 - z2)  # σ′ of z, not of the output
    d1 = (W2.T @ (y - t)) * o * (1 - o)  # y − t back-propagated, not δ2
    return {"delta2": d2, "dW2": d2 @ o.T, "delta1": d1, "dW1": d1 @ x.T}


def _q(ex: spec.Exercise, qid: str) -> spec.Question:
    return next(q for q in ex.questions if q.id == qid)


def test_one_combination_explains_every_wrong_answer(ex):
    answers = _two_mistakes(ex)
    alone = {qid: mistakes.diagnose(ex, _q(ex, qid), v) for qid, v in answers.items()}
    # question by question the two slips read as two unrelated single mistakes
    assert {d.id for d in alone.values()} == {"sigmoid_derivative_of_z", "no_activation_derivative"}
    joint = mistakes.diagnose_answers(ex, answers)
    assert set(joint) == set(answers)
    for d in joint.values():
        assert set(d.ids) == {"sigmoid_derivative_of_z", "hidden_delta_from_output_error"}, d
        assert "2 mistakes together" in d.step


def test_fewer_than_two_or_unexplained_answers_are_left_to_each_question(ex):
    answers = _two_mistakes(ex)
    assert mistakes.diagnose_answers(ex, {"dW1": answers["dW1"]}) == {}
    key = solver.answer_key(ex)
    nonsense = {"dW1": np.asarray(key["dW1"]) * 1.37, "dW2": np.asarray(key["dW2"]) * -2.9}
    assert mistakes.diagnose_answers(ex, nonsense) == {}


def test_graded_answers_carry_the_joint_step(ex):
    answers = {qid: v.tolist() for qid, v in _two_mistakes(ex).items()}
    key = solver.solve(ex)
    key = {qid: v[0] for qid, v in key.items()}
    graded = answer_grade.grade_answers(ex, answers, key, diagnose=mistakes.diagnose,
                                   diagnose_all=mistakes.diagnose_answers)
    by_id = {t.id: t for t in graded.tests}
    for qid in answers:
        assert by_id[qid].status == "wrong"
        assert "2 mistakes together" in by_id[qid].feedback and "pre-activation" in by_id[qid].feedback
    alone = answer_grade.grade_answers(ex, answers, key, diagnose=mistakes.diagnose)
    assert "2 mistakes together" not in {t.id: t for t in alone.tests}["dW1"].feedback
    right = {qid: np.asarray(key[qid]).tolist() for qid in answers}  # right answers: nothing to diagnose
    assert all("Step" not in t.feedback for t in answer_grade.grade_answers(
        ex, right, key, diagnose=mistakes.diagnose, diagnose_all=mistakes.diagnose_answers).tests if t.id in right)


def test_a_formula_is_diagnosed_at_all_its_points_in_one_call():
    calls = []

    def counting(*args, **kw):
        calls.append(kw)
        return mistakes.diagnose(*args, **kw)
    output = spec.load_exercise("tutorial-4-output-layer")
    q = _q(output, "w6")
    value = "(y1 - t1) * o2"  # ∂E/∂w6 with σ′ of the output left out
    out = formula_grade.check(output, q, value, counting)
    assert out.status == "wrong" and out.mistake == "no_activation_derivative", out
    assert len(calls) == 1 and calls[0]["values"].V == formula_grade.DIAGNOSE_POINTS


def test_a_long_training_is_searched_for_single_mistakes_only():
    from grader.mistakes import search

    assert [search.levels(e) for e in (0, 1, search.LONG_TRAINING, search.LONG_TRAINING + 1, 1000)] == [3, 2, 2, 1, 1]
    ex = spec.load_exercise("tutorial-4-matrix")
    q = _q(ex, "E_1000")
    assert q.after_epochs > search.LONG_TRAINING
    key = solver.solve(ex, questions=(q,))[q.id]
    search._CACHE.clear()
    mistakes.diagnose(ex, q, np.asarray(key) * 1.5)  # a number no single mistake gives
    sizes = {k[3] for k in search._CACHE if isinstance(k, tuple) and k[:1] == ("q",) and k[2] == q.id}
    assert sizes == {0}, f"combination sizes searched for {q.id}: {sorted(sizes)}"
