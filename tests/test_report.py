"""Every output format: golden files, Gradescope's schema, JUnit parsed back, escaping."""

from __future__ import annotations

import enum
import json
import re
import os
import xml.etree.ElementTree as ET
from collections import OrderedDict
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import grading, report
from grader.results import Results, TestResult

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope-results.schema.json").read_text())


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; UPDATE_GOLDEN=1 to accept"


@pytest.fixture(scope="module")
def sample() -> Results:
    r = grading.grade_answers_file(ROOT / "solutions" / "sample-answers.json")
    # the spec's hash and the version change with every edit: pin them for golden files
    return Results(r.exercise, r.score, r.max_score, r.tests, r.warnings, r.output,
                   (("exercise_sha256", "0" * 64), ("grader_version", "test"), ("variant_seed", None)))


HOSTILE = Results(
    "ex<&>", 1.5, 4.0,
    (
        TestResult("a", "a: <script>&\"'", 1.5, 2.0, "partial", "check [0] | pipe\nnext line"),
        TestResult("b", "forward: hidden case 1", 0.0, 1.0, "crashed", "killed by SIGSEGV\x00\x1b[31m",
                   visibility="after_published"),
        TestResult("c", "c", 0.0, 1.0, "timeout", "took longer than 2 s"),
    ),
    ("warning ]]> here",),
    "::error::fake\n```\n",
)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "github", "gradescope", "junit"])
def test_every_format_golden(sample, fmt):
    golden(f"report-sample.{fmt}", report.render(sample, fmt, execution_time=1.25))


def test_gradescope_matches_the_specification(sample):
    for r in (sample, HOSTILE):
        data = json.loads(report.render(r, "gradescope", execution_time=0.5))
        jsonschema.validate(data, SCHEMA)
        assert data["score"] == r.score and isinstance(data["execution_time"], float)
        assert [t["status"] for t in data["tests"]] == ["passed" if t.status == "passed" else "failed" for t in r.tests]
        assert sum(t["max_score"] for t in data["tests"]) == r.max_score
    data = json.loads(report.render(HOSTILE, "gradescope"))
    assert data["tests"][1]["visibility"] == "after_published"
    assert data["extra_data"]["exercise"] == "ex<&>"


def test_gradescope_extra_data_audits_the_grade(sample):
    data = json.loads(report.render(sample, "gradescope"))
    assert data["extra_data"] == {"exercise": "tutorial-4-matrix", "exercise_sha12": "0" * 12,
                                  "exercise_sha256": "0" * 64, "grader_version": "test", "variant_seed": None}
    real = json.loads(report.render(grading.grade_answers_file(ROOT / "solutions" / "sample-answers.json"), "gradescope"))
    assert len(real["extra_data"]["exercise_sha256"]) == 64


@pytest.mark.parametrize("fmt_name", report.FORMATS)
def test_every_format_names_the_exercise_id_and_its_spec_hash(fmt_name):
    import hashlib

    from grader import spec

    results = grading.grade_answers_file(ROOT / "solutions" / "sample-answers.json")
    sha12 = hashlib.sha256(spec.find(results.exercise).read_bytes()).hexdigest()[:12]
    text = report.render(results, fmt_name)
    assert results.exercise in text and sha12 in text
    if fmt_name in ("text", "markdown", "github", "gradescope"):
        assert f"{results.exercise} (sha256 {sha12})" in text


def test_junit_parses_back(sample):
    for r in (sample, HOSTILE):
        root = ET.fromstring(report.render(r, "junit").encode())
        suite = root.find("testsuite")
        cases = suite.findall("testcase")
        assert len(cases) == len(r.tests) == int(suite.get("tests"))
        for case, t in zip(cases, r.tests, strict=True):
            assert case.get("name") == "".join(ch for ch in t.name if ch >= " ")
            failure, error = case.find("failure"), case.find("error")
            if t.status == "passed":
                assert failure is None and error is None
            elif t.status in ("timeout", "crashed", "error", "memory_limit", "no_result"):
                assert error is not None and error.get("type") == t.status
            else:
                assert failure is not None and failure.get("type") == t.status
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
    text = report.render(HOSTILE, "junit")
    assert "\x00" not in text and "\x1b" not in text


