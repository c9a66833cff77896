"""What depends only on an exercise (grader/exercise_values.py): the answer key and the outputs of
a correct solution on every function case, kept on disk by the exercise's content and read back
exactly, never for a student's variant, and solved again whenever the file is in doubt."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader import exercise_values as E
from grader import solver, spec


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    E._ONCE.clear()
    yield tmp_path / "values"
    E._ONCE.clear()


def fresh(name="tutorial-4", **kwargs):
    """The exercise as a new process would load it (nothing in memory)."""
    E._ONCE.clear()
    spec.files._load_cached.cache_clear()
    return spec.load_exercise(name, **kwargs)


def same(a, b):
    assert type(a) is type(b) and np.shape(a) == np.shape(b) and np.array_equal(a, b)


def no_solver(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the solver ran although the values were on disk")
    monkeypatch.setattr(solver, "solve", refuse)
    monkeypatch.setattr(solver, "function_outputs", refuse)


def test_values_come_back_from_disk_exactly_without_solving(cache, monkeypatch):
    ex = fresh()
    key, outputs = E.reference(ex), E.function_outputs(ex)
    assert len(list(cache.iterdir())) == 2  # the key, the functions' outputs
    assert any(np.ndim(v) == 0 and not isinstance(v, np.ndarray) for v in key.values())  # E: a NumPy scalar
    ex = fresh()  # (compiling a spec solves its hidden cases' gradients: a check of the spec itself)
    no_solver(monkeypatch)
    key2, outputs2 = E.reference(ex), E.function_outputs(ex)
    assert list(key2) == list(key) and list(outputs2) == list(outputs)
    for k in key:
        same(key[k], key2[k])
    for k in outputs:
        assert len(outputs[k]) == len(outputs2[k])
        for a, b in zip(outputs[k], outputs2[k], strict=True):
            same(a, b)
            assert not b.flags.writeable  # as the computed ones: shared by every submission
    assert set(outputs) == {(fn.name, c.id) for fn in ex.functions for c in fn.cases}


def test_a_damaged_file_is_solved_again(cache):
    ex = fresh()
    key = E.reference(ex)
    (path,) = cache.iterdir()
    good = path.read_bytes()
    for bad in (good[:len(good) // 2], b"junk" + good, good.replace(b'"z2"', b'"zz"'), b""):
        path.write_bytes(bad)
        again = E.reference(fresh())
        for k in key:
            same(key[k], again[k])
        assert path.read_bytes() == good  # and written again whole


def test_the_file_is_named_by_content_and_code_and_never_holds_a_variant(cache, monkeypatch, tmp_path):
    ex = fresh()
    E.reference(ex)
    data = json.loads(open(ex.path).read())
    data["learning_rate"] = 0.25
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    E.reference(fresh(str(other)))
    assert len(list(cache.iterdir())) == 2  # another exercise, another file
    name = E._file(ex, "reference")
    monkeypatch.setattr(E, "_code_signature", lambda: "an edited solver")
    assert E._file(ex, "reference") != name
    monkeypatch.setenv("GRADER_SECRET", "course-secret")
    variant = fresh("tutorial-4", student="alice")
    assert variant.variant_seed is not None and E._file(variant, "reference") is None
    E.reference(variant)
    assert len(list(cache.iterdir())) == 2
