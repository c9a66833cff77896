"""The student sheet's "How to submit": the answers template, the functions' calling convention
and how to check oneself (the rest of the sheet is covered with the worked solutions)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from grader import cli, grading, sheet, spec

EXERCISES = ["tutorial-4-matrix", "tutorial-4-output-layer", "tutorial-4-hidden-layer"]


@pytest.mark.parametrize("name", EXERCISES)
def test_answers_template_from_the_cli_has_every_question_and_null(name, tmp_path):
    out = tmp_path / "answers.json"
    res = CliRunner().invoke(cli.cli, ["sheet", name, "--answers-template", "-o", str(out)])
    assert res.exit_code == 0, res.output
    ex = spec.load_exercise(name)
    data = json.loads(out.read_text("utf-8"))
    assert data == {"exercise": ex.id, "answers": {q.id: None for q in ex.questions}}
    assert list(data["answers"]) == [q.id for q in ex.questions]  # in the sheet's order
    # the grader reads the template as an answers file of this exercise (nothing answered: 0 points)
    results = grading.grade_answers_file(str(out), name)
    assert results.score == 0 and {t.id for t in results.tests} >= {q.id for q in ex.questions}


@pytest.mark.parametrize("name", EXERCISES)
def test_sheet_says_how_to_submit(name):
    ex = spec.load_exercise(name)
    md = sheet.markdown(ex)
    part = md[md.index("## How to submit"):]
    assert sheet.template_json(ex).strip() in part  # the template, verbatim
    assert f"grade sheet {ex.id} --answers-template" in part
    assert f"grade answers.json --exercise {ex.id}" in part
    for f in ex.functions:
        assert f"`def {f.name}({', '.join(f.args)})" in part


def test_calling_convention_with_the_exercises_sizes():
    ex = spec.load_exercise("tutorial-4-matrix")  # 2-2-2, functions sigmoid/forward/backward/train
    md = sheet.markdown(ex)
    assert "| `def forward(x, W1, b1, W2, b2) -> (a1, a2)` | x: (2, S): one column per sample; W1: (2, 2); " \
           "b1: (2, 1): a column; W2: (2, 2); b2: (2, 1): a column; a1 (= o): (2, S); a2 (= y): (2, S) |" in md
    assert "`def train(x, t, W1, b1, W2, b2, lr, epochs) -> (W1, b1, W2, b2)`" in md
    assert 'EXERCISE = "tutorial-4-matrix"' in md


def test_calling_convention_follows_the_sizes_of_another_network():
    data = json.loads((spec.exercises_folder() / "tutorial-4-matrix.json").read_text("utf-8"))
    data["network"]["layers"][1]["neurons"] = ["o1", "o2", "o3"]
    data["network"]["parameters"] = {"W(1)": {"init": {"seed": 1}}, "W(2)": {"init": {"seed": 2}}}
    data["questions"] = [{"id": "E", "ask": "E"}]
    data["functions"] = {"backward": {}}
    ex = spec.compile_spec(data, "three.json")
    md = sheet.markdown(ex)
    assert "W1: (3, 2); b1: (3, 1): a column; W2: (2, 3)" in md and "dW2: (2, 3)" in md
    assert "grade submission.py --exercise tutorial-4-matrix" in md
