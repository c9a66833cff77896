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


def _pairwise(ex, answers, everyone, key_of):
    """The definition, one pair of students and one question at a time (the oracle)."""
    out = []
    people = sorted(set(everyone) | set(answers))
    for w in sorted(answers):
        for p in people:
            if p == w:
                continue
            hit = differs = own = 0
            for q in ex.questions:
                if q.id not in answers[w]:
                    continue
                a = np.squeeze(np.asarray(answers[w][q.id], dtype=float))
                mine, theirs = (np.squeeze(np.asarray(key_of(s)[q.id], dtype=float)) for s in (w, p))
                if a.shape != mine.shape:
                    continue
                if compare.within(mine, theirs, q.tolerance).all():
                    continue  # this question does not tell the two variants apart
                differs += 1
                hit += bool(compare.within(a, theirs, q.tolerance).all())
                own += bool(compare.within(a, mine, q.tolerance).all())
            if hit >= max(shared.MIN_QUESTIONS, shared.SHARE * differs) and hit > own:
                out.append((w, p, hit, own, differs))
    return out


def test_a_class_of_copiers_is_found_as_the_pairwise_definition_finds_it(keys):
    ex = spec.load_exercise(EXERCISE)
    people = [f"p{k:02d}" for k in range(24)]
    rng = np.random.default_rng(5)
    answers = {}
    for k, w in enumerate(people[:16]):
        source = keys(people[(k * 7 + 3) % len(people)]) if k % 3 else keys(w)
        mine = keys(w)
        share = (0.5, 0.8, 1.0)[k % 3]  # some copy most, some half, some nothing
        answers[w] = {q: np.asarray((source if rng.random() < share else mine)[q]).tolist() for q in mine}
    got = [(f.student, f.other, f.matches_other, f.matches_own, f.questions)
           for f in shared.find(ex, answers, people, keys)]
    want = _pairwise(ex, answers, people, keys)
    assert got == want and len(want) >= 3  # copiers found, and the oracle's counts
