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
from grader.variant_keys import ClassKeys, VariantKey, solve_class

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "exercises" / "tutorial-4-matrix.json"
CORRECT = (ROOT / "solutions" / "submission.py").read_text("utf-8")
CODE_ONLY = CORRECT.split("\n\n# The typed questions")[0] + "\n"


SECRET = "variant-keys-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", SECRET)


def _variants(n: int, exercise: str = "tutorial-4", prefix: str = "s") -> list:
    return [spec.load_exercise(exercise, f"{prefix}{k}") for k in range(n)]


def _class(n: int, prefix: str = "s", exercise: str = "tutorial-4") -> tuple[list[str], dict[str, VariantKey]]:
    students = [f"{prefix}{k}" for k in range(n)]
    return students, solve_class(spec.load_exercise(exercise), students, SECRET)


def test_each_key_of_a_chunk_is_the_key_of_its_variant_compiled_and_solved_alone():
    students, keys = _class(24)
    for student in students:
        ex = spec.load_exercise("tutorial-4", student)  # the student's own copy, compiled
        key = keys[student]
        assert key.fits(ex) and key.seed == ex.variant_seed  # the values written are the compiled ones
        alone = {qid: v[0] for qid, v in solver.solve(ex).items()}
        assert key.answers.keys() == alone.keys()
        for qid in alone:  # E_1000 trains 1,000 epochs: other kernels, the same number to 1e-9
            np.testing.assert_allclose(key.answers[qid], alone[qid], rtol=1e-9, atol=1e-12, err_msg=qid)
    # the variants differ, so a key that ignored its own values would fail the loop above
    assert len({float(np.asarray(k.answers["E_1000"])) for k in keys.values()}) == len(keys)


@pytest.mark.parametrize("path", sorted(p.name for p in (ROOT / "exercises").glob("*.json")
                                        if '"variants"' in p.read_text("utf-8")))
def test_the_values_written_for_each_student_are_their_compiled_copys(path):
    """Each bundled exercise with variants: the values written into a student's slice (no copy
    compiled) are exactly those of the student's copy compiled, so each worker takes the key."""
    students = [f"w{k}" for k in range(5)]
    keys = solve_class(spec.load_exercise(str(ROOT / "exercises" / path)), students, SECRET)
    assert keys.keys() == set(students)
    for s in students:
        assert keys[s].fits(spec.load_exercise(str(ROOT / "exercises" / path), s)), s


def test_a_key_fits_its_own_variant_only():
    students, keys = _class(3)
    a, b = (spec.load_exercise("tutorial-4", s) for s in students[:2])
    assert keys[students[0]].fits(a) and not keys[students[0]].fits(b)
    moved = dataclasses.replace(keys[students[0]], values=(keys[students[0]].values[0] + 0.01,
                                                           *keys[students[0]].values[1:]))
    assert not moved.fits(a)  # the seed is right, a value is not: a copy compiled otherwise
    assert not dataclasses.replace(keys[students[0]], values=()).fits(a)


def test_a_students_key_is_the_same_bits_in_any_chunk():
    students, whole = _class(40)
    ex = spec.load_exercise("tutorial-4")
    for start, stop in ((0, 1), (5, 8), (10, 30)):  # padded, padded, not padded
        part = solve_class(ex, students[start:stop], SECRET)
        assert part.keys() == set(students[start:stop])
        for s, key in part.items():
            assert key.outputs and key.outputs.keys() == whole[s].outputs.keys()
            for qid, v in key.answers.items():
                assert np.array_equal(v, whole[s].answers[qid]), (s, qid)
            for name, arrays in key.outputs.items():
                assert all(np.array_equal(p, q) for p, q in zip(arrays, whole[s].outputs[name], strict=True))


def test_keys_are_read_only_copies():
    key = next(iter(_class(3)[1].values()))
    arrays = [v for v in (*key.answers.values(), *key.values, *(a for o in key.outputs.values() for a in o))
              if isinstance(v, np.ndarray)]
    assert arrays and all(not v.flags.writeable and v.base is None for v in arrays)


