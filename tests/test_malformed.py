"""Malformed specs, answers files and notebooks through the CLI: a message that names the file
and the place, the documented exit status, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli

ROOT = Path(__file__).resolve().parents[1]
SPEC = json.loads((ROOT / "exercises" / "tutorial-4-matrix.json").read_text())


def invoke(*args: str):
    res = CliRunner().invoke(cli.cli, list(args))
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


def spec_with(**changes) -> str:
    data = json.loads(json.dumps(SPEC))
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        last = keys[-1]
        if value is DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return json.dumps(data)


DELETE = object()

SPECS = [
    ("empty", "", "the file is empty"),
    ("trailing comma", '{"id": "x",}', "invalid JSON at line 1"),
    ("NaN literal", '{"id": "x", "learning_rate": NaN}', "NaN is not a JSON number"),
    ("Infinity literal", '{"learning_rate": -Infinity}', "Infinity is not a JSON number"),
    ("1e400", '{"learning_rate": 1e400}', "too large for a float64"),
    ("duplicate key", '{"id": "a", "id": "b"}', "duplicate key 'id'"),
    ("huge integer", '{"learning_rate": ' + "9" * 5000 + "}", "too large"),
    ("deep nesting", "[" * 50000 + "]" * 50000, "nesting is too deep"),
    ("top level list", "[]", "(top level): [] is not of type 'object'"),
    ("unknown key", spec_with(lerning_rate=0.1), "lerning_rate: unknown key 'lerning_rate' (did you mean 'learning_rate'?)"),
    ("wrong type", spec_with(learning_rate="fast"), "learning_rate: 'fast' is not of type 'number'"),
    ("wrong matrix shape", spec_with(network__parameters={"W(1)": {"value": [[1, 2, 3]]}}),
     "network.parameters.W(1).value: expected shape 2 x 2"),
    ("unknown neuron", spec_with(network__parameters__w5={"from": "x1", "to": "o9", "value": 1}),
     "network.parameters.w5.to: no neuron named 'o9'"),
    ("bad ask", spec_with(questions__0__ask="dE/dw99"), "questions[0].ask: unknown name 'w99' (did you mean 'w9'?)"),
    ("given naming nothing", spec_with(questions__0__given={"x9": 1}), "questions[0].given.x9: 'x9' names nothing"),
    ("missing questions", spec_with(questions=DELETE), "(top level): 'questions' is a required property"),
    ("not UTF-8", b"\xff\xfe{}", "not UTF-8"),
]


@pytest.mark.parametrize("name, content, message", SPECS, ids=[s[0] for s in SPECS])
def test_bad_spec(tmp_path, name, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for command in (["key", str(path)], ["validate", str(path)]):
        res = invoke(*command)
        assert res.exit_code == 2, (command, res.output)
        assert f"Error: {path}: " in res.output and message in res.output, res.output


def test_oversize_spec(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"id": "' + "x" * (9 * 1024 * 1024) + '"}')
    res = invoke("key", str(path))
    assert res.exit_code == 2 and "larger than 8 MiB" in res.output


ANSWERS = [
    ("empty", "", "the file is empty"),
    ("BOM and trailing comma", "\ufeff{\"E\": 1,}", "invalid JSON"),
    ("NaN", '{"E": NaN}', "NaN is not a JSON number"),
    ("1e400", '{"answers": {"E": 1e400}}', "too large"),
    ("duplicate", '{"E": 1, "E": 1}', "duplicate key 'E'"),
    ("list", "[0.3]", "(top level): expected an object of answers, got a list"),
    ("answers not an object", '{"exercise": "tutorial-4", "answers": 3}', "answers: expected an object of answers"),
    ("exercise not a string", '{"exercise": 4, "answers": {}}', "exercise: expected a string"),
]


@pytest.mark.parametrize("name, content, message", ANSWERS, ids=[a[0] for a in ANSWERS])
def test_bad_answers_file(tmp_path, name, content, message):
    path = tmp_path / "answers.json"
    path.write_text(content, encoding="utf-8")
    res = invoke(str(path), "-e", "tutorial-4")
    assert res.exit_code == 2 and f"Error: {path}: " in res.output and message in res.output, res.output


NOTEBOOKS = [
    ("not JSON", "{", "not a valid notebook: not JSON"),
    ("top level list", "[]", "not a valid notebook: the top level is not an object"),
    ("no cells", '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a valid notebook"),
    ("empty file", "", "not a valid notebook"),
]


@pytest.mark.parametrize("name, content, message", NOTEBOOKS, ids=[n[0] for n in NOTEBOOKS])
def test_bad_notebook(tmp_path, name, content, message):
    path = tmp_path / "homework.ipynb"
    path.write_text(content)
    res = invoke(str(path))
    assert res.exit_code == 2 and f"Error: {path}" in res.output and message in res.output, res.output


def test_bad_values_inside_a_valid_answers_file_fail_only_their_question(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"E": [[1, 2], [3]], "y": "1,5", "z2": {"a": 1}, "E_1000": 10 ** 30}))
    res = invoke(str(path), "-e", "tutorial-4", "-f", "json")
    assert res.exit_code == 0
    tests = {t["id"]: t for t in json.loads(res.output)["tests"]}
    assert tests["E"]["status"] == tests["y"]["status"] == tests["z2"]["status"] == "invalid"
    assert tests["E_1000"]["status"] == "wrong"


def test_a_spec_whose_answer_is_not_finite(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text(json.dumps({
        "id": "nan", "network": {"layers": [{"neurons": ["x1"]}, {"neurons": ["y1", "y2"], "activation": "relu"}],
                                 "parameters": {"w1": {"from": "x1", "to": "y1", "value": -1},
                                                "w2": {"from": "x1", "to": "y2", "value": 1}}},
        "inputs": {"x1": 1}, "targets": {"y1": 1, "y2": 0}, "loss": "cross_entropy",
        "questions": [{"id": "E", "ask": "E"}]}))  # y1 = relu(-1) = 0: log 0
    answers = tmp_path / "a.json"
    answers.write_text('{"E": 1}')
    for command in (["key", str(path)], ["validate", str(path)], [str(answers), "-e", str(path)]):
        res = invoke(*command)
        assert res.exit_code == 2, command
        assert f"Error: {path}: questions[0]: the answer to 'E' (E) is not a finite number" in res.output
        assert "RuntimeWarning" not in res.output


@pytest.mark.parametrize("args", [
    ["key", "tutorial-4", "-o", "{missing}/k.txt"],
    ["figure", "tutorial-4", "-o", "{missing}/net.svg"],
    ["bundle", "tutorial-4", "--gradescope", "-o", "{missing}/a.zip"],
    ["{sample}", "-o", "{missing}/r.json"],
])
def test_an_output_that_cannot_be_written(tmp_path, args):
    sample = str(ROOT / "solutions" / "sample-answers.json")
    args = [a.format(missing=tmp_path / "no" / "such" / "dir", sample=sample) for a in args]
    res = invoke(*args)
    assert res.exit_code == 2 and "Error: " in res.output and "no/such/dir" in res.output, res.output
