"""The spec loader: DESIGN.md's example compiles field by field; every error names the file, the
JSON path and, for a bad name, both places; spellings; ``init``; and property tests that nothing
but a SpecError (or, for text, a StrictJSONError) ever escapes."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import numpy as np
import oracle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import jsonio, solver, spec
from grader.errors import SpecError

# DESIGN.md "Exercise spec", verbatim.
DESIGN_EXAMPLE = r"""
{
  "id": "tutorial-4-matrix",
  "title": "Gradients of a 2-2-2 sigmoid network in matrix form",
  "network": {
    "layers": [
      {"neurons": ["x1", "x2"]},
      {"neurons": [{"name": "o1", "net": "z3"}, {"name": "o2", "net": "z4"}],
       "activation": "sigmoid", "weights": "W(1)", "bias": "b(1)", "net": "z(1)", "output": "o"},
      {"neurons": [{"name": "y1", "net": "z5"}, {"name": "y2", "net": "z6"}],
       "activation": "sigmoid", "weights": "W(2)", "bias": "b(2)", "net": "z(2)", "output": "y"}
    ],
    "parameters": {
      "w5":  {"from": "x1", "to": "o1", "value": 0.15},
      "w6":  {"from": "x2", "to": "o1", "value": 0.20},
      "w7":  {"from": "x1", "to": "o2", "value": 0.25},
      "w8":  {"from": "x2", "to": "o2", "value": 0.30},
      "w9":  {"from": "o1", "to": "y1", "value": 0.40},
      "w10": {"from": "o2", "to": "y1", "value": 0.45},
      "w11": {"from": "o1", "to": "y2", "value": 0.50},
      "w12": {"from": "o2", "to": "y2", "value": 0.55},
      "b1": {"to": "o1", "value": 0.35}, "b2": {"to": "o2", "value": 0.35},
      "b3": {"to": "y1", "value": 0.60}, "b4": {"to": "y2", "value": 0.60}
    }
  },
  "inputs":  {"x1": 0.05, "x2": 0.10},
  "targets": {"y1": 0.01, "y2": 0.99},
  "loss": "half_sse",
  "learning_rate": 0.5,
  "questions": [
    {"id": "a", "ask": "dE/dy1", "points": 1},
    {"id": "b", "ask": "∂E/∂w10", "points": 2},
    {"id": "c", "ask": "dE/dw6", "given": {"x2": 0.3}, "points": 2},
    {"id": "d", "ask": "w9", "after_epochs": 1},
    {"id": "e", "ask": "E", "after_epochs": 1000, "tolerance": {"rtol": 1e-4}},
    {"id": "f", "ask": "dE/dW(2)"},
    {"id": "g", "ask": "dE/dz(1)"}
  ]
}
"""


def example() -> dict[str, Any]:
    return jsonio.loads(DESIGN_EXAMPLE)


def compile_(data: Any, source: str = "ex.json") -> spec.Exercise:
    return spec.compile_spec(data, source)


def error(data: Any, path: str, *needles: str, source: str = "ex.json") -> str:
    """Compile, expect a SpecError at ``path`` whose message contains every needle."""
    with pytest.raises(SpecError) as info:
        compile_(data, source)
    message = str(info.value)
    assert message.startswith(f"{source}: {path}: "), message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


# ---------------------------------------------------------------------------- the example
def test_design_example_compiles_every_field():
    ex = compile_(example())
    assert (ex.id, ex.title, ex.path) == ("tutorial-4-matrix", "Gradients of a 2-2-2 sigmoid network in matrix form", "ex.json")
    assert ex.net.sizes == (2, 2, 2) and ex.net.activations == ("sigmoid", "sigmoid")
    assert (ex.net.loss, ex.net.reduction, ex.learning_rate, ex.mode) == ("half_sse", "sum", 0.5, "batch")
    assert ex.neurons == (("x1", "x2"), ("o1", "o2"), ("y1", "y2")) and ex.nets[1:] == (("z3", "z4"), ("z5", "z6"))
    np.testing.assert_array_equal(ex.W[0], [[0.15, 0.20], [0.25, 0.30]])  # rows = the layer's neurons
    np.testing.assert_array_equal(ex.W[1], [[0.40, 0.45], [0.50, 0.55]])
    np.testing.assert_array_equal(ex.b[0], [0.35, 0.35])
    np.testing.assert_array_equal(ex.b[1], [0.60, 0.60])
    np.testing.assert_array_equal(ex.x, [[0.05], [0.10]])
    np.testing.assert_array_equal(ex.t, [[0.01], [0.99]])
    assert not ex.has_samples and ex.n_samples == 1
    kinds = {n: (r.kind, r.layer) for n, r in ex.names.items()}
    assert kinds["W(1)"] == ("W", 1) and kinds["b(2)"] == ("b", 2) and kinds["z(1)"] == ("Z", 1)
    assert kinds["o"] == ("A", 1) and kinds["y"] == ("A", 2) and kinds["z5"] == ("z", 2) and kinds["w10"] == ("param", 0)
    assert ex.parameters["w10"].uses == (("W", 2, (0, 1)),) and not ex.parameters["w10"].fixed
    q = {q.id: q for q in ex.questions}
    assert [q.id for q in ex.questions] == list("abcdefg")
    assert (q["a"].quantity.a.kind, q["a"].quantity.b.name) == ("E", "y1")
    assert (q["b"].quantity.b.name, q["b"].points, q["b"].ask) == ("w10", 2.0, "∂E/∂w10")
    assert q["c"].given == (("x2", 0.3),) and q["c"].points == 2.0
    assert q["d"].after_epochs == 1 and q["d"].quantity.a is None and q["d"].quantity.b.name == "w9"
    assert q["e"].after_epochs == 1000 and q["e"].tolerance.rtol == 1e-4
    assert q["a"].tolerance == spec.Tolerance() and q["a"].tolerance.rtol == 1e-2  # the default for typed numbers
    assert q["f"].quantity.b.kind == "W" and q["g"].quantity.b.kind == "Z"
    assert ex.max_score == 9.0  # 1 + 2 + 2 + 1 + 1 + 1 + 1
    key = solver.answer_key(ex)
    assert np.shape(key["f"]) == (2, 2) and np.shape(key["g"]) == (2,) and isinstance(key["e"], float)


def rich_spec() -> dict[str, Any]:
    """Every other field: counted neurons with a prefix, whole matrices (value, init, column bias),
    tied and fixed parameters, lists of samples, the loss object, training, tolerances, sample…"""
    return {
        "$schema": "https://example.invalid/grader/exercise.schema.json",
        "id": "rich-1",
        "aliases": ["rich"],
        "title": "Rich",
        "description": "every field",
        "network": {
            "layers": [
                {"neurons": 3, "prefix": "in", "output": "X"},
                {"neurons": 4, "activation": "tanh", "weights": "W1", "bias": "b1", "net": "Z1", "output": "h"},
                {"neurons": [{"name": "y1", "net": "s1"}, "y2"], "activation": "softmax", "weights": "W2", "bias": "b2"},
            ],
            "parameters": {
                "W1": {"init": {"seed": 3, "scale": 0.5, "distribution": "uniform"}},
                "b1": {"value": [[0.1], [0.2], [0.3], [0.4]], "fixed": True},
                "W2": {"value": 0.25},
                "c": {"to": ["y1", "y2"], "value": -0.1},
            },
        },
        "inputs": {"X": [[1, 2], [3, 4], [5, 6]]},
        "targets": {"y1": [1, 0], "y2": [0, 1]},
        "loss": {"name": "cross_entropy", "reduction": "mean"},
        "learning_rate": 0.1,
        "training": {"mode": "online"},
        "tolerance": {"mode": "sigfig", "digits": 4},
        "questions": [
            {"id": "q1", "ask": "dE/dW1", "text": "δ xᵀ", "points": 3, "reveal": True, "feedback": "check δ"},
            {"id": "q2", "ask": "y1", "sample": 1, "tolerance": {"mode": "decimal", "digits": 2}},
            {"id": "q3", "ask": "E", "after_epochs": 0, "given": {"c": 0.5, "in1": [0, 1], "W2": [[1, 1, 1, 1], [2, 2, 2, 2]]}},
            {"id": "q4", "ask": "dy2/dh", "tolerance": {"atol": 1e-3}},
        ],
    }


def test_every_other_field_compiles():
    ex = compile_(rich_spec())
    assert ex.aliases == ("rich",) and ex.description == "every field"
    assert ex.neurons[0] == ("in1", "in2", "in3") and ex.neurons[1] == ("h1", "h2", "h3", "h4")  # prefix, else output name
    assert ex.nets[1] == ("net_h1", "net_h2", "net_h3", "net_h4") and ex.nets[2] == ("s1", "net_y2")
    assert ex.net.activations == ("tanh", "softmax") and (ex.net.loss, ex.net.reduction) == ("cross_entropy", "mean")
    assert ex.mode == "online" and ex.learning_rate == 0.1 and ex.has_samples and ex.n_samples == 2
    np.testing.assert_array_equal(ex.x, [[1, 2], [3, 4], [5, 6]])
    assert ex.W[0].shape == (4, 3) and np.abs(ex.W[0]).max() <= 0.5 and len(np.unique(ex.W[0])) == 12
    np.testing.assert_array_equal(ex.b[0], [0.1, 0.2, 0.3, 0.4])  # a column is the same vector
    np.testing.assert_array_equal(ex.W[1], np.full((2, 4), 0.25))  # a scalar fills the matrix
    assert not ex.net.b_train[0].any() and ex.net.W_train[0].all() and ex.net.ties == ((("b", 2, (0,)), ("b", 2, (1,))),)
    q = {q.id: q for q in ex.questions}
    assert q["q1"].reveal and q["q1"].feedback == "check δ" and q["q1"].text == "δ xᵀ" and q["q1"].points == 3
    assert q["q1"].tolerance == spec.Tolerance("sigfig", digits=4)
    assert q["q2"].sample == 1 and q["q2"].tolerance.mode == "decimal" and q["q2"].tolerance.digits == 2
    assert dict(q["q3"].given) == {"c": 0.5, "in1": [0, 1], "W2": [[1, 1, 1, 1], [2, 2, 2, 2]]}
    assert q["q4"].tolerance.mode == "relabs" and q["q4"].tolerance.atol == 1e-3
    answers = solver.solve(ex)
    assert answers["q1"].shape == (1, 4, 3) and answers["q2"].shape == (1,) and answers["q4"].shape == (1, 4, 2)


def test_the_bundled_exercises_compile():
    for name in ("tutorial-4-output-layer", "tutorial-4-hidden-layer", "tutorial-4-matrix", "tutorial-4"):
        ex = spec.load_exercise(name)
        assert ex.questions and ex.id.startswith("tutorial-4")
        assert spec.check_spec(spec.read_spec(spec.find(name)), name) == []


# ---------------------------------------------------------------------------- errors
def test_error_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    data = example()
    data["questions"][1]["ask"] = "dE/dw13"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        spec.load(path)
    assert str(info.value).startswith(f"{path}: questions[1].ask: ")
    for text, needle in (("{", "invalid JSON"), ('{"id": 1, "id": 2}', "duplicate key"), ('{"a": NaN}', "NaN"),
                         ('{"a": 1e400}', "too large"), ("", "empty")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(SpecError) as info:
            spec.load(path)
        assert str(info.value).startswith(f"{path}: ") and needle in str(info.value), str(info.value)


def test_duplicate_names_name_both_places():
    data = example()
    data["network"]["parameters"]["o1"] = {"to": "y1", "value": 0.1}  # a parameter named like a neuron
    error(data, "network.parameters.o1", "duplicate name 'o1'", "network.layers[1].neurons[0]")
    data = example()
    data["network"]["layers"][1]["neurons"][1]["net"] = "z3"
    error(data, "network.layers[1].neurons[1].net", "duplicate name 'z3'", "network.layers[1].neurons[0].net")
    data = example()
    data["network"]["layers"][2]["output"] = "o"  # a layer name used twice
    error(data, "network.layers[2].output", "'o'", "network.layers[1].output")
    data = example()
    data["network"]["layers"][0]["neurons"][0] = "E"
    error(data, "network.layers[0].neurons[0]", "duplicate name 'E'", "reserved")
    data = example()
    data["network"]["parameters"]["b5"] = {"to": "y2", "value": 0.1}  # the same bias twice
    error(data, "network.parameters.b5", "'b4'", "network.parameters.b4")


def test_unknown_and_wrong_names_in_parameters():
    data = example()
    data["network"]["parameters"]["b1"]["to"] = "o3"
    error(data, "network.parameters.b1.to", "no neuron named 'o3'", "did you mean")
    data = example()
    data["network"]["parameters"]["b3"]["to"] = ["y1", "y3"]
    error(data, "network.parameters.b3.to[1]", "'y3'")
    data = example()
    data["network"]["parameters"]["b3"]["to"] = "w5"  # a name, but not a neuron: both places
    error(data, "network.parameters.b3.to", "'w5' is a parameter", "network.parameters.w5")
    data = example()
    data["network"]["parameters"]["w5"]["from"] = "x9"
    error(data, "network.parameters.w5.from", "no neuron named 'x9'", "did you mean 'x")


def test_edges_must_join_consecutive_layers():
    data = example()
    data["network"]["parameters"]["w5"]["to"] = "y1"  # skips the hidden layer
    error(data, "network.parameters.w5", "from 'x1' (layer 0) to 'y1' (layer 2)", "one layer to the next")
    data = example()
    data["network"]["parameters"]["w9"] = {"from": "y1", "to": "o1", "value": 0.4}  # backwards
    error(data, "network.parameters.w9", "from 'y1' (layer 2) to 'o1' (layer 1)")
    data = example()
    data["network"]["parameters"]["w9"] = {"from": "o1", "to": "o2", "value": 0.4}  # within a layer
    error(data, "network.parameters.w9", "one layer to the next")


def test_given_must_name_an_input_target_or_parameter():
    data = example()
    data["questions"][2]["given"] = {"x9": 0.3}
    error(data, "questions[2].given.x9", "'x9' names nothing", "did you mean 'x")
    data["questions"][2]["given"] = {"o1": 0.3}  # a hidden neuron is computed, not given
    error(data, "questions[2].given.o1", "names a neuron")
    data["questions"][2]["given"] = {"x2": [0.1, 0.2]}  # one sample: a list is the wrong shape
    error(data, "questions[2].given.x2", "expected a number or a list of 1")
    data["questions"][2]["given"] = {"W(2)": [[1, 2, 3]]}
    error(data, "questions[2].given.W(2)", "expected shape")


def test_ask_errors():
    data = example()
    data["questions"][1]["ask"] = "∂E/∂w13"
    error(data, "questions[1].ask", "unknown name 'w13'", "did you mean 'w1")
    data["questions"][1]["ask"] = "dW(2)/dw9"  # A must be E or one neuron, pre-activation or input
    error(data, "questions[1].ask", "numerator", "weight matrix")
    data["questions"][1]["ask"] = "dw9/dw10"
    error(data, "questions[1].ask", "numerator", "parameter")
    data["questions"][1]["ask"] = "dy/dw10"  # a layer vector is not one neuron
    error(data, "questions[1].ask", "numerator")
    data["questions"][1]["ask"] = "E/w10"
    error(data, "questions[1].ask", "dA/dB")
    data["questions"][1]["ask"] = "dE/d"
    error(data, "questions[1].ask")
    data["questions"][1]["ask"] = "d(E)/dw10"
    error(data, "questions[1].ask", "unknown name")


def test_whole_matrix_of_the_wrong_shape():
    data = example()
    params = data["network"]["parameters"]
    for name in ("w5", "w6", "w7", "w8"):
        del params[name]
    data["questions"] = [{"id": "a", "ask": "dE/dW(1)"}]
    params["W(1)"] = {"value": [[1, 2, 3], [4, 5, 6]]}
    error(data, "network.parameters.W(1).value", "expected shape 2 x 2", "got 2 x 3")
    params["W(1)"] = {"value": [1, 2]}
    error(data, "network.parameters.W(1).value", "expected shape 2 x 2")
    params["W(1)"] = {"value": [[1, 2], [3, 4]]}
    params["b(1)"] = {"value": [1, 2, 3]}
    del params["b1"], params["b2"]
    error(data, "network.parameters.b(1).value", "expected shape 2")
    params["b(1)"] = {"value": [1, 2]}
    assert compile_(data).W[0].tolist() == [[1, 2], [3, 4]]
    params["w5"] = {"from": "x1", "to": "o1", "value": 0.1}  # the same edge as W(1)'s
    error(data, "network.parameters.w5", "same edge", "'W(1)'")


def test_unknown_keys_say_did_you_mean():
    data = example()
    data["learning_rat"] = 0.5
    error(data, "learning_rat", "unknown key 'learning_rat'", "did you mean 'learning_rate'")
    data = example()
    data["questions"][3]["after_epoch"] = 1
    error(data, "questions[3].after_epoch", "did you mean 'after_epochs'")
    data = example()
    data["network"]["layers"][1]["activaton"] = "tanh"
    error(data, "network.layers[1].activaton", "did you mean 'activation'")


def test_schema_errors_name_the_path():
    data = example()
    data["network"]["layers"][1]["activation"] = "sigmod"
    error(data, "network.layers[1].activation", "sigmod")
    data = example()
    data["learning_rate"] = -1
    error(data, "learning_rate")
    data = example()
    data["questions"][4]["after_epochs"] = -2
    error(data, "questions[4].after_epochs")
    data = example()
    del data["questions"][0]["ask"]
    error(data, "questions[0]", "'ask'")
    data = example()
    data["network"]["parameters"]["w5"]["value"] = "0.15"
    error(data, "network.parameters.w5.value")


def test_data_errors():
    data = example()
    data["inputs"] = {"x1": [1, 2], "x2": [1, 2, 3]}
    error(data, "inputs", "different lengths")
    data = example()
    data["inputs"] = {"x1": [1, 2], "x2": [1, 2]}
    data["targets"] = {"y1": [1, 2, 3], "y2": 0.5}
    error(data, "targets", "3 samples of targets for 2 samples of inputs")
    data = example()
    del data["inputs"]["x2"]
    error(data, "inputs", "missing value for x2")
    data = example()
    data["inputs"]["o1"] = 0.5
    error(data, "inputs.o1", "no input named 'o1'")
    data = example()
    data["questions"][0]["sample"] = 1
    error(data, "questions[0].sample", "sample 1 does not exist")
    data = example()
    data["questions"][1]["id"] = "a"
    error(data, "questions[1].id", "duplicate question id 'a'", "questions[0]")
    data = example()
    del data["targets"]
    error(data, "targets", "needs the loss E")


# ---------------------------------------------------------------------------- init
def init_spec(init: dict) -> dict:
    return {
        "id": "init",
        "network": {"layers": [{"neurons": 40}, {"neurons": 50, "weights": "W", "bias": "b"}],
                    "parameters": {"W": {"init": init}, "b": {"init": init}}},
        "inputs": {f"n0_{i + 1}": 0.1 for i in range(40)},
        "questions": [{"id": "W", "ask": "W"}],
    }


def test_init_draws_deterministically_by_seed():
    a = compile_(init_spec({"seed": 1, "scale": 0.1}))
    b = compile_(init_spec({"seed": 1, "scale": 0.1}))
    c = compile_(init_spec({"seed": 2, "scale": 0.1}))
    assert np.array_equal(a.W[0], b.W[0]) and np.array_equal(a.b[0], b.b[0])
    assert not np.array_equal(a.W[0], c.W[0])
    assert a.W[0].shape == (50, 40) and a.b[0].shape == (50,)
    assert 0.09 < a.W[0].std() < 0.11 and abs(a.W[0].mean()) < 0.01  # normal, scale 0.1, by default
    u = compile_(init_spec({"seed": 1, "scale": 0.3, "distribution": "uniform"})).W[0]
    assert np.abs(u).max() <= 0.3 and u.max() > 0.28 and u.min() < -0.28
    assert np.array_equal(solver.solve(a)["W"][0], a.W[0])  # the drawn matrix is what questions see
    error(init_spec({"scale": 0.1}), "network.parameters.W.init", "'seed'")


# ---------------------------------------------------------------------------- spellings
def spelling_spec(extra_params: dict | None = None) -> dict:
    data = example()
    data["network"]["parameters"].update(extra_params or {})
    return data


@pytest.mark.parametrize("text, kind, name", [
    ("w₆", "param", "w6"), ("w_6", "param", "w6"), ("w_{6}", "param", "w6"), ("$w_6$", "param", "w6"),
    ("E_total", "E", "E"), ("E_{total}", "E", "E"), ("W^{(2)}", "W", "W(2)"), ("W^(2)", "W", "W(2)"),
    ("z⁽¹⁾", "Z", "z(1)"), ("y₁", "a", "y1"),
])
def test_spellings_resolve_after_an_exact_miss(text, kind, name):
    data = example()
    data["questions"] = [{"id": "v", "ask": text}, {"id": "d", "ask": f"∂E/∂{text}"}, {"id": "d2", "ask": f"dE_total/d{text}"}]
    ex = compile_(data)
    for q in ex.questions:
        assert (q.quantity.b.kind, q.quantity.b.name) == (kind, name), q.ask
    assert ex.questions[1].quantity.a.kind == "E" and ex.questions[2].quantity.a.kind == "E"


def test_exact_names_win_over_other_spellings():
    # "w_6" is a name of its own here: it must not be read as w6
    data = spelling_spec({"w_6": {"from": "x1", "to": "o1", "value": 0.7}})
    del data["network"]["parameters"]["w5"]  # w_6 takes its edge
    data["questions"] = [{"id": "a", "ask": "w_6"}, {"id": "b", "ask": "w6"}, {"id": "c", "ask": "dE/dw_6"},
                         {"id": "d", "ask": "w₆"}, {"id": "e", "ask": "∂E/∂w_{6}"}]
    ex = compile_(data)
    # w₆ and w_{6} are other spellings of w6 (which exists), not of the name "w_6"
    assert [q.quantity.b.name for q in ex.questions] == ["w_6", "w6", "w_6", "w6", "w6"]
    key = solver.answer_key(ex)
    assert key["a"] == 0.7 and key["b"] == 0.2
    # a neuron literally named like a subscript spelling
    data = example()
    data["network"]["layers"][0]["neurons"] = ["x1", "x2", "x_1"]
    data["network"]["parameters"]["w13"] = {"from": "x_1", "to": "o2", "value": 0.1}
    data["inputs"]["x_1"] = 0.3
    data["questions"] = [{"id": "a", "ask": "x_1"}, {"id": "b", "ask": "x1"}, {"id": "c", "ask": "dE/dx_1"}]
    ex = compile_(data)
    assert [(q.quantity.b.name, q.quantity.b.index) for q in ex.questions] == [("x_1", 2), ("x1", 0), ("x_1", 2)]
    key = solver.answer_key(ex)
    assert (key["a"], key["b"]) == (0.3, 0.05)


def test_parse_ask():
    assert spec.parse_ask("∂E_total/∂w6") == ("E_total", "w6")
    assert spec.parse_ask(" dE / dw6 ") == ("E", "w6")
    assert spec.parse_ask(r"\partial E/\partial w6") == ("E", "w6")
    assert spec.parse_ask("w9") == (None, "w9")
    assert spec.parse_ask("dy1/dz5") == ("y1", "z5")
    with pytest.raises(ValueError):
        spec.parse_ask("E/w6")


# ---------------------------------------------------------------------------- property tests
SOURCE = "fuzz.json"


def assert_only_spec_errors(data: Any) -> None:
    try:
        ex = spec.compile_spec(data, SOURCE)
    except SpecError as exc:
        assert str(exc).startswith(f"{SOURCE}: "), str(exc)
    else:
        assert isinstance(ex, spec.Exercise)
    problems = spec.check_spec(data, SOURCE)
    assert isinstance(problems, list) and all(isinstance(p, SpecError) for p in problems)


@settings(max_examples=300, deadline=None)
@given(oracle.json_values())
def test_arbitrary_json_raises_only_spec_errors(value):
    assert_only_spec_errors(value)


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({"id": st.just("x"), "network": oracle.json_values(10), "questions": oracle.json_values(10)},
                             optional={"inputs": oracle.json_values(8), "targets": oracle.json_values(8),
                                       "loss": oracle.json_values(4), "training": oracle.json_values(4)}))
def test_arbitrary_sections_raise_only_spec_errors(value):
    assert_only_spec_errors(value)


def _nodes(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _nodes(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _nodes(v, path + (i,))
    return out


def _bases() -> list[dict]:
    matrix = json.loads((spec.exercises_folder() / "tutorial-4-matrix.json").read_text("utf-8"))
    hidden = json.loads((spec.exercises_folder() / "tutorial-4-hidden-layer.json").read_text("utf-8"))
    return [example(), rich_spec(), matrix, hidden, oracle.random_network(np.random.default_rng(0), samples=2)]


BASES = _bases()

# small replacement values that stay close to what a spec holds, so mutants get past the schema
NEAR = st.sampled_from([0, 1, 2, -1, 0.5, 1e308, -1e-300, 100000, 2**53, "", "x1", "o1", "y1", "W(1)", "w5", "E",
                        "dE/do1", "sigmoid", "mean", "online", [], [0], [[1], [1, 2]], [[1, 2], [3, 4]],
                        [[0.5]], [1, 2, 3], {}, {"seed": 1}, None, True, [["x1"]], [0.1, 0.2]])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_specs_raise_only_spec_errors(data):
    spec_data = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(1, 3))):
        nodes = _nodes(spec_data)
        path = data.draw(st.sampled_from(nodes))
        if not path:
            continue
        parent = spec_data
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["delete", "replace", "near", "near"]))
        if action == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(data.draw(oracle.json_values(6) if action == "replace" else NEAR))
    assert_only_spec_errors(spec_data)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(),
    st.text(alphabet='{}[]":,0123456789.eE+-aNIfinty \n\\u', max_size=40),
    oracle.json_values().map(json.dumps),
    oracle.json_values().map(lambda v: re.sub(r"\d+", lambda m: m.group(0) * 50, json.dumps(v))),
    st.sampled_from(['{"a": 1, "a": 2}', "NaN", "[Infinity]", "-Infinity", "1e400", "[" * 100000, '"\\ud800"',
                     "1" * 5000, "\ufeff{}", "", "  ", '{"a": 1e-400}', "-0", "[1,]", '{"a" 1}', "\x00"]),
))
def test_jsonio_loads_raises_only_strict_json_errors(text):
    try:
        value = jsonio.loads(text)
    except jsonio.StrictJSONError as exc:
        assert str(exc)
    else:
        # what it returns is plain JSON data that json can write back
        json.dumps(value, allow_nan=False)


@pytest.mark.parametrize("text, needle", [
    ('{"a": 1, "a": 2}', "duplicate key 'a'"), ("[NaN]", "NaN"), ('{"x": Infinity}', "Infinity"),
    ("-Infinity", "Infinity"), ("1e400", "too large"), ("[1,", "line 1"), ("", "empty"), ("1" * 500, "digits"),
])
def test_jsonio_rejects_what_python_json_accepts(text, needle):
    with pytest.raises(jsonio.StrictJSONError) as info:
        jsonio.loads(text)
    assert needle in str(info.value)


def test_undeclared_layer_matrices_answer_to_the_sheets_names():
    data = {
        "id": "m",
        "network": {"layers": [{"neurons": ["x1", "x2"]}, {"neurons": ["h1", "h2", "h3"], "activation": "tanh"},
                               {"neurons": ["y"], "activation": "linear"}],
                    "parameters": {"W(1)": {"init": {"seed": 1, "scale": 0.5}}, "W(2)": {"value": [[0.1, 0.2, 0.3]]},
                                   "b(2)": {"value": [0.5]}}},
        "inputs": {"x1": 0.1, "x2": 0.3}, "targets": {"y": 1.0},
        "questions": [{"id": "a", "ask": "dE/dW(1)"}, {"id": "b", "ask": "b(1)"}, {"id": "c", "ask": "dE/dz(2)"}],
    }
    ex = spec.compile_spec(data, "m.json")
    assert ex.W[1].tolist() == [[0.1, 0.2, 0.3]] and ex.b[1].tolist() == [0.5]
    assert ex.layer_names[1] == {}  # shown nowhere as declared names
    key = solver.answer_key(ex)
    assert np.shape(key["a"]) == (3, 2) and key["b"] == [0.0, 0.0, 0.0] and np.shape(key["c"]) == (1,)
    # a name the spec uses for something else is never taken over
    data["network"]["layers"][1]["neurons"][0] = "W(1)"
    with pytest.raises(SpecError, match="network.parameters.W\\(1\\)"):
        spec.compile_spec(data, "m.json")


# ---------------------------------------------------------------------------- grade validate: every problem
def many_problems() -> dict:
    """A spec with problems at every level: schema (a typo'd key, a mis-cased activation), the
    network (an unknown neuron) and the questions (unknown names, a sample out of range)."""
    return {
        "id": "multi",
        "network": {"layers": [
            {"neurons": ["x1", "x2"]},
            {"neurons": ["h1", "h2"], "activation": "Tanh", "weights": "W1", "bias": "c"},
            {"neurons": ["y1"], "weights": "W2"},
        ], "parameters": {
            "v11": {"from": "x1", "to": "h1", "value": 0.1}, "v12": {"from": "x2", "to": "h9", "value": 0.2},
            "v21": {"from": "x1", "to": "h2", "value": 0.3}, "u1": {"from": "h1", "to": "y1", "value": 0.5},
        }},
        "inputs": {"x1": [1, 2], "x2": [0, 1]}, "targets": {"y1": [1, 0]}, "learning_rat": 0.1,
        "questions": [
            {"id": "a", "ask": "dE/dW(1)"}, {"id": "b", "ask": "dE/dv99"}, {"id": "c", "ask": "E", "given": {"x9": 1}},
            {"id": "d", "ask": "h1", "sample": 4}, {"id": "e", "ask": "E", "afer_epochs": 3, "given": {"v98": 1}},
            {"id": "f", "ask": "dE/du1", "uses": ["zz"]},
        ],
    }


def test_check_spec_reports_every_level_in_one_run():
    got = [str(e) for e in spec.check_spec(many_problems(), "m.json")]
    want = [
        "m.json: learning_rat: unknown key 'learning_rat' (did you mean 'learning_rate'?)",
        'm.json: network.layers[1].activation: "Tanh" is not valid here (did you mean \'tanh\'?) '
        "(valid: sigmoid, tanh, relu, linear, softmax)",
        "m.json: questions[4].afer_epochs: unknown key 'afer_epochs' (did you mean 'after_epochs'?)",
        "m.json: network.parameters.v12.to: no neuron named 'h9' (did you mean 'h2'?)",
        "m.json: questions[0].ask: unknown name 'W(1)' (did you mean 'W1'?)",
        "m.json: questions[1].ask: unknown name 'v99'; the parameters named v… are v11, v12, v21",
        "m.json: questions[2].given.x9: 'x9' names nothing; given sets an input, a target (by output neuron) or a "
        "parameter (did you mean 'x2'?); the neurons named x… are x1, x2",
        "m.json: questions[3].sample: sample 4 does not exist: the exercise has 2 samples, numbered from 0 (valid: 0, 1)",
        "m.json: questions[4].given.v98: 'v98' names nothing; given sets an input, a target (by output neuron) or a "
        "parameter; the parameters named v… are v11, v12, v21",
        "m.json: questions[5].uses[0]: 'zz' is not an earlier question",
    ]
    assert got == want


def test_network_errors_do_not_hide_question_errors_without_schema_errors():
    data = many_problems()
    del data["learning_rat"], data["questions"][4]["afer_epochs"]
    data["network"]["layers"][1]["activation"] = "tanh"
    got = [str(e) for e in spec.check_spec(data, "m.json")]
    assert got[0].startswith("m.json: network.parameters.v12.to: no neuron named 'h9'")
    assert [g.split(": ")[1] for g in got[1:]] == ["questions[0].ask", "questions[1].ask", "questions[2].given.x9",
                                                  "questions[3].sample", "questions[4].given.v98", "questions[5].uses[0]"]
    with pytest.raises(SpecError, match="v12.to: no neuron named 'h9'"):  # loading still stops at the first
        spec.compile_spec(data, "m.json")


def test_a_malformed_question_is_set_aside_and_the_others_still_checked():
    data = many_problems()
    data["questions"][0] = {"id": "a"}  # no ask: the schema rejects the question as a whole
    got = [str(e) for e in spec.check_spec(data, "m.json")]
    assert "m.json: questions[0]: 'ask' is a required property" in got
    assert not any(g.startswith("m.json: questions[0].ask") for g in got)
    assert any(g.startswith("m.json: questions[1].ask: unknown name 'v99'") for g in got)


def test_skeleton_errors_stop_at_the_schema():
    got = [str(e) for e in spec.check_spec({"id": "x", "network": {"layers": 3}, "questions": []}, "s.json")]
    assert got and all(g.startswith("s.json: ") for g in got)
    assert not any("unknown name" in g for g in got)


@pytest.mark.parametrize(("ask", "hint"), [
    ("dE/dW(1)", "(did you mean 'W1'?)"), ("dE/dW^{(1)}", "(did you mean 'W1'?)"), ("dE/dW_1", None),
    ("dE/db(1)", "(did you mean 'c'?)"), ("dE/dV11", "(did you mean 'v11'?)"), ("dE/dH1", "(did you mean 'h1'?)"),
    ("dE/dv7", "the parameters named v… are v11, v12, v21"),
])
def test_unknown_name_hints(ask, hint):
    data = many_problems()
    data["questions"] = [{"id": "q", "ask": ask}]
    problems = [str(e) for e in spec.check_spec(data, "m.json") if "questions[0]" in str(e)]
    if hint is None:  # W_1 is another spelling of W1 itself: found, no problem
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].endswith(hint), problems


@pytest.mark.parametrize(("path", "value", "valid"), [
    (("loss",), "Half_SSE", "(did you mean 'half_sse'?) (valid: half_sse, sse, mse, binary_cross_entropy, cross_entropy)"),
    (("training", "mode"), "Online", "(did you mean 'online'?) (valid: batch, online)"),
    (("network", "layers", 2, "activation"), "swish", "(valid: sigmoid, tanh, relu, linear, softmax)"),
])
def test_small_sets_list_the_valid_values(path, value, valid):
    data = json.loads((spec.exercises_folder() / "tutorial-4-matrix.json").read_text("utf-8"))
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node[path[-1]] = value
    where = {"loss": "loss", "mode": "training.mode", "activation": "network.layers[2].activation"}[path[-1]]
    got = [str(e) for e in spec.check_spec(data, "t.json")]
    assert got == [f"t.json: {where}: {json.dumps(value)} is not valid here {valid}"]


@pytest.mark.parametrize(("init", "where"), [({"seed": 1e308}, "init.seed"), ({"seed": 1, "scale": 1e308}, "init.scale")])
def test_matrix_init_out_of_range_is_a_spec_error(init, where):
    data = json.loads((spec.exercises_folder() / "tutorial-4-matrix.json").read_text("utf-8"))
    data["network"]["parameters"] = {"W(1)": {"init": init}}
    errors = [str(e) for e in spec.check_spec(data, "i.json")]
    assert any(e.startswith(f"i.json: network.parameters.W(1).{where}: ") for e in errors), errors