def test_a_variant_whose_key_is_not_finite_is_left_to_its_worker():
    ex = spec.load_exercise("tutorial-4")
    values = variant_keys.class_values(ex, [variants.seed(ex.id, f"s{k}", SECRET) for k in range(9)])
    values.W[0][4] = np.nan
    keys = variant_keys.solve_values(ex, values)
    assert keys[4] is None and all(k is not None for i, k in enumerate(keys) if i != 4)


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
    key = solve_class(spec.load_exercise("tutorial-4"), ["gina"], SECRET)["gina"]
    assert _graded(tmp_path, answers, key).score == right.score
    spoilt = dataclasses.replace(key, answers=dict(key.answers, E=np.float64(float(key.answers["E"]) + 1.0)))
    taken = _graded(tmp_path, answers, spoilt)  # a key that says E is something else: it is taken
    assert taken.score < right.score and next(t for t in taken.tests if t.id == "E").status != "passed"
    other = _graded(tmp_path, answers, dataclasses.replace(spoilt, seed=ex.variant_seed + 1))  # another variant's
    assert other.score == right.score
    moved = dataclasses.replace(spoilt, values=(spoilt.values[0] * 2, *spoilt.values[1:]))  # other values
    assert _graded(tmp_path, answers, moved).score == right.score


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
    students, keys = _class(12)
    for student in students:
        ex = spec.load_exercise("tutorial-4", student)  # the student's copy, compiled
        fns = {fn.name: fn for fn in ex.functions}
        out = keys[student].outputs
        # the exercise case of each function that is not an activation: the student's values
        assert set(out) == {(name, "exercise") for name, fn in fns.items() if fn.activation is None}
        for (name, cid), got in out.items():
            fn = fns[name]
            case = next(c for c in fn.cases if c.id == cid)
            alone = solver.function_outputs(fn, case)  # one variant, on the compiled copy's inputs
            assert len(got) == len(alone) == len(fn.returns)
            for ret, g, a in zip(fn.returns, got, alone, strict=True):
                assert g.shape == a.shape and not g.flags.writeable, (name, ret)
                np.testing.assert_allclose(g, a, rtol=1e-9, atol=1e-12, err_msg=f"{name}/{ret}")
    trained = [float(np.sum(key.outputs[("train", "exercise")][0])) for key in keys.values()]
    assert len(set(trained)) == len(trained)  # each variant trained on its own values


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
    answers = grading.answer_key("tutorial-4", "gina").answers
    key = solve_class(spec.load_exercise("tutorial-4"), ["gina", "hank"], SECRET)["gina"]
    assert _graded(tmp_path, answers, key).score == _graded(tmp_path, answers, key).max_score
    outputs = dict(key.outputs)
    outputs[("train", "exercise")] = tuple(np.asarray(a) + 1.0 for a in outputs[("train", "exercise")])
    taken = _graded(tmp_path, answers, dataclasses.replace(key, outputs=outputs))
    assert next(t for t in taken.tests if t.id == "train/exercise").status == "wrong"
    assert all(t.status == "passed" for t in taken.tests if t.id.startswith("forward/"))
    other = _graded(tmp_path, answers, dataclasses.replace(key, outputs=outputs, seed=key.seed + 1))
    assert other.score == other.max_score


DEEP = {'id': 'deep-variants',
 'title': 'a 2-3-2-2 network with tied biases',
 'network': {'layers': [{'neurons': ['x1', 'x2'], 'output': 'x'},
                        {'neurons': ['h1', 'h2', 'h3'], 'activation': 'tanh', 'weights': 'W(1)', 'output': 'h'},
                        {'neurons': ['g1', 'g2'],
                         'activation': 'sigmoid',
                         'weights': 'W(2)',
                         'bias': 'b(2)',
                         'output': 'g'},
                        {'neurons': ['y1', 'y2'],
                         'activation': 'sigmoid',
                         'weights': 'W(3)',
                         'bias': 'b(3)',
                         'output': 'y'}],
             'parameters': {'W(1)': {'init': {'seed': 1, 'scale': 0.5}},
                            'bh': {'to': ['h1', 'h2', 'h3'], 'value': 0.1},
                            'W(2)': {'init': {'seed': 2, 'scale': 0.5}},
                            'b(2)': {'value': [0.0, 0.1]},
                            'W(3)': {'init': {'seed': 3, 'scale': 0.5}},
                            'b(3)': {'value': [0.2, -0.1]}}},
 'inputs': {'x1': 0.3, 'x2': -0.2},
 'targets': {'y1': 0.1, 'y2': 0.9},
 'loss': 'half_sse',
 'learning_rate': 0.3,
 'questions': [{'id': 'E', 'ask': 'E'},
               {'id': 'dbh', 'ask': 'dE/dbh'},
               {'id': 'dW1', 'ask': 'dE/dW(1)'},
               {'id': 'E5', 'ask': 'E', 'after_epochs': 5}],
 'functions': {'forward': {'points': 1},
               'backward': {'points': 1},
               'train': {'points': 1, 'epochs': 20},
               'loss': {'points': 1}},
 'variants': {'values': {'x1': {'range': [0.1, 0.5], 'decimals': 2},
                         'y2': {'range': [0.6, 0.95], 'decimals': 2},
                         'bh': {'range': [-0.3, 0.3], 'decimals': 2}}}}


def test_keys_of_a_deeper_network_with_a_varied_tied_bias(tmp_path):
    """Three layers, tanh below sigmoid, one bias shared by a whole layer and varied, an input
    and a target varied, a loss function: each key fits its compiled copy and answers as it;
    the loss function's case is not the students' values (it is given outputs): left to the worker."""
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(DEEP), encoding="utf-8")
    students = [f"d{k}" for k in range(10)]
    keys = solve_class(spec.load_exercise(str(path)), students, SECRET)
    for student in students:
        ex = spec.load_exercise(str(path), student)
        key = keys[student]
        assert key.fits(ex)
        for qid, v in solver.solve(ex).items():
            np.testing.assert_allclose(key.answers[qid], v[0], rtol=1e-9, atol=1e-12, err_msg=qid)
        fns = {fn.name: fn for fn in ex.functions}
        assert set(key.outputs) == {("forward", "exercise"), ("backward", "exercise"), ("train", "exercise")}
        for (name, cid), got in key.outputs.items():
            case = next(c for c in fns[name].cases if c.id == cid)
            for g, a in zip(got, solver.function_outputs(fns[name], case), strict=True):
                np.testing.assert_allclose(g, a, rtol=1e-9, atol=1e-12, err_msg=name)
    assert len({float(k.values[3][0]) for k in keys.values()}) > 1  # the tied bias (b of layer 1) varies
