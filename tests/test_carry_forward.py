"""Error carried forward on hand-built answer sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import answer_grade, solver, spec
from grader.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]


def grade(ex, answers):
    key = {q: v[0] for q, v in solver.solve(ex).items()}
    return {t.id: t for t in answer_grade.grade_answers(ex, answers, key).tests}


def key_answers(ex):
    return {q: v for q, v in solver.answer_key(ex).items()}


@pytest.fixture(scope="module")
def out_layer():
    return spec.load_exercise("tutorial-4-output-layer")


def test_chains_are_found_from_the_questions(out_layer):
    uses = {q.id: q.uses for q in out_layer.questions if q.uses}
    assert uses == {"w6": ("w6.1", "w6.2", "w6.3"), "w7": ("w7.1", "w7.2", "w7.3"), "w8": ("w7.1", "w7.2", "w8.3")}
    hidden = spec.load_exercise("tutorial-4-hidden-layer")
    assert {q.id: q.uses for q in hidden.questions if q.uses} == {"w2": ("w2.1", "w2.2", "w2.3")}


def test_wrong_step_costs_once_and_consistent_product_earns_half(out_layer):
    a = key_answers(out_layer)
    a["w6.2"] = 0.25  # the student's ∂y1/∂z3 is wrong
    a["w6"] = a["w6.1"] * a["w6.2"] * a["w6.3"]  # computed correctly from it
    t = grade(out_layer, a)
    assert t["w6.2"].status == "wrong" and t["w6.2"].score == 0
    assert t["w6"].status == "partial" and t["w6"].score == pytest.approx(1.0)  # half of 2 points
    assert "Error carried forward" in t["w6"].feedback and "w6.1 × w6.2 × w6.3" in t["w6"].feedback
    assert t["w6.1"].status == t["w6.3"].status == "passed"


def test_inconsistent_later_answer_earns_nothing(out_layer):
    a = key_answers(out_layer)
    a["w6.2"] = 0.25
    a["w6"] = a["w6.1"] * a["w6.2"] * a["w6.3"] * 1.5
    t = grade(out_layer, a)
    assert t["w6"].status == "wrong" and t["w6"].score == 0


def test_no_carry_forward_when_every_step_is_right(out_layer):
    a = key_answers(out_layer)
    a["w6"] = a["w6"] * 2  # steps right, product wrong: a plain mistake
    t = grade(out_layer, a)
    assert t["w6"].status == "wrong" and t["w6"].score == 0


def test_shared_steps_carry_into_both(out_layer):
    a = key_answers(out_layer)
    a["w7.1"] = 0.2  # wrong sign of (y2 - t2)
    a["w7"] = a["w7.1"] * a["w7.2"] * a["w7.3"]
    a["w8"] = a["w7.1"] * a["w7.2"] * a["w8.3"]
    t = grade(out_layer, a)
    assert t["w7"].status == t["w8"].status == "partial"
    assert t["w7"].score == t["w8"].score == pytest.approx(1.0)


def test_fraction_and_uses_from_the_spec(tmp_path):
    data = json.loads((ROOT / "exercises" / "tutorial-4-output-layer.json").read_text())
    data["carried_forward"] = 0.25
    data["questions"].append({"id": "prod", "ask": "dE/dw6", "uses": ["w6.1", "w6.2", "w6.3"],
                              "points": 4, "carried_forward": 0.75})
    ex = spec.compile_spec(data, "x.json")
    a = key_answers(ex)
    a["w6.3"] = 0.9
    a["w6"] = a["prod"] = a["w6.1"] * a["w6.2"] * a["w6.3"]
    t = grade(ex, a)
    assert t["w6"].score == pytest.approx(0.5)  # 0.25 of 2
    assert t["prod"].score == pytest.approx(3.0)  # 0.75 of 4


def test_uses_must_name_earlier_questions():
    data = json.loads((ROOT / "exercises" / "tutorial-4-output-layer.json").read_text())
    data["questions"][0]["uses"] = ["w6"]
    with pytest.raises(SpecError, match=r"questions\[0\]\.uses\[0\]: 'w6' is not an earlier question"):
        spec.compile_spec(data, "x.json")


def test_a_decomposition_that_does_not_hold_carries_nothing(out_layer):
    data = json.loads((ROOT / "exercises" / "tutorial-4-output-layer.json").read_text())
    data["questions"].append({"id": "bogus", "ask": "dE/dw6", "uses": ["w6.1", "w6.2"]})  # missing ∂z3/∂w6
    ex = spec.compile_spec(data, "x.json")
    a = key_answers(ex)
    a["w6.2"] = 0.25
    a["bogus"] = a["w6.1"] * a["w6.2"]
    assert grade(ex, a)["bogus"].score == 0
