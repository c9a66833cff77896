"""Canvas and Moodle gradebooks written from other kinds of roster, and the checks made before
anything is graded."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.lms import gradebooks, rosters

DATA = Path(__file__).parent / "lms_data"


def test_canvas_from_a_plain_roster_uses_canvas_identity_columns():
    roster = rosters.read_roster(DATA / "plain.csv")
    entries = [(p, {"score": s}) for p, s in zip(roster.people, (19, 12.345678, 0), strict=True)]
    rows = list(csv.reader(io.StringIO(gradebooks.canvas_csv(roster, entries, "Tutorial 4 (77)", 19))))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Tutorial 4 (77)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "19"]
    # no Canvas user id in a plain roster: Canvas matches the SIS User ID, then the login (the email)
    assert rows[2] == ["Alice Smith", "", "s100", "alice@uni.example", "", "19"]
    assert rows[3][-1] == "12.3457"


def test_moodle_leaves_out_people_without_the_identity_field():
    roster = rosters.read_roster(DATA / "moodle-participants.csv")  # usernames, no ID numbers
    entries = [(p, {"score": 1}) for p in roster.people]
    feedback = {"alice@uni.example": "=late: -10%"}  # by person id (the email here)
    text, left = gradebooks.moodle_csv(entries, "username", "Tutorial 4", feedback)
    assert list(csv.reader(io.StringIO(text))) == [["Username", "Tutorial 4", "Feedback"],
                                                   ["asmith", "1", "'=late: -10%"], ["bjones", "1", ""]]
    assert left == []
    text, left = gradebooks.moodle_csv(entries, "idnumber", "Tutorial 4", {})
    assert [p.login for p in left] == ["asmith", "bjones"]


@pytest.mark.parametrize("kind, roster, match, message", [
    ("canvas", None, "email", "--gradebook canvas needs --roster FILE"),
    ("moodle", "moodle-participants.csv", "idnumber", "has no id number for anyone"),
])
def test_checks_before_grading(kind, roster, match, message):
    r = rosters.read_roster(DATA / roster) if roster else None
    with pytest.raises(UsageError, match=message):
        gradebooks.check_options(kind, r, match)
