"""A class with a roster, through ``grade batch`` as an instructor runs it: some people did not
submit, some submissions match nobody, two students swapped answers; LMS gradebooks, late
penalties and overrides. Answers files only, so no sandbox is needed and the tests stay fast.

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 pytest tests/test_lms_class.py``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import grading, report
from grader.cli import cli

DATA = Path(__file__).parent / "lms_data"
GOLDEN = Path(__file__).parent / "golden" / "lms"
EXERCISE = "tutorial-4-output-layer"
SECRET = "test-lms-class-secret"
CANVAS = """Student,ID,SIS User ID,SIS Login ID,Section,Tutorial 4 (1234),Current Score
    Points Possible,,,,,19,(read only)
"Smith, Alice",1001,s100,asmith,ML 2026,,
"Jones, Bob",1002,s200,bjones,ML 2026,,
"White, Carol",1003,s300,cwhite,ML 2026,,
"Lee, Dave",1004,s400,dlee,ML 2026,,
"=HYPERLINK(""http://x"")",1005,s500,erin,ML 2026,,
"""


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; UPDATE_GOLDEN=1 to accept"


def key(student: str | None) -> dict:
    k = grading.answer_key(EXERCISE, student)
    return json.loads(report.key_json(k.exercise, k.answers))


@pytest.fixture
def klass(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", SECRET)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "asmith.json").write_text(json.dumps(key("s100")))  # by SIS Login ID: her own key
    (subs / "s200.json").write_text(json.dumps(key("s300")))  # by SIS User ID: Bob hands in Carol's key
    (subs / "cwhite").mkdir()
    (subs / "cwhite" / "answers.json").write_text(json.dumps(key("s200")))  # ... and Carol Bob's
    (subs / "mallory.json").write_text(json.dumps(key(None)))  # on no roster
    roster = tmp_path / "canvas.csv"
    roster.write_text(CANVAS)
    return subs, roster, tmp_path / "out"


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["batch", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_canvas_class_with_absent_unmatched_and_swapped_answers(klass):
    subs, roster, out = klass
    text = run(str(subs), "-e", EXERCISE, "-o", str(out), "-j", "1", "--roster", str(roster),
               "--gradebook", "canvas", "--assignment", "Tutorial 4 (1234)")
    canvas = (out / "gradebook-canvas.csv").read_text("utf-8")
    golden("class-gradebook-canvas.csv", canvas)
    rows = list(csv.reader(io.StringIO(canvas)))
    # Canvas's importer: Student, ID, …, Section first; the points row; everyone on the roster, in order
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Tutorial 4 (1234)"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][-1] == "19"
    assert [r[1] for r in rows[2:]] == ["1001", "1002", "1003", "1004", "1005"]
    scores = {r[2]: float(r[-1]) for r in rows[2:]}
    assert scores["s100"] == 19 and scores["s400"] == 0 and scores["s500"] == 0
    assert 0 < scores["s200"] < 19 and 0 < scores["s300"] < 19  # variants differ in most answers
    assert rows[6][0].startswith("'=")  # a name that is a formula is not run by a spreadsheet

    summary = (out / "summary.txt").read_text("utf-8")
    assert summary in text
    golden("class-summary-canvas.txt", summary[summary.index("Roster:"):])  # the LMS part of the summary
    assert "Roster: canvas (5 people); 3 submissions matched" in summary
    assert "Submissions that match nobody on the roster (1):\n  mallory" in summary
    assert "On the roster without a submission (2; 0 points, no_result):\n  s400 (Lee, Dave)\n" in summary
    assert "Jones, Bob (s200)'s answers match White, Carol (s300)'s variant on" in summary
    assert "White, Carol (s300)'s answers match Jones, Bob (s200)'s variant on" in summary
    assert "Smith, Alice (s100)'s answers match" not in summary

    # gradebook.csv has everyone: graded rows, then the absent with 0 and no_result
    book = list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text("utf-8"))))
    assert [r["student"] for r in book] == ["asmith", "cwhite", "mallory", "s200", "s400", "s500"]
    assert [r["roster_id"] for r in book] == ["s100", "s300", "", "s200", "s400", "s500"]
    assert book[4]["score"] == "0" and book[4]["submission"] == "0"
    result = json.loads((out / "results" / "asmith.json").read_text("utf-8"))
    assert result["score"] == 19 and result["extra_data"]["variant_seed"] is not None  # graded as s100


def test_moodle_gradebook_from_a_moodle_download(klass, tmp_path):
    subs, _, out = klass
    moodle = tmp_path / "moodle-subs"
    moodle.mkdir()
    for name, student in (("Alice Smith_4101_assignsubmission_file_", "s100"),
                          ("Bob Jones_4102_assignsubmission_file_", "s200")):
        (moodle / name).mkdir()
        (moodle / name / "answers.json").write_text(json.dumps(key(student)))
    grades = tmp_path / "grades.csv"  # Moodle's grades export: ID number and email address
    grades.write_text((DATA / "moodle-grades.csv").read_text("utf-8-sig"))
    run(str(moodle), "-e", EXERCISE, "-o", str(out), "-j", "1", "--roster", str(grades), "--gradebook", "moodle",
        "--match", "idnumber")
    text = (out / "gradebook-moodle.csv").read_text("utf-8")
    golden("class-gradebook-moodle.csv", text)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "ID number" and rows[0][2] == "Feedback"
    assert [(r[0], r[1]) for r in rows[1:]] == [("s100", "19"), ("s200", "19"), ("s300", "0")]


def test_late_penalties_and_overrides_through_batch(klass, tmp_path):
    subs, _, out = klass
    plain = tmp_path / "roster.csv"
    plain.write_text("student,email,id,login\nAlice Smith,alice@uni.example,s100,asmith\n"
                     "Bob Jones,bob@uni.example,s200,bjones\nCarol White,carol@uni.example,s300,cwhite\n")
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\n"
                     "s100,2026-03-01T23:10:00+01:00\n"  # within the 15 minutes of grace
                     "bob@uni.example,2026-03-02T22:00:00Z\n"  # 22 h 1 min late: one day
                     "cwhite,2026-03-09T00:00:00Z\n")  # 7 d 1 min: past the 7-day cap
    os.utime(subs / "mallory.json", (1772366400, 1772366400))  # no time given: the file's, 2026-03-01T12:00Z
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("student,question,points,reason\n"
                         "s100,w6,1,shown work only\n"
                         "carol@uni.example,*,10,medical certificate\n")
    run(str(subs), "-e", EXERCISE, "-o", str(out), "-j", "1", "--roster", str(plain), "--times", str(times),
        "--deadline", "2026-03-01T23:59:00Z", "--late-penalty", "10", "--grace", "15m", "--late-cap", "7d",
        "--overrides", str(overrides))
    book = (out / "gradebook.csv").read_text("utf-8")
    golden("class-gradebook-late.csv", book)
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(book))}
    alice, bob, carol = rows["asmith"], rows["s200"], rows["cwhite"]
    assert (alice["raw_score"], alice["lateness"], alice["penalty_percent"], alice["score"]) == \
        ("19", "on time", "0", "18")  # w6 overridden 2 -> 1, not late
    assert "w6: 2 -> 1 (shown work only)" in alice["overrides"]
    assert bob["lateness"] == "22h 1m" and bob["penalty_percent"] == "10"
    assert float(bob["score"]) == pytest.approx(round(float(bob["raw_score"]) * 0.9, 4))
    assert carol["score"] == "10" and "medical certificate" in carol["overrides"]  # past the cap, then overridden
    assert rows["mallory"]["time_source"] == "mtime"

    result = json.loads((out / "results" / "asmith.json").read_text("utf-8"))
    w6 = next(t for t in result["tests"] if t["id"] == "w6")
    assert w6["score"] == 1 and "Instructor override: shown work only" in w6["feedback"]
    assert result["extra_data"]["adjustments"]["raw_score"] == 19
    summary = (out / "summary.txt").read_text("utf-8")
    assert "Deadline 2026-03-01T23:59:00+00:00: 2 late (1 past the last accepted time)" in summary
    assert "warning: 1 submission time came from file modification times" in summary

    # a rerun with --resume and other options starts from the graded scores, never penalises twice
    run(str(subs), "-e", EXERCISE, "-o", str(out), "-j", "1", "--roster", str(plain), "--resume")
    again = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "gradebook.csv").read_text("utf-8")))}
    assert again["asmith"]["score"] == "19" and again["s200"]["score"] == bob["raw_score"]
    result = json.loads((out / "results" / "asmith.json").read_text("utf-8"))
    assert "adjustments" not in result["extra_data"] and result["score"] == 19


@pytest.mark.parametrize("args, message", [
    (["--gradebook", "canvas"], "--gradebook canvas needs --roster FILE"),
    (["--gradebook", "moodle"], "--gradebook moodle needs --roster FILE"),
    (["--late-penalty", "10"], "need --deadline"),
    (["--deadline", "2026-03-01T23:59:00", "--late-penalty", "10"], "give its time zone"),
    (["--deadline", "2026-03-01T23:59:00Z"], "--deadline needs --late-penalty"),
    (["--deadline", "2026-03-01T23:59Z", "--late-penalty", "5", "--grace", "soon"], "expected a duration"),
])
def test_bad_lms_options_exit_2_before_grading(klass, args, message):
    subs, _, out = klass
    result = CliRunner().invoke(cli, ["batch", str(subs), "-e", EXERCISE, "-o", str(out), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (out / "results").exists()  # nothing was graded


def test_an_override_of_an_unknown_question_is_an_error_naming_the_line(klass, tmp_path):
    subs, _, out = klass
    overrides = tmp_path / "o.csv"
    overrides.write_text("student,question,points,reason\ns100,w66,1,typo\n")
    result = CliRunner().invoke(cli, ["batch", str(subs), "-e", EXERCISE, "-o", str(out), "--overrides", str(overrides)])
    assert result.exit_code == 2
    assert f"{overrides}: line 2: no question or case 'w66' in {EXERCISE}" in result.output
    assert "did you mean" in result.output