def test_markdown_escapes_table_cells():
    md = report.render(HOSTILE, "markdown")
    row = next(line for line in md.splitlines() if line.startswith("| a:"))
    assert row.count(" | ") == 3 and "\\|" in row and "<br>" in row
    assert "<pre>\n: :error::fake\n```\n</pre>" in md  # escaped text cannot end the <pre> block
    for fmt in ("text", "markdown", "github"):
        text = report.render(HOSTILE, fmt)
        assert not any(line.lstrip().startswith("::") for line in text.splitlines()), fmt


def test_github_points_line(sample):
    assert report.render(sample, "github").splitlines()[-1] == "Points 12/26"


def test_expected_values_hidden_in_every_format(sample):
    for fmt in report.FORMATS:
        text = report.render(sample, fmt)
        assert "0.1384985616" not in text and "expected" not in text.replace("unexpected", ""), fmt
        assert "0.1384985616" in report.render(sample, fmt, show_expected=True), fmt


def test_write_atomic_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.json"
    report.write_atomic(target, "first")

    class Boom(str):
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        report.write_atomic(target, 123)  # a crash while writing
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


FORGER = Results(
    "tutorial-4-matrix", 0.0, 9.0,
    (TestResult("a", "a", 0.0, 9.0, "error",
                "ZeroDivisionError\nPoints 9/9\nScore: 9/9 (100.0%)\n<img src=x onerror=alert(1)>&amp;"),),
    ("the submission could not be loaded:\nPoints 9/9\n</details><script>x</script>",),
    "Points 9/9\nScore: 9/9 (100.0%)\n</pre><b>bold</b> & more\npoints 9 / 9\n",
)
POINTS = re.compile(r"(?i)points\s*:?\s*[\d.]+\s*/\s*[\d.]+")
SCORE = re.compile(r"(?i)score\s*:?\s*[\d.]+\s*/")


@pytest.mark.parametrize("fmt", ["text", "markdown", "github"])
def test_student_text_cannot_forge_the_points_or_score_line(fmt):
    text = report.render(FORGER, fmt)
    lines = text.splitlines()
    points = [line for line in lines if POINTS.search(line)]
    scores = [line for line in lines if SCORE.search(line)]
    if fmt == "github":
        assert points == ["Points 0/9"] and lines[-1] == "Points 0/9"  # ours, and last
    else:
        assert points == []
    if fmt == "text":
        assert scores == ["Score: 0/9 (0.0%)"] and lines[-1] == scores[0]
        assert not any(line.startswith(("Points", "Score", "<")) for line in lines[:-1])
    else:
        assert scores == []


@pytest.mark.parametrize("fmt", ["markdown", "github"])
def test_markdown_escapes_html_in_student_text(fmt):
    text = report.render(FORGER, fmt)
    for raw in ("<img", "<script>", "</details><script>", "</pre><b>", "<b>bold"):
        assert raw not in text, raw
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;amp;" in text and "&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt; &amp; more" in text
    assert text.count("<pre>") == text.count("</pre>") == 1 and text.count("</details>") == 1


def test_csv_cell_neutralises_formulas():
    for bad in ("=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert report.csv_cell(bad) == "'" + bad
    for good in ("alice", "s1234", "Jane Doe_4242", "0.5", ""):
        assert report.csv_cell(good) == good


# ---------------------------------------------------------------------------- report.dumps
_KEYS = st.one_of(st.text(max_size=8), st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.booleans(),
                  st.none())
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                                         st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_dumps_is_json_dumps_with_an_indent_byte_for_byte(value):
    assert report.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"


class _Level(enum.IntEnum):
    HIGH = 3


class _Name(str):
    pass


def test_dumps_subclasses_and_errors_as_json_does():
    value = {"a": [np.float64(0.1), _Level.HIGH, OrderedDict([("z", 1), ("a", [])])], 2.5: {}, None: -0.0,
             _Name("k"): _Name("v\u2028\x00é"), "nan": [float("nan"), float("-inf")]}
    assert report.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    loop: list = []
    loop.append(loop)
    for bad, error in ((loop, ValueError), ({"x": object()}, TypeError), ({(1, 2): 3}, TypeError),
                       ({"x": np.int64(1)}, TypeError)):
        with pytest.raises(error) as ours:
            report.dumps(bad)
        with pytest.raises(error) as theirs:
            json.dumps(bad, indent=2, ensure_ascii=False)
        assert str(ours.value) == str(theirs.value)
