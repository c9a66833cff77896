"""The ``grade`` command through Click's CliRunner, with golden files for the reports.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_cli.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from grader import cli

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
SAMPLE = ROOT / "solutions" / "sample-answers.json"
EXERCISES = ["tutorial-4-matrix", "tutorial-4-output-layer", "tutorial-4-hidden-layer"]


def run(*args: str, **kw):
    return CliRunner().invoke(cli.cli, list(args), catch_exceptions=False, **kw)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; UPDATE_GOLDEN=1 to accept"


@pytest.mark.parametrize("exercise", EXERCISES)
def test_key_text_and_json_golden(exercise):
    text = run("key", exercise)
    assert text.exit_code == 0
    golden(f"key-{exercise}.txt", text.output)
    js = run("key", exercise, "--format", "json")
    assert js.exit_code == 0
    data = json.loads(js.output)
    assert list(data) == ["exercise", "answers"] and data["exercise"] == exercise
    # floats may differ in the last ulp between libms: compare numbers, not bytes
    path = GOLDEN / f"key-{exercise}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(js.output)
    want = json.loads(path.read_text())
    assert list(data["answers"]) == list(want["answers"])
    for qid, value in want["answers"].items():
        np.testing.assert_allclose(data["answers"][qid], value, rtol=1e-12, atol=1e-15, err_msg=qid)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_key_graded_as_answers_scores_full_marks(exercise, tmp_path):
    key = tmp_path / "key.json"
    assert run("key", exercise, "-f", "json", "-o", str(key)).exit_code == 0
    res = run(str(key), "--format", "json")
    data = json.loads(res.output)
    assert res.exit_code == 0
    questions = [t for t in data["tests"] if "/" not in t["id"]]  # function cases are "fn/case"
    assert all(t["status"] == "passed" for t in questions)
    assert data["score"] == sum(t["max_score"] for t in questions) > 0
    # one maximum: an exercise's functions are part of it, and an answers file hands in none
    assert all(t["status"] == "missing" and t["score"] == 0 for t in data["tests"] if "/" in t["id"])
    assert data["max_score"] == pytest.approx(sum(t["max_score"] for t in data["tests"]))


@pytest.mark.parametrize("exercise", EXERCISES)
def test_solutions_folder_is_current(exercise):
    """solutions/ holds the generated keys and a full-marks answers file for each exercise."""
    res = json.loads(run("key", exercise, "-f", "json").output)
    stored = json.loads((ROOT / "solutions" / f"{exercise}.key.json").read_text())
    assert list(res["answers"]) == list(stored["answers"])
    for qid, value in stored["answers"].items():
        np.testing.assert_allclose(res["answers"][qid], value, rtol=1e-12, atol=1e-15, err_msg=qid)
    graded = json.loads(run(str(ROOT / "solutions" / f"{exercise}.answers.json"), "-f", "json").output)
    assert all(t["status"] == "passed" for t in graded["tests"] if "/" not in t["id"])


def test_sample_answers_report_golden():
    res = run(str(SAMPLE))
    assert res.exit_code == 0
    golden("sample-answers.txt", res.output)
    js = run(str(SAMPLE), "--format", "json")
    data = json.loads(js.output)
    assert set(data.pop("extra_data")) == {"exercise_sha256", "grader_version", "variant_seed"}
    golden("sample-answers.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")  # less the audit data
    assert list(data)[:4] == ["exercise", "score", "max_score", "percent"]
    assert {t["status"] for t in data["tests"]} == {"passed", "wrong", "partial", "missing"}
    for t in data["tests"]:
        assert list(t) == ["id", "name", "score", "max_score", "status", "feedback"]  # no expected values


def test_expected_values_only_with_show_expected():
    hidden = run(str(SAMPLE)).output
    shown = run(str(SAMPLE), "--show-expected").output
    assert "expected" not in hidden
    assert "expected [0.1384985616, -0.03809823652]" in shown
    data = json.loads(run(str(SAMPLE), "-f", "json", "--show-expected").output)
    delta2 = next(t for t in data["tests"] if t["id"] == "delta2")
    assert delta2["expected"] == pytest.approx([0.13849856, -0.03809824])


def test_fail_under_exit_status():
    assert run(str(SAMPLE), "--fail-under", "90").exit_code == 1
    assert run(str(SAMPLE), "--fail-under", "40").exit_code == 0  # 12 of 26
    assert run(str(SAMPLE), "--fail-under", "150").exit_code == 2  # bad usage


def test_environment_variables_set_options():
    res = run(str(SAMPLE), env={"GRADER_FORMAT": "json", "GRADER_FAIL_UNDER": "95"})
    assert res.exit_code == 1
    assert json.loads(res.output)["exercise"] == "tutorial-4-matrix"


def test_output_file_written(tmp_path):
    out = tmp_path / "r.json"
    res = run(str(SAMPLE), "-f", "json", "-o", str(out))
    assert res.exit_code == 0 and res.output == ""
    assert json.loads(out.read_text())["max_score"] == 26  # 17 of questions, 9 of functions


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "the file is empty"),
        ("{", "invalid JSON at line 1"),
        ('{"a": 1,}', "invalid JSON"),
        ('{"E": NaN}', "NaN is not a JSON number"),
        ('{"E": Infinity}', "Infinity is not a JSON number"),
        ('{"E": 1e400}', "too large"),
        ('{"E": 1, "E": 2}', "duplicate key 'E'"),
        ("[1, 2]", "(top level): expected an object of answers"),
        ('{"answers": [1]}', "answers: expected an object"),
        ("[" * 100000, "nesting is too deep"),
    ],
)
def test_bad_answers_files_exit_2_with_message(tmp_path, content, message):
    f = tmp_path / "answers.json"
    f.write_text(content)
    res = CliRunner().invoke(cli.cli, [str(f), "-e", "tutorial-4"])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert f"Error: {f}" in res.output and message in res.output
    assert "Traceback" not in res.output


def test_bom_is_accepted(tmp_path):
    f = tmp_path / "a.json"
    f.write_text("\ufeff" + (ROOT / "solutions" / "tutorial-4-matrix.answers.json").read_text(), encoding="utf-8")
    assert json.loads(run(str(f), "-f", "json").output)["score"] == 17  # every question


def test_unknown_question_is_a_warning_with_did_you_mean(tmp_path):
    f = tmp_path / "a.json"
    f.write_text(json.dumps({"exercise": "tutorial-4", "answers": {"delta_2": 1, "E": "0.2984"}}))
    res = run(str(f))
    assert res.exit_code == 0
    assert "unknown question 'delta_2' (did you mean 'delta2'?)" in res.output


def test_bad_values_fail_their_question_only(tmp_path):
    f = tmp_path / "a.json"
    answers = {"E": "zero point three", "y": [0.75, "x"], "z2": [[1.1, 1.2], [1.0]], "dW2": True,
               "delta2": None, "dW1": [1, 2, 3], "W1_new": {"a": 1}, "W2_new": "−0.5", "delta1": "nan"}
    f.write_text(json.dumps({"exercise": "tutorial-4", "answers": answers}))
    data = json.loads(run(str(f), "-f", "json").output)
    status = {t["id"]: (t["status"], t["feedback"]) for t in data["tests"]}
    assert status["E"][0] == "invalid" and "string" in status["E"][1]
    assert status["y"][0] == "invalid"
    assert status["z2"][0] == "invalid" and "different lengths" in status["z2"][1]
    assert status["dW2"][0] == "invalid" and "true/false" in status["dW2"][1]
    assert status["delta2"][0] == "invalid" and "null" in status["delta2"][1]
    assert status["dW1"][0] == "wrong" and "wrong shape" in status["dW1"][1]
    assert status["W1_new"][0] == "invalid"
    assert status["W2_new"][0] == "wrong"  # a Unicode minus parses; the shape is wrong
    assert status["delta1"][0] == "invalid" and "not finite" in status["delta1"][1]
    assert status["E_1000"][0] == "missing"


def test_validate_reports_every_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "x", "network": {"layers": [{"neurons": ["a"]}]}, "questions": [], "lerning_rate": 1}))
    res = CliRunner().invoke(cli.cli, ["validate", "tutorial-4", str(bad)])
    assert res.exit_code == 2
    assert "ok: tutorial-4" in res.output
    assert f"{bad}: lerning_rate: unknown key 'lerning_rate' (did you mean 'learning_rate'?)" in res.output
    assert f"{bad}: network.layers:" in res.output
    assert f"{bad}: questions:" in res.output


def test_validate_all_bundled_ok():
    res = run("validate", *(str(p) for p in sorted((ROOT / "exercises").glob("*.json"))))
    assert res.exit_code == 0 and res.output.count("ok:") == 3


def test_unknown_exercise_is_usage_error():
    res = CliRunner().invoke(cli.cli, ["key", "tutorial-5"])
    assert res.exit_code == 2 and "no exercise 'tutorial-5'" in res.output


def test_every_command_help_has_an_example():
    for name in cli.cli.commands:
        res = run(name, "--help")
        assert res.exit_code == 0 and "Example" in res.output, name


def test_main_returns_exit_status(capsys):
    assert cli.main(["key", "tutorial-4", "-f", "json"]) == 0
    assert cli.main([str(SAMPLE), "--fail-under", "99"]) == 1
    assert cli.main(["key", "nope"]) == 2
    assert "Error: no exercise 'nope'" in capsys.readouterr().err


def test_github_format_appends_the_step_summary(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    res = run(str(SAMPLE), "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code == 0 and res.output.rstrip().endswith("Points 12/26")
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "| delta2: dE/dz(2) | 0/2 | wrong |" in text
    assert "Points" not in text  # the points line is for the log, the table for the summary


def test_an_internal_error_is_one_line_not_a_traceback(monkeypatch):
    from grader import grading

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(grading, "answer_key", broken)
    res = CliRunner().invoke(cli.cli, ["key", "tutorial-4"])
    assert res.exit_code == 2
    assert "Error: internal error, please report it: ZeroDivisionError: a bug" in res.output
    assert "Traceback" not in res.output
    monkeypatch.setenv("GRADER_DEBUG", "1")
    res = CliRunner().invoke(cli.cli, ["key", "tutorial-4"])
    assert isinstance(res.exception, ZeroDivisionError)
    # usage errors of a subcommand still reach Click
    res = CliRunner().invoke(cli.cli, ["key"])
    assert res.exit_code == 2 and "Missing argument 'EXERCISE'" in res.output


def test_validate_reports_network_and_question_problems_in_one_run(tmp_path):
    bad = tmp_path / "multi.json"
    data = json.loads((ROOT / "exercises" / "tutorial-4-matrix.json").read_text("utf-8"))
    data["network"]["parameters"]["w5"]["to"] = "o9"
    data["network"]["layers"][1]["activation"] = "Sigmoid"
    data["questions"] = [{"id": "a", "ask": "dE/dw99"}, {"id": "b", "ask": "E", "given": {"x9": 1}},
                         {"id": "c", "ask": "o1", "sample": 3}]
    bad.write_text(json.dumps(data))
    res = CliRunner().invoke(cli.cli, ["validate", str(bad)])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert [line.split(": ")[2] for line in lines] == [
        "network.layers[1].activation", "network.parameters.w5.to", "questions[0].ask", "questions[1].given.x9",
        "questions[2].sample"]
    assert "(did you mean 'sigmoid'?) (valid: sigmoid, tanh, relu, linear, softmax)" in lines[0]
    assert "the parameters named w… are w5, w6, w7, w8, w9, w10, w11, w12" in lines[2]


def test_distribution_name_is_not_the_taken_pypi_name():
    """PyPI's ``grader`` is another project: this one installs as backprop-grader (README,
    Installing), still imported as ``grader`` with the ``grade`` command."""
    import importlib.metadata

    dist = importlib.metadata.distribution("backprop-grader")
    assert dist.version == __import__("grader").__version__
    assert [e.value for e in dist.entry_points if e.name == "grade"] == ["grader.__main__:main"], \
        "an install older than the entry point (grader.__main__ spawns the sandbox worker first): pip install -e ."


def test_key_markdown_to_a_file_writes_the_training_curves_beside_it(tmp_path):
    out = tmp_path / "solution.md"
    res = CliRunner().invoke(cli.cli, ["key", "tutorial-4-matrix", "--format", "markdown", "-o", str(out)])
    assert res.exit_code == 0, res.output
    curve = tmp_path / "solution-E_1000-curve.svg"  # E after 1000 epochs: the one question with N > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [curve.name, out.name]
    assert f"![E against epoch (question E\\_1000)]({curve.name})" in out.read_text("utf-8")
    assert curve.read_text("utf-8").startswith("<svg ") and "<polyline" in curve.read_text("utf-8")
    stdout = CliRunner().invoke(cli.cli, ["key", "tutorial-4-matrix", "--format", "markdown"])
    assert "curve.svg" not in stdout.output and "**Training curve.**" in stdout.output
