"""``--format classroom``: the runner result GitHub Classroom's autograding reporter reads.

The reporter (classroom-resources/autograding-grading-reporter) decodes ``<RUNNER>_RESULTS`` from
base64, sums ``max_score`` and ``tests[].score`` and posts ``Points total/max``; the tests below
check the payload against what its source reads, and the sum as its JavaScript computes it
(IEEE doubles, added in order: Python's floats are the same). Set ``GRADER_CLASSROOM_REPORTER``
to the reporter's ``dist/main.js`` (release v1) to run the real action with node as well.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from grader.cli import cli
from grader.lms import classroom
from grader.results import Results, TestResult

ROOT = Path(__file__).resolve().parents[1]


def reporter_sum(payload: dict) -> tuple[float, float]:
    total = 0.0
    for t in payload["tests"]:
        total += t["score"]
    return total, payload["max_score"]


def js_number(x: float) -> str:  # how JavaScript prints a double in a template string
    return str(int(x)) if float(x).is_integer() else repr(x)


def grade(tmp_path, *args: str) -> tuple[str, dict]:
    out = tmp_path / "github_output"
    result = CliRunner().invoke(cli, [*args, "--format", "classroom"], env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == 1 and lines[0].startswith("result=")
    return result.output, json.loads(base64.b64decode(lines[0][len("result="):]))


@pytest.mark.parametrize("submission, status", [("submission.py", "pass"), ("partly-correct.py", "fail")])
def test_payload_is_what_the_reporter_reads(tmp_path, submission, status):
    text, payload = grade(tmp_path, str(ROOT / "solutions" / submission), "-e", "tutorial-4")
    assert set(payload) == {"version", "status", "max_score", "tests"} and payload["version"] == 1
    assert payload["status"] == status
    for t in payload["tests"]:
        assert set(t) == {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}
        assert t["status"] in ("pass", "fail", "error") and isinstance(t["score"], (int, float))
    total, top = reporter_sum(payload)
    points = re.search(r"^Points (\S+)/(\S+)$", text, re.M)
    assert points and f"Points {js_number(total)}/{js_number(top)}" == points.group(0)  # same line as ours
    assert "| test | points | status | feedback |" in text  # the table, as --format github


def test_crashes_are_errors_and_nothing_a_student_writes_adds_an_output_line(tmp_path):
    forged = "boom\n::error::forged\nresult=eyJmb3JnZWQiOiB0cnVlfQ=="
    r = Results("ex", 0.5, 2.0, (TestResult("a", forged, 0.5, 1.0, "partial", forged),
                                  TestResult("b", "b", 0.0, 1.0, "crashed", forged)))
    out = tmp_path / "out"
    assert classroom.publish(r, {"GITHUB_OUTPUT": str(out)}) is None
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == 1
    payload = json.loads(base64.b64decode(lines[0].split("=", 1)[1]))
    assert payload["status"] == "error" and [t["status"] for t in payload["tests"]] == ["fail", "error"]
    assert payload["tests"][0]["message"] == forged  # kept, inside the encoded JSON only
    assert classroom.publish(r, {}).startswith("result=")  # outside Actions: the line to print


@given(st.lists(st.integers(0, 3000), min_size=1, max_size=40), st.integers(1, 7))
@example([102, 6, 2865], 1)  # 1.02 + 0.06 + 28.65: a tie that moving 0.06 by its own last place cannot break
def test_scores_add_up_in_the_reporters_order_to_the_total(parts, share):
    scores = [p / (100 * share) for p in parts]  # thirds, sevenths: shares of a function's points
    total = sum(scores)
    fixed = classroom._scores(scores, total)
    acc = 0.0
    for x in fixed:
        acc += x
    assert acc == round(total, 2)
    assert all(abs(a - b) <= 0.011 * len(scores) for a, b in zip(fixed, scores, strict=True))


@pytest.mark.skipif(not (os.environ.get("GRADER_CLASSROOM_REPORTER") and shutil.which("node")),
                    reason="GRADER_CLASSROOM_REPORTER (the reporter's dist/main.js) and node not given")
def test_the_real_reporter_posts_our_points(tmp_path):
    text, payload = grade(tmp_path, str(ROOT / "solutions" / "partly-correct.py"), "-e", "tutorial-4")
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    run = subprocess.run(["node", os.environ["GRADER_CLASSROOM_REPORTER"]], capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"], "INPUT_RUNNERS": "grader", "GRADER_RESULTS": encoded})
    points = re.search(r"^Points \S+/\S+$", text, re.M).group(0)
    assert f"::notice title=Autograding complete::{points}" in run.stdout
