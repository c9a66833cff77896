"""A class's variant keys solved together (grader/variant_keys.py), and what a worker does with one."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from grader import exercise_values, grading, solver, spec, variant_keys, variants
from grader.errors import SpecError
from grader.variant_keys import ClassKeys, VariantKey, solve_variants

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "exercises" / "tutorial-4-matrix.json"
CORRECT = (ROOT / "solutions" / "submission.py").read_text("utf-8")
CODE_ONLY = CORRECT.split("\n\n# The typed questions")[0] + "\n"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "variant-keys-secret")


def _variants(n: int, exercise: str = "tutorial-4", prefix: str = "s") -> list:
    return [spec.load_exercise(exercise, f"{prefix}{k}") for k in range(n)]


def test_each_key_of_a_chunk_is_the_key_of_its_variant_solved_alone():
    exs = _variants(24)
    keys = solve_variants(exs)
    for ex, key in zip(exs, keys, strict=True):
        alone = {qid: v[0] for qid, v in solver.solve(ex).items()}
        assert key is not None and key.keys() == alone.keys()
        for qid in alone:  # E_1000 trains 1,000 epochs: other kernels, the same number to 1e-9
            np.testing.assert_allclose(key[qid], alone[qid], rtol=1e-9, atol=1e-12, err_msg=qid)
    # the variants differ, so a key that ignored its own values would fail the loop above
    assert len({float(np.asarray(k["E_1000"])) for k in keys}) == len(keys)


def test_a_students_key_is_the_same_bits_in_any_chunk():
    exs = _variants(40)
    whole = solve_variants(exs)
    for start, stop in ((0, 1), (5, 8), (10, 30)):  # padded, padded, not padded
        for k, key in enumerate(solve_variants(exs[start:stop])):
            for qid, v in key.items():
                assert np.array_equal(v, whole[start + k][qid]), (start + k, qid)


def test_keys_are_read_only_copies():
    key = solve_variants(_variants(3))[0]
    arrays = [v for v in key.values() if isinstance(v, np.ndarray)]
    assert arrays and all(not v.flags.writeable and v.base is None for v in arrays)


def test_a_variant_whose_key_is_not_finite_is_left_to_its_worker():
    exs = _variants(9)
    huge = dataclasses.replace(exs[4], W=tuple(np.full_like(w, np.nan) for w in exs[4].W))
    keys = solve_variants(exs[:4] + [huge] + exs[5:])
    assert keys[4] is None and all(k is not None for i, k in enumerate(keys) if i != 4)


def test_variants_of_other_exercises_are_not_solved_together():
    mixed = _variants(3) + _variants(3, "tutorial-4-output-layer")
    assert solve_variants(mixed) == [None] * 6
    assert solve_variants([]) == []


def test_class_keys_a_chunk_at_a_time(monkeypatch):
    monkeypatch.setattr(variant_keys, "CHUNK", 4)
    solved: list[list[str]] = []
    real = ClassKeys._solve

    def counting(self, students):
        solved.append(list(students))
        return real(self, students)

    monkeypatch.setattr(ClassKeys, "_solve", counting)
    students = [f"p{k}" for k in range(10)]
    keys = ClassKeys("tutorial-4", students + [None, "p3"])  # repeated and missing ids count once
    got = [keys(s) for s in students]
    assert solved == [students[0:4], students[4:8], students[8:10]]
    for s, key in zip(students, got, strict=True):
        ex = spec.load_exercise("tutorial-4", s)
        assert isinstance(key, VariantKey) and key.seed == ex.variant_seed
        np.testing.assert_allclose(key.answers["E_1000"], solver.solve(ex)["E_1000"][0], rtol=1e-9, atol=1e-12)
    assert not keys.held  # each key handed out once: nothing of a used chunk is kept
    again = keys("p3")  # an earlier chunk asked again (a submission graded on the client) is solved again
    assert solved[-1] == students[0:4] and again.seed == got[3].seed
    assert np.array_equal(again.answers["E_1000"], got[3].answers["E_1000"])
    assert keys("p3") is None and len(keys.held) == 3
    assert keys(None) is None and keys("not-in-the-class") is None


def test_no_keys_without_variants(monkeypatch):
    monkeypatch.delenv("GRADER_SECRET")
    assert ClassKeys("tutorial-4", ["a", "b"])("a") is None  # no secret: no variant to solve


def _graded(tmp_path: Path, answers: dict, key) -> grading.Results:
    code = tmp_path / "sub.py"
    code.write_text(CODE_ONLY + f"\nANSWERS = {json.dumps(answers)}\n", encoding="utf-8")
    exercise_values._ONCE.clear()
    return grading.grade_parts(str(code), None, "tutorial-4", student="gina", variant_key=key)


def test_a_worker_takes_the_key_of_its_own_variant_only(tmp_path):
    ex = spec.load_exercise("tutorial-4", "gina")
    answers = grading.answer_key("tutorial-4", "gina").answers
    right = _graded(tmp_path, answers, None)
    assert right.score == right.max_score
    real = {qid: v[0] for qid, v in solver.solve(ex).items()}
    spoilt = dict(real, E=np.float64(float(real["E"]) + 1.0))  # a key that says E is something else
    taken = _graded(tmp_path, answers, VariantKey(ex.variant_seed, spoilt))
    assert taken.score < right.score and next(t for t in taken.tests if t.id == "E").status != "passed"
    other = _graded(tmp_path, answers, VariantKey(ex.variant_seed + 1, spoilt))  # another variant's
    assert other.score == right.score


def test_a_variant_shares_the_unchanged_parts_and_leaves_the_spec_alone():
    data = json.loads(MATRIX.read_text("utf-8"))
    before = copy.deepcopy(data)
    seeds = [variants.seed("tutorial-4-matrix", s, "k") for s in ("a", "b")]
    a, b = (variants.concrete(data, s) for s in seeds)
    assert data == before  # the cached spec every student's copy is made from
    assert "variants" not in a and a != b
    for name in data["variants"]["values"]:
        where = "parameters" if name in data["network"]["parameters"] else None
        va = a["network"]["parameters"][name]["value"] if where else a["inputs"].get(name, a["targets"].get(name))
        vb = b["network"]["parameters"][name]["value"] if where else b["inputs"].get(name, b["targets"].get(name))
        assert va != vb or name == "", name
    # equal to a copy made the old way: the whole spec copied, then the values written
    old = copy.deepcopy(data)
    old.pop("variants")
    for name in sorted(data["variants"]["values"]):
        sect = "network" if name in data["network"]["parameters"] else ("inputs" if name in data["inputs"] else "targets")
        if sect == "network":
            old["network"]["parameters"][name]["value"] = a["network"]["parameters"][name]["value"]
        else:
            old[sect][name] = a[sect][name]
    assert old == a


def test_a_students_copy_of_a_broken_spec_is_refused_as_the_spec_is(tmp_path):
    data = json.loads(MATRIX.read_text("utf-8"))
    data["learning_rate"] = "fast"  # a schema error the variants do not touch
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for student in ("hal", "ida"):  # every student, also after the first (the check is cached)
        with pytest.raises(SpecError, match=r"broken\.json.*learning_rate"):
            spec.load_exercise(str(path), student)


# ---------------------------------------------------------------------------- the students' own function cases
def test_own_case_outputs_are_what_a_correct_function_returns_on_each_variant():
    exs = _variants(12)
    outs = variant_keys.own_case_outputs(exs)
    for ex, out in zip(exs, outs, strict=True):
        fns = {fn.name: fn for fn in ex.functions}
        # the exercise case of each function that is not an activation: the student's values
        assert set(out) == {(name, "exercise") for name, fn in fns.items() if fn.activation is None}
        for (name, cid), got in out.items():
            fn = fns[name]
            case = next(c for c in fn.cases if c.id == cid)
            alone = solver.function_outputs(fn, case)  # one variant, the inputs repeated
            assert len(got) == len(alone) == len(fn.returns)
            for ret, g, a in zip(fn.returns, got, alone, strict=True):
                assert g.shape == a.shape and not g.flags.writeable, (name, ret)
                np.testing.assert_allclose(g, a, rtol=1e-9, atol=1e-12, err_msg=f"{name}/{ret}")
    trained = [float(np.sum(out[("train", "exercise")][0])) for out in outs]
    assert len(set(trained)) == len(trained)  # each variant trained on its own values


def test_own_case_outputs_are_the_same_bits_in_any_chunk():
    exs = _variants(20)
    whole = variant_keys.own_case_outputs(exs)
    for start, stop in ((0, 1), (3, 9), (4, 20)):
        for k, out in enumerate(variant_keys.own_case_outputs(exs[start:stop])):
            assert out.keys() == whole[start + k].keys()
            for name, arrays in out.items():
                assert all(np.array_equal(a, b) for a, b in zip(arrays, whole[start + k][name], strict=True))


def test_the_random_cases_are_the_same_objects_in_every_variant():
    a, b = _variants(2, prefix="same")
    for fa, fb in zip(a.functions, b.functions, strict=True):
        assert fa is not fb and fa.name == fb.name
        for ca, cb in zip(fa.cases, fb.cases, strict=True):
            if ca.id == spec.EXERCISE_CASE:  # compiled for each student: their values (an activation's are not)
                differ = [not np.array_equal(u, v) for (_, u), (_, v) in zip(ca.inputs, cb.inputs, strict=True)
                          if isinstance(u, np.ndarray)]
                assert ca is not cb and any(differ) == (fa.activation is None), fa.name
            else:
                assert ca is cb, (fa.name, ca.id)


def test_a_worker_takes_the_function_outputs_of_its_own_variant_only(tmp_path):
    ex = spec.load_exercise("tutorial-4", "gina")
    answers = grading.answer_key("tutorial-4", "gina").answers
    key = {qid: v[0] for qid, v in solver.solve(ex).items()}
    right = variant_keys.own_case_outputs([ex, spec.load_exercise("tutorial-4", "hank")])[0]
    taken = _graded(tmp_path, answers, VariantKey(ex.variant_seed, key, right))
    assert taken.score == taken.max_score
    spoilt = dict(right)
    spoilt[("train", "exercise")] = tuple(np.asarray(a) + 1.0 for a in right[("train", "exercise")])
    taken = _graded(tmp_path, answers, VariantKey(ex.variant_seed, key, spoilt))
    assert next(t for t in taken.tests if t.id == "train/exercise").status == "wrong"
    assert all(t.status == "passed" for t in taken.tests if t.id.startswith("forward/"))
    other = _graded(tmp_path, answers, VariantKey(ex.variant_seed + 1, key, spoilt))  # another variant's
    assert other.score == other.max_score
