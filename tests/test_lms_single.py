"""Late penalties and overrides for one submission: ``grade FILE`` and the Gradescope bundle
(its ``run_autograder`` run against a fake ``/autograder`` tree, as Gradescope runs it)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from lms_autograder import Autograder

from grader import grading, report
from grader.cli import cli

EXERCISE = "tutorial-4-output-layer"


def key_file(path: Path, student: str | None = None) -> Path:
    k = grading.answer_key(EXERCISE, student)
    path.write_text(report.key_json(k.exercise, k.answers))
    return path


def test_grade_file_with_a_deadline_and_an_override(tmp_path):
    answers = key_file(tmp_path / "answers.json")
    overrides = tmp_path / "o.csv"
    overrides.write_text("student,question,points,reason\ns9,w6,+0,no change\ns1,w6,0.5,\"no working, shown\"\n")
    meta = tmp_path / "submission_metadata.json"
    meta.write_text(json.dumps({"users": [{"sid": "s1", "email": "a@uni.example"}]}))  # no created_at
    res = CliRunner().invoke(cli, [str(answers), "-e", EXERCISE, "--metadata", str(meta), "--format", "json",
                                   "--deadline", "2026-03-01T23:59:00-05:00", "--late-penalty", "25",
                                   "--submitted-at", "2026-03-03T05:00:00Z", "--overrides", str(overrides)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    adj = data["extra_data"]["adjustments"]
    # 2026-03-02T04:59Z deadline, submitted 24 h 1 min later: two days, 50 %
    assert (adj["lateness"], adj["days_late"], adj["penalty_percent"]) == ("1d 1m", 2, 50.0)
    assert adj["raw_score"] == 19 and data["score"] == pytest.approx((19 - 1.5) * 0.5)
    assert any("instructor override of w6: 2 -> 0.5 of 2 (no working, shown)" in w for w in data["warnings"])
    w6 = next(t for t in data["tests"] if t["id"] == "w6")
    assert w6["status"] == "partial" and w6["feedback"].endswith("Instructor override: no working, shown")

    text = CliRunner().invoke(cli, [str(answers), "-e", EXERCISE, "--deadline", "2026-03-01T23:59:00Z",
                                    "--late-penalty", "10"]).output
    assert "the submission time is the file's modification time" in text  # no time given: said so


def test_an_override_for_a_question_this_result_lacks_is_an_error(tmp_path):
    answers = key_file(tmp_path / "answers.json")
    overrides = tmp_path / "o.csv"
    overrides.write_text("student,question,points,reason\ns1,nope,1,x\n")
    res = CliRunner().invoke(cli, [str(answers), "-e", EXERCISE, "--overrides", str(overrides)],
                             env={"GRADER_STUDENT": "s1", "GRADER_SECRET": "x"})
    assert res.exit_code == 2 and f"{overrides}: line 2: no question or case 'nope'" in res.output


@pytest.fixture
def autograder(tmp_path):
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("student,question,points,reason\ns1,w6,0,copied\nlate@uni.example,*,12,agreed\n")
    box = Autograder(tmp_path, EXERCISE, "--deadline", "2026-03-01T23:59:00Z", "--late-penalty", "10",
                     "--grace", "15m", "--late-cap", "3d", "--overrides", str(overrides))
    with zipfile.ZipFile(box.zip) as z:
        assert z.read("grader_options").decode().splitlines() == [
            "--deadline", "2026-03-01T23:59:00Z", "--late-penalty", "10.0", "--grace", "15m", "--late-cap", "3d"]

    def run(user: dict, created_at: str, answers_of: str | None = None) -> dict:
        k = grading.answer_key(EXERCISE, answers_of)
        return box.run({"answers.json": report.key_json(k.exercise, k.answers)},
                       {"users": [user], "created_at": created_at})

    return run


def test_gradescope_bundle_applies_deadline_and_overrides(autograder):
    on_time = autograder({"sid": "s1", "email": "a@uni.example"}, "2026-03-02T00:10:00.123456+00:00")
    assert on_time["score"] == 17  # within the grace; w6 overridden to 0
    assert on_time["extra_data"]["adjustments"]["time_source"] == "gradescope"
    assert "instructor override of w6" in on_time["output"]

    late = autograder({"sid": "s2", "email": "b@uni.example"}, "2026-03-02T10:00:00-08:00")  # 18 h 1 min
    assert late["score"] == pytest.approx(19 * 0.9) and "-10%" in late["output"]

    past = autograder({"sid": "s3", "email": "c@uni.example"}, "2026-03-05T00:00:01Z")
    assert past["score"] == 0 and "past the last accepted time" in past["output"]

    agreed = autograder({"sid": "", "email": "late@uni.example"}, "2026-03-09T00:00:00Z")  # past the cap
    assert agreed["score"] == 12  # the whole-score override matches the email


def test_bundle_refuses_an_overrides_file_with_a_typo(tmp_path):
    overrides = tmp_path / "o.csv"
    overrides.write_text("student,question,points,reason\ns1,w66,0,x\n")
    res = CliRunner().invoke(cli, ["bundle", EXERCISE, "--gradescope", "-o", str(tmp_path / "a.zip"),
                                   "--overrides", str(overrides)])
    assert res.exit_code == 2 and "no question or case 'w66'" in res.output and "did you mean" in res.output
    assert not (tmp_path / "a.zip").exists()
