"""Accepted alternative answers (``accept``): values, other asks under the question's conditions,
transposes; in the schema, through ``grade FILE``, ``grade batch`` (each student's variant) and
the Gradescope bundle."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from lms_autograder import Autograder

from grader import grading, spec
from grader.cli import cli
from grader.errors import SpecError


@pytest.fixture
def matrix_spec(bundled_data, tmp_path):
    data = bundled_data("tutorial-4-matrix")
    for q in data["questions"]:
        if q["id"] == "dW2":
            q["accept"] = [{"transpose": True, "fraction": 0.75, "feedback": "rows are the layer's neurons"}]
        if q["id"] == "E":
            q["accept"] = [{"value": 0.25, "fraction": 0.5}]
    path = tmp_path / "matrix-accept.json"
    path.write_text(json.dumps(data))
    return path


def answers_with(path, student=None, **changes):
    key = grading.answer_key(str(path), student).answers
    key.update(changes)
    return {"answers": key}


def graded(spec_path, answers, tmp_path, *args, env=None):
    a = tmp_path / "answers.json"
    a.write_text(json.dumps(answers))
    res = CliRunner().invoke(cli, [str(a), "-e", str(spec_path), "--format", "json", *args], env=env)
    assert res.exit_code == 0, res.output
    return {t["id"]: t for t in json.loads(res.output)["tests"]}


def test_a_transposed_matrix_and_an_accepted_value_earn_their_fraction(matrix_spec, tmp_path):
    key = grading.answer_key(str(matrix_spec)).answers
    transposed = np.array(key["dW2"]).T.tolist()
    tests = graded(matrix_spec, answers_with(matrix_spec, dW2=transposed, E=0.25), tmp_path)
    assert tests["dW2"]["score"] == pytest.approx(1.5) and tests["dW2"]["status"] == "partial"  # not 1 (2 of 4 entries)
    assert tests["dW2"]["feedback"] == "accepted as the transpose of dE/dW(2): 0.75 of the points. rows are the layer's neurons"
    assert tests["E"]["score"] == pytest.approx(0.5) and "accepted as an accepted value" in tests["E"]["feedback"]
    # the right answer still earns everything; a wrong one nothing more
    tests = graded(matrix_spec, answers_with(matrix_spec, dW2=(np.array(key["dW2"]) * 3).tolist()), tmp_path)
    assert tests["dW2"]["score"] == 0 and tests["E"]["score"] == 1


def test_another_ask_is_computed_under_the_questions_given(bundled_data, tmp_path):
    data = bundled_data("tutorial-4-hidden-layer")
    w2 = next(q for q in data["questions"] if q["id"] == "w2")
    w2["accept"] = [{"ask": "∂E_total/∂w3", "fraction": 0.5, "feedback": "that is the next weight"}]
    path = tmp_path / "hidden.json"
    path.write_text(json.dumps(data))
    # the oracle: the same ask as a question of its own, with the same given, through the ordinary key
    oracle = bundled_data("tutorial-4-hidden-layer")
    oracle["questions"] = [{"id": "alt", "ask": "∂E_total/∂w3", "given": w2["given"]}]
    opath = tmp_path / "oracle.json"
    opath.write_text(json.dumps(oracle))
    alt = grading.answer_key(str(opath)).answers["alt"]
    assert alt != pytest.approx(grading.answer_key(str(path)).answers["w3"])  # the given matters here
    tests = graded(path, answers_with(path, w2=alt), tmp_path)
    assert tests["w2"]["score"] == pytest.approx(1.0) and "accepted as ∂E_total/∂w3" in tests["w2"]["feedback"]


@pytest.mark.parametrize("accept, message", [
    ([{"ask": "dE/dnope"}], "questions[3].accept[0].ask: unknown name 'nope'"),
    ([{"ask": "dw5/dE"}], "questions[3].accept[0].ask: dw5/d…: the numerator must be E"),
    ([{"value": [[1, 2], [3]]}], "questions[3].accept[0].value: the rows of the matrix have different lengths"),
    ([{"fraction": 0.5}], "questions[3].accept[0]"),
    ([{"value": 1, "ask": "E"}], "questions[3].accept[0]"),
    ([{"transpose": True, "fraction": 0}], "questions[3].accept[0].fraction"),
])
def test_bad_accept_entries_are_spec_errors_naming_the_place(bundled_data, accept, message):
    data = bundled_data("tutorial-4-matrix")
    data["questions"][3]["accept"] = accept
    errors = spec.check_spec(data, "ex.json")
    assert errors and any(message in str(e) for e in errors), [str(e) for e in errors]
    with pytest.raises(SpecError):
        spec.compile_spec(data, "ex.json")


def test_accepted_answers_through_batch_on_each_students_variant(matrix_spec, tmp_path, monkeypatch):
    data = json.loads(matrix_spec.read_text())
    assert "variants" in data
    monkeypatch.setenv("GRADER_SECRET", "accept-secret")
    subs = tmp_path / "subs"
    subs.mkdir()
    for student in ("s1", "s2"):
        own = grading.answer_key(str(matrix_spec), student).answers
        (subs / f"{student}.json").write_text(json.dumps(answers_with(matrix_spec, student,
                                                                      dW2=np.array(own["dW2"]).T.tolist())))
    res = CliRunner().invoke(cli, ["batch", str(subs), "-e", str(matrix_spec), "-o", str(tmp_path / "out"), "-j", "1"])
    assert res.exit_code == 0, res.output
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "gradebook.csv").read_text()))}
    assert rows["s1"]["dW2"] == rows["s2"]["dW2"] == "1.5"


def test_accepted_answers_and_overrides_through_the_gradescope_bundle(matrix_spec, tmp_path):
    overrides = tmp_path / "o.csv"
    overrides.write_text("student,question,points,reason\ns7,E,0,answer copied\n")
    box = Autograder(tmp_path, str(matrix_spec), "--overrides", str(overrides))
    key = grading.answer_key(str(matrix_spec)).answers
    answers = answers_with(matrix_spec, dW2=np.array(key["dW2"]).T.tolist())
    data = box.run({"answers.json": json.dumps(answers)}, {"users": [{"sid": "s7", "email": "s7@x"}]})
    tests = {t["name"].split(":")[0]: t for t in data["tests"]}
    assert tests["dW2"]["score"] == pytest.approx(1.5) and "accepted as the transpose" in tests["dW2"]["output"]
    assert tests["E"]["score"] == 0 and "answer copied" in tests["E"]["output"]
    # out of the full maximum: an answers file hands in no code, so the functions score 0
    full = sum(t["max_score"] for t in data["tests"] if t["output"] != "no code handed in")
    assert data["score"] == pytest.approx(full - 0.5 - 1)
