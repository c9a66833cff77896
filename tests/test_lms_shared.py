"""Shared answers: answers that fit another student's variant better than their own."""

from __future__ import annotations

import numpy as np
import pytest

from grader import compare, grading, spec
from grader.lms import shared

EXERCISE = "tutorial-4-output-layer"


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "shared-answers-secret")
    cache = {}

    def key_of(student):
        if student not in cache:
            cache[student] = grading.reference(spec.load_exercise(EXERCISE, student))
        return cache[student]

    return key_of


def plain(key):
    return {q: np.asarray(v).tolist() for q, v in key.items()}


def test_copied_answers_are_found_with_their_counts(keys):
    ex = spec.load_exercise(EXERCISE)
    alice, carol = keys("alice"), keys("carol")
    copied = plain(alice)
    copied["o1"] = np.asarray(carol["o1"]).tolist()  # one answer of her own
    differ = [q.id for q in ex.questions
              if not compare.within(np.asarray(carol[q.id]), np.asarray(alice[q.id]), q.tolerance).all()]
    assert len(differ) >= 10 and "o1" in differ
    findings = shared.find(ex, {"carol": copied, "alice": plain(alice), "dave": {"o1": 0.5}},
                           ["alice", "bob", "carol", "dave"], keys)
    assert [(f.student, f.other) for f in findings] == [("carol", "alice")]
    f = findings[0]
    assert (f.matches_other, f.matches_own, f.questions) == (len(differ) - 1, 1, len(differ))
    assert f.line() == f"  carol's answers match alice's variant on {len(differ) - 1} of {len(differ)} questions (their own on 1)"


def test_a_few_coincidences_are_not_a_finding(keys):
    ex = spec.load_exercise(EXERCISE)
    own = plain(keys("erin"))
    other = plain(keys("frank"))
    half = {q: (other if i % 2 else own)[q] for i, q in enumerate(own)}  # half and half: not "most"
    assert shared.find(ex, {"erin": half}, ["erin", "frank"], keys) == []
    assert shared.find(ex, {"erin": own}, ["erin", "frank"], keys) == []


def test_without_variants_nothing_is_checked(monkeypatch):
    monkeypatch.delenv("GRADER_SECRET", raising=False)
    ex = spec.load_exercise(EXERCISE)
    rows = [{"student": "a", "answers": {"o1": 1}}]
    assert shared.summary_lines(ex, rows, str) == []


def test_batched_variant_keys_equal_each_students_own_key(keys):
    ex = spec.load_exercise("tutorial-4-matrix")
    students = ["s1", "s2", "Jane Doe", "s4"]
    batched = shared.variant_keys(ex, students, "shared-answers-secret")
    for s in students:
        own = grading.reference(spec.load_exercise("tutorial-4-matrix", s))
        for q in ex.questions:
            np.testing.assert_allclose(batched[s][q.id], own[q.id], rtol=1e-12, atol=1e-15, err_msg=f"{s} {q.id}")
