"""Formula answers graded against the reference at the exercise's values and random variants;
the key's chain-rule formulas (grade key --formulas)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from grader import answer_grade, chain, formula_grade, grading, mistakes, spec
from grader.cli import cli

# The seed sheet's own formulas (tutorial-4-gradient-hints.txt), typed as a student would: the
# sheet's y_1^target is t1, its "given x2 = 0.3" may be plugged in.
SEED_OUTPUT = {
    "w6": "(y1 - t1) * y1 * (1 - y1) * o2",
    "w7": "(y2 - y2_target) * y2 * (1 - y2) * o1",
    "w8": "(y2 - t2) · y2 · (1 − y2) · o2",
}
DE_DO1 = "((y1 - t1) * y1 * (1 - y1) * w5 + (y2 - t2) * y2 * (1 - y2) * w8)"
DE_DO2 = "((y1 - t1) * y1 * (1 - y1) * w6 + (y2 - t2) * y2 * (1 - y2) * w9)"
DE_DO3 = "((y1 - t1) * y1 * (1 - y1) * w7 + (y2 - t2) * y2 * (1 - y2) * w10)"
SEED_HIDDEN = {
    "w2": f"{DE_DO1} * o1 * (1 - o1) * 0.3",
    "w3": f"{DE_DO2} * o2 * (1 - o2) * 0.4",
    "w4": f"{DE_DO3} * o3 * (1 - o3) * 0.5",
}


def grade(ex, answers):
    tests = answer_grade.grade_answers(ex, answers, grading.reference(ex), diagnose=mistakes.diagnose).tests
    return {t.id: t for t in tests}


def question(ex, qid):
    return next(q for q in ex.questions if q.id == qid)


@pytest.fixture(scope="module")
def output_layer():
    return spec.load_exercise("tutorial-4-output-layer")


@pytest.fixture(scope="module")
def hidden_layer():
    return spec.load_exercise("tutorial-4-hidden-layer")


def test_the_seed_sheets_formulas_pass(output_layer, hidden_layer) -> None:
    for ex, answers in ((output_layer, SEED_OUTPUT), (hidden_layer, SEED_HIDDEN)):
        tests = grade(ex, answers)
        for qid in answers:
            assert tests[qid].status == "passed", (qid, tests[qid].feedback)
            assert tests[qid].score == tests[qid].max_score


@pytest.mark.parametrize("text", [
    "o2 * y1 * (1 - y1) * (y1 - t1)",  # reordered
    "(y1**2 - y1**3 - t1*y1 + t1*y1**2) * o2",  # expanded
    "(y1 - t1) * (y1 - y1 ^ 2) * sigmoid(z2)",  # o2 as sigmoid(z2)
    "(y1 - t1) * y1 * (1 - y1) / (1 + exp(-(w3 * x1 + w4 * x2 + b1)))",  # o2 from the inputs
    "-(t1 - y1) * y_1 * (1 - y₁) * o2",  # other spellings of the names
])
def test_equivalent_rewritings_pass(output_layer, text) -> None:
    assert grade(output_layer, {"w6": text})["w6"].status == "passed"


def test_given_numbers_may_be_plugged_in_and_names_too(hidden_layer) -> None:
    named = {"w2": f"{DE_DO1} * o1 * (1 - o1) * x2"}
    assert grade(hidden_layer, named)["w2"].status == "passed"


def test_variants_move_every_value_but_keep_given(hidden_layer) -> None:
    q = question(hidden_layer, "w2")
    values = formula_grade.variant_values(hidden_layer)
    assert values.V == formula_grade.VARIANTS + 1 >= 65
    env = formula_grade.name_values(hidden_layer, q, values)
    assert np.all(env["x2"] == 0.3)  # given stays as given
    for name in ("x1", "w1", "w5", "b1", "t1", "o1", "y2"):
        assert np.unique(env[name]).size > 60, name
    assert np.all((env["t1"] > 0) & (env["t1"] < 1))
    ref = formula_grade.reference(hidden_layer, q, values)
    assert ref.shape == (values.V,)
    assert ref[0] == pytest.approx(float(grading.reference(hidden_layer)["w2"]))


def test_a_plugged_in_number_is_not_the_formula(output_layer, bundled_data) -> None:
    key = grading.reference(output_layer)
    right = format(float(key["w6"]), ".6g")
    plugged = "(0.75136507 - 0.01) * 0.75136507 * (1 - 0.75136507) * o2"
    tests = grade(output_layer, {"w6": plugged, "w7": right})
    assert tests["w6"].status == "wrong"
    assert "right at the exercise's values only" in tests["w6"].feedback
    assert "plugged in" in tests["w6"].feedback
    assert tests["w7"].status == "wrong"  # w7 is not w6: a number graded as a number
    # a question that requires a formula: the right number is not enough, and says why
    data = bundled_data("tutorial-4-output-layer")
    for q in data["questions"]:
        q["answer"] = "formula" if q["id"] == "w6" else "number"
    ex = spec.compile_spec(data, "formula-only.json")
    tests = grade(ex, {"w6": right, "w7": SEED_OUTPUT["w7"], "w8": format(float(key["w8"]), ".6g")})
    assert tests["w6"].status == "wrong" and tests["w6"].score == 0
    assert "a number, not a formula (right at the exercise's values)" in tests["w6"].feedback
    assert tests["w7"].status == "invalid" and "asks for a number, not a formula" in tests["w7"].feedback
    assert tests["w8"].status == "passed"
    assert grade(ex, {"w6": "0.0822 * 1"})["w6"].status == "wrong"  # arithmetic on numbers is a number


@pytest.mark.parametrize("text, words", [
    ("__import__('os').system('touch /tmp/grader-formula-pwned')", "not a formula: unexpected"),
    ("o2.__class__", "attributes and subscripts"),
    ("y3 * o2", "unknown name 'y3' at position 1"),
    ("10 ** 10 ** 10 * o2", "not a finite number"),
    ("o2 / (y1 - y1)", "not a finite number"),
    ("(" * 10_000 + "o2" + ")" * 10_000, "too long"),
    ("o2 + " * 250_000, "too long"),
    ("y1(1 - y1)", "a product is written with *"),
    (["o2"] * 20_000, "too large"),
    ([["o2 + " * 300 + "o2"] * 50] * 20, "too large"),
])
def test_hostile_and_broken_formulas_fail_cleanly(output_layer, text, words, tmp_path) -> None:
    t = grade(output_layer, {"w6": text})["w6"]
    assert t.status == "invalid" and t.score == 0
    assert words in t.feedback
    assert len(t.feedback) < 500
    assert not (tmp_path / "grader-formula-pwned").exists()


# Every mistake model, written as the formula a student who makes it would type: (exercise,
# question, formula, mistake, and where another mistake gives the very same formula for this
# question, words of the message that must name it as the alternative).
D1 = "(y1 - t1) * y1 * (1 - y1)"
A1, A2 = "sigmoid(w1 * x1 + w2 * x2)", "sigmoid(w3 * x1 + w4 * x2)"  # o1, o2 without biases
Y1 = f"sigmoid(w5 * {A1} + w6 * {A2})"
MISTAKES = [
    ("output", "w6", "(y1 - t1) * o2", "no_activation_derivative", None),
    ("output", "w6", "(y1 - t1) * z3 * (1 - z3) * o2", "sigmoid_derivative_of_z", None),
    ("output", "w6", "(y1 - t1) * sigmoid(y1) * (1 - sigmoid(y1)) * o2", "derivative_of_output", None),
    ("output", "w6", "(y1 - t1) * (y1 * (1 - y1)) ** 2 * o2", "derivative_twice", None),
    ("output", "w6", "(y1 - t1) * y1 * o2", "activation_for_derivative", None),
    ("output", "w6", "y1 * (1 - y1) * o2", "derivative_replaces_error", None),
    ("output", "w6", "(t1 - y1) * y1 * (1 - y1) * o2", "sign_flipped", None),
    ("output", "w6", f"2 * {D1} * o2", "half_dropped", None),
    ("output", "w6", f"0.5 * {D1} * o2", "half_doubled", None),
    ("output", "w6", f"{D1} * o1", "wrong_edge_input", None),
    ("output", "w6", f"{D1} * z2", "z_instead_of_a", None),
    ("output", "w6", "-t1 / y1 * y1 * (1 - y1) * o2", "cross_entropy_gradient", None),
    ("output", "w6", f"({Y1} - t1) * {Y1} * (1 - {Y1}) * {A2}", "no_biases", None),
    ("output", "w6_new", f"w6 + 0.5 * {D1} * o2", "update_wrong_sign", None),
    ("output", "w6_new", f"w6 - {D1} * o2", "update_no_learning_rate", None),
    ("output", "db2", D1, "bias_not_summed", None),
    ("output", "w1_new",
     f"w1 - 0.5 * ({D1} * (w5 - 0.5 * {D1} * o1)"
     " + (y2 - t2) * y2 * (1 - y2) * (w7 - 0.5 * (y2 - t2) * y2 * (1 - y2) * o1)) * o1 * (1 - o1) * x1",
     "updated_weights_backprop", None),
    ("hidden", "w2", f"{D1} * w5 * o1 * (1 - o1) * x2", "single_path_delta", None),
    # for a hidden weight, y − t sent back without f′ is the output layer's f′ left out: both are named
    ("hidden", "w2", "((y1 - t1) * w5 + (y2 - t2) * w8) * o1 * (1 - o1) * x2", "no_activation_derivative",
     "the error ∂E/∂a (as y − t) seems to be back-propagated instead"),
    ("matrix", "dW2", [[f"{D1} * o1", "(y2 - t2) * y2 * (1 - y2) * o1"],
                       [f"{D1} * o2", "(y2 - t2) * y2 * (1 - y2) * o2"]], "transposed", None),
    ("matrix", "dw5", f"({D1} * w9 + (y2 - t2) * y2 * (1 - y2) * w10) * o1 * (1 - o1) * x1", "transposed_backprop",
     None),
    ("three", "w6", f"sum({D1} * o2) / 3", "mean_over_samples", None),
    ("three-mean", "w6", f"sum({D1} * o2)", "sum_over_samples", None),
    # one step with η/S is one step with the mean gradient: both are named
    ("three", "w6_new", f"w6 - 0.5 / 3 * sum({D1} * o2)", "mean_over_samples",
     "a learning rate divided by the number of samples"),
    ("sse", "w6", f"{D1} * o2", "half_added", None),
    ("tanh", "w6", "(y1 - t1) / (y1 * (1 - y1)) * (1 - y1 ** 2) * o2", "binary_cross_entropy_gradient", None),
    # with binary cross-entropy through a sigmoid δ = y − t, so a squared-error δ is σ′ once too often
    ("bce", "w6", f"{D1} * o2", "derivative_twice", "right for squared error"),
]
# Mistakes that no formula answer can make: the shape of a returned bias gradient (code only); one
# sample's gradient (a formula's names are every sample's); biases never trained (for one step a
# bias left as it is reads exactly as "no biases"; the difference shows in weights after epochs);
# NumPy broadcasting whole arrays with * where @ belongs (a formula names single entries).
NOT_FORMULAS = {"bias_axis", "one_sample_only", "biases_not_trained", "elementwise_product"}


def mistake_exercise(bundled_data, kind: str):
    name = {"hidden": "tutorial-4-hidden-layer", "matrix": "tutorial-4-matrix"}.get(kind, "tutorial-4-output-layer")
    data = bundled_data(name)
    if kind == "output":  # two questions the bundled exercise does not ask
        data["questions"] += [{"id": "db2", "ask": "dE/db2"},
                              {"id": "w1_new", "ask": "w1", "after_epochs": 1, "tolerance": {"rtol": 1e-7}}]
    if kind == "matrix":
        data["questions"].append({"id": "dw5", "ask": "dE/dw5"})
    if kind.startswith("three"):
        data["inputs"] = {"x1": [0.05, 0.2, 0.1], "x2": [0.1, 0.4, 0.3]}
        data["targets"] = {"y1": [0.01, 0.3, 0.5], "y2": [0.99, 0.6, 0.2]}
        if kind == "three-mean":
            data["loss"] = {"name": "half_sse", "reduction": "mean"}
    if kind in ("sse", "bce"):
        data["loss"] = {"sse": "sse", "bce": "binary_cross_entropy"}[kind]
    if kind == "tanh":
        data["network"]["layers"][2]["activation"] = "tanh"
    return spec.compile_spec(data, f"{kind}.json")


def test_every_mistake_model_is_covered() -> None:
    named_too = {"hidden_delta_from_output_error", "squared_error_gradient", "learning_rate_over_batch"}
    covered = {m[3] for m in MISTAKES} | named_too
    assert covered | NOT_FORMULAS == set(mistakes.PRIORITY)


@pytest.mark.parametrize("kind, qid, text, mistake, alternative", MISTAKES,
                         ids=[f"{m[3]}-{m[0]}" for m in MISTAKES])
def test_a_mistakes_formula_is_diagnosed_as_that_mistake(bundled_data, kind, qid, text, mistake, alternative) -> None:
    ex = mistake_exercise(bundled_data, kind)
    out = formula_grade.check(ex, question(ex, qid), text, mistakes.diagnose)
    assert out.status in ("wrong", "partial")
    assert out.mistake == mistake, out.feedback
    assert "Step: " in out.feedback
    if alternative:
        assert "or, giving the same value" in out.feedback and alternative in out.feedback
    key = float(np.ravel(grading.reference(ex)[qid])[0])
    assert format(key, ".4g") not in out.feedback  # a diagnosis names the step, never the number


def test_error_carried_forward_applies_to_formulas(output_layer) -> None:
    tests = grade(output_layer, {"w6.1": "t1 - y1", "w6.2": "y1 * (1 - y1)", "w6.3": "o2",
                                 "w6": "(t1 - y1) * y1 * (1 - y1) * o2"})
    assert tests["w6.1"].status == "wrong"
    assert tests["w6"].status == "partial" and tests["w6"].score == pytest.approx(1.0)
    assert "Error carried forward" in tests["w6"].feedback


def test_matrix_questions_take_lists_of_formulas_entry_by_entry() -> None:
    ex = spec.load_exercise("tutorial-4-matrix")
    delta = ["(y1 - t1) * y1 * (1 - y1)", "(y2 - t2) * y2 * (1 - y2) * 2"]
    t = grade(ex, {"delta2": delta})["delta2"]
    assert t.status == "partial" and t.score == pytest.approx(1.0)
    assert "1 of 2 entries right" in t.feedback and "[1]" in t.feedback
    assert grade(ex, {"delta2": ["y1 - t1"]})["delta2"].feedback.startswith("wrong shape")


@pytest.fixture(scope="module")
def two_samples():
    data = json.loads(spec.find("tutorial-4-output-layer").read_text())
    data["inputs"] = {"x1": [0.05, 0.2], "x2": [0.1, 0.4]}
    data["targets"] = {"y1": [0.01, 0.3], "y2": [0.99, 0.6]}
    return spec.compile_spec(data, "two-samples.json")


def test_with_several_samples_sum_adds_over_them(two_samples) -> None:
    tests = grade(two_samples, {"w6": "sum((y1 - t1) * y1 * (1 - y1) * o2)", "w6.3": "o2",
                                "w7": "(y2 - t2) * y2 * (1 - y2) * o1"})
    assert tests["w6"].status == "passed"
    assert tests["w6.3"].status == "passed"  # per sample: one value per sample
    assert tests["w7"].status == "wrong" and "write sum(...)" in tests["w7"].feedback


@pytest.mark.parametrize("exercise", ["tutorial-4-output-layer", "tutorial-4-hidden-layer", "tutorial-4-matrix"])
def test_the_key_with_formulas_scores_full_marks(exercise, tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["key", exercise, "--format", "json", "--formulas"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    ex = spec.load_exercise(exercise)
    derivatives = [q.id for q in ex.questions if q.quantity.is_derivative and not q.after_epochs]
    assert derivatives and all(isinstance(data["answers"][qid], (str, list)) for qid in derivatives)
    path = tmp_path / "key.json"
    path.write_text(result.output)
    graded = runner.invoke(cli, [str(path), "--format", "json"])
    assert graded.exit_code == 0, graded.output
    report = json.loads(graded.output)
    questions = [t for t in report["tests"] if "/" not in t["id"]]  # an answers file hands in no functions
    assert all(t["status"] == "passed" for t in questions), [t for t in questions if t["status"] != "passed"]
    assert report["score"] == pytest.approx(ex.max_score)


def test_key_formulas_are_the_sheets_chain_rule(output_layer, hidden_layer, two_samples) -> None:
    assert chain.derivative_formula(output_layer, question(output_layer, "w6")) == "(y1 - t1) * y1 * (1 - y1) * o2"
    assert chain.derivative_formula(output_layer, question(output_layer, "w6.2")) == "y1 * (1 - y1)"
    assert chain.derivative_formula(output_layer, question(output_layer, "w6_new")) is None  # after training
    assert chain.derivative_formula(hidden_layer, question(hidden_layer, "w2")) == (
        "((y1 - t1) * y1 * (1 - y1) * w5 + (y2 - t2) * y2 * (1 - y2) * w8) * o1 * (1 - o1) * x2")
    assert chain.derivative_formula(two_samples, question(two_samples, "w6")) == "sum((y1 - t1) * y1 * (1 - y1) * o2)"


@pytest.mark.parametrize("loss, activation", [("sse", "tanh"), ("mse", "linear"), ("binary_cross_entropy", "sigmoid"),
                                              ("cross_entropy", "softmax")])
def test_key_formulas_for_other_losses_and_activations_grade_as_right(bundled_data, loss, activation) -> None:
    data = bundled_data("tutorial-4-hidden-layer")
    data["loss"] = {"name": loss, "reduction": "mean"}
    data["network"]["layers"][2]["activation"] = activation
    data["inputs"] = {"x1": [0.05, 0.5], "x2": [0.1, 0.2], "x3": [0.15, 0.1], "x4": [0.2, 0.3]}
    data["targets"] = {"y1": [0.2, 0.7], "y2": [0.8, 0.3]}
    data["questions"] += [{"id": "db2", "ask": "dE/db2"}, {"id": "dx1", "ask": "dE/dx1"}, {"id": "dy1", "ask": "dy1/dw1"}]
    ex = spec.compile_spec(data, f"{loss}.json")
    key = grading.reference(ex)
    answers = chain.with_formulas(ex, {k: v.tolist() for k, v in key.items()})
    assert all(isinstance(answers[q.id], str) for q in ex.questions)
    tests = grade(ex, answers)
    assert all(t.status == "passed" for t in tests.values()), [(t.id, t.feedback) for t in tests.values()
                                                               if t.status != "passed"]


def test_no_formula_where_the_grammar_cannot_write_one(bundled_data) -> None:
    data = bundled_data("tutorial-4-hidden-layer")
    data["network"]["layers"][1]["activation"] = "relu"
    ex = spec.compile_spec(data, "relu.json")
    assert chain.derivative_formula(ex, question(ex, "w2")) is None  # relu' is a step
    assert chain.derivative_formula(ex, question(ex, "w2.3")) == "x2"  # no relu on this path


def test_the_worked_solution_writes_the_keys_formula(output_layer, hidden_layer) -> None:
    from grader import worked

    for ex, qid in ((output_layer, "w6"), (hidden_layer, "w2")):
        text = chain.derivative_formula(ex, question(ex, qid))
        assert f"As a formula answer, in the exercise's names: `{text}`" in worked.markdown(ex)
    matrix = spec.load_exercise("tutorial-4-matrix")
    entry = chain.derivative_formula(matrix, question(matrix, "dW2"))[1][0]
    assert f"- `[1][0]`: `{entry}`" in worked.markdown(matrix)


def test_formulas_in_a_submissions_answers_are_graded(tmp_path) -> None:
    code = tmp_path / "submission.py"
    code.write_text('EXERCISE = "tutorial-4-output-layer"\n'
                    f'ANSWERS = {{"w6": {SEED_OUTPUT["w6"]!r}, "w7": "(y2 - t2) * o1", "w8": "y2 / 0"}}\n')
    result = CliRunner().invoke(cli, [str(code), "--format", "json"])
    assert result.exit_code == 0, result.output
    tests = {t["id"]: t for t in json.loads(result.output)["tests"]}
    assert tests["w6"]["status"] == "passed"
    assert tests["w7"]["status"] == "wrong" and "Step: " in tests["w7"]["feedback"]
    assert tests["w8"]["status"] == "invalid" and "not a finite number" in tests["w8"]["feedback"]


def test_answer_kind_is_validated_and_formulas_need_the_json_key(bundled_data, tmp_path) -> None:
    data = bundled_data("tutorial-4-output-layer")
    data["questions"][8]["answer"] = "text"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert "questions[8].answer" in result.output and "number, formula, either" in result.output
    result = CliRunner().invoke(cli, ["key", "tutorial-4", "--formulas"])
    assert result.exit_code == 2 and "--formulas needs --format json" in result.output
