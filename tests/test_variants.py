"""Per-student variants: determinism, spread, rounding, and the key of the concrete spec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from grader import cli, grading, solver, spec, variants
from grader.errors import SpecError, UsageError

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "exercises" / "tutorial-4-matrix.json"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "course-secret")


def values(ex):
    return [float(v) for w in ex.W for v in np.ravel(w)] + list(ex.x.ravel()) + list(ex.t.ravel())


def test_same_student_same_variant_other_students_differ():
    a1 = spec.load_exercise("tutorial-4", "alice")
    a2 = spec.load_exercise("tutorial-4", "alice")
    b = spec.load_exercise("tutorial-4", "bob")
    assert values(a1) == values(a2) and a1.variant_seed == a2.variant_seed
    assert values(a1) != values(b)
    base = spec.load_exercise("tutorial-4")
    assert base.variant_seed is None and values(a1) != values(base)


def test_the_secret_keys_the_variant(monkeypatch):
    a = spec.load_exercise("tutorial-4", "alice")
    monkeypatch.setenv("GRADER_SECRET", "another-course")
    assert values(spec.load_exercise("tutorial-4", "alice")) != values(a)
    monkeypatch.delenv("GRADER_SECRET")
    with pytest.raises(UsageError, match="GRADER_SECRET"):
        spec.load_exercise("tutorial-4", "alice")


def test_values_spread_over_their_ranges_and_are_rounded():
    rules = json.loads(MATRIX.read_text())["variants"]["values"]
    drawn = {name: [] for name in rules}
    for k in range(200):
        data = variants.concrete(json.loads(MATRIX.read_text()), variants.seed("t", f"s{k}", "x"))
        params, inputs, targets = data["network"]["parameters"], data["inputs"], data["targets"]
        for name in rules:
            v = params[name]["value"] if name in params else inputs.get(name, targets.get(name))
            drawn[name].append(v)
    for name, rule in rules.items():
        lo, hi = rule["range"]
        vs = np.array(drawn[name])
        assert vs.min() >= lo and vs.max() <= hi, name
        assert vs.max() - vs.min() > 0.6 * (hi - lo), name  # spread, not a constant
        assert np.allclose(vs, np.round(vs, rule["decimals"])), name  # rounded as shown
        assert len(set(vs)) > 10, name


def test_key_of_a_variant_is_the_key_of_its_concrete_spec(tmp_path):
    ex = spec.load_exercise("tutorial-4", "carol")
    data = variants.concrete(json.loads(MATRIX.read_text()), ex.variant_seed)
    assert "variants" not in data
    concrete = tmp_path / "carol.json"
    concrete.write_text(json.dumps(data))
    want = solver.answer_key(spec.load(concrete))
    got = grading.answer_key("tutorial-4", "carol").answers
    assert got.keys() == want.keys()
    for q in want:
        np.testing.assert_array_equal(np.array(got[q]), np.array(want[q]))


def test_grading_a_students_variant(tmp_path):
    key = grading.answer_key("tutorial-4", "dave").answers
    f = tmp_path / "dave.json"
    f.write_text(json.dumps({"exercise": "tutorial-4", "answers": key}))
    mine = grading.grade_answers_file(f, "tutorial-4", student="dave")
    assert mine.score == spec.load_exercise("tutorial-4").max_score  # every question (the functions are missing)
    assert dict(mine.extra)["variant_seed"] == spec.load_exercise("tutorial-4", "dave").variant_seed
    other = grading.grade_answers_file(f, "tutorial-4", student="erin")
    assert other.score < mine.score / 2  # someone else's key does not pass


def test_cli_key_and_grade_with_student(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli.cli, ["key", "tutorial-4", "--student", "fay", "-f", "json"])
    assert res.exit_code == 0
    f = tmp_path / "a.json"
    f.write_text(res.output)
    graded = runner.invoke(cli.cli, [str(f), "--student", "fay", "-f", "json"])
    assert json.loads(graded.output)["score"] == 17  # every question
    text = runner.invoke(cli.cli, ["key", "tutorial-4", "--student", "fay"]).output
    assert "the variant of student fay" in text


@pytest.mark.parametrize("rule, message", [
    ({"nope": {"range": [0, 1]}}, "variants.values.nope: 'nope' is not an input"),
    ({"w5": {"range": [1, 0]}}, "variants.values.w5: range must be"),
])
def test_bad_variants(rule, message):
    data = json.loads(MATRIX.read_text())
    data["variants"] = {"values": rule}
    errors = spec.check_spec(data, "x.json")
    assert errors and message in str(errors[0])
    with pytest.raises(SpecError, match=message.split(":")[0]):
        variants.concrete(data, 1, "x.json")
