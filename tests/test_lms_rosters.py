"""Rosters as the LMSs export them: the kind from the header, the people, and matching
submissions to them. Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 pytest tests/test_lms_rosters.py``."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.lms import rosters

DATA = Path(__file__).parent / "lms_data"
GOLDEN = Path(__file__).parent / "golden" / "lms"
KINDS = {
    "canvas-export.csv": "canvas",
    "moodle-grades.csv": "moodle",
    "moodle-worksheet.csv": "moodle",
    "moodle-participants.csv": "moodle",
    "gradescope-roster.csv": "gradescope",
    "classroom-roster.csv": "classroom",
    "plain.csv": "plain",
}


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; UPDATE_GOLDEN=1 to accept"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_roster_kind_is_detected_and_read(name):
    r = rosters.read_roster(DATA / name)
    assert r.kind == KINDS[name]
    people = [{k: (dict(v) if k == "columns" else v) for k, v in dataclasses.asdict(p).items() if v} for p in r.people]
    golden(f"roster-{Path(name).stem}.json", json.dumps({"kind": r.kind, "identity": list(r.identity),
                                                          "people": people}, indent=1, ensure_ascii=False) + "\n")


def test_rows_that_are_not_students_are_skipped():
    canvas = rosters.read_roster(DATA / "canvas-export.csv")
    assert [p.name for p in canvas.people] == ["Smith, Alice", "Jones, Bob", "White, Carol"]  # not Points Possible, Test
    assert canvas.people[0].id == "s100" and canvas.people[0].lms_id == "1001" and canvas.people[0].login == "asmith"
    assert canvas.identity == ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
    assert [p.id for p in rosters.read_roster(DATA / "gradescope-roster.csv").people] == ["s100", "s200"]  # no TA
    assert [p.login for p in rosters.read_roster(DATA / "moodle-participants.csv").people] == ["asmith", "bjones"]
    worksheet = rosters.read_roster(DATA / "moodle-worksheet.csv")
    assert [p.participant for p in worksheet.people] == ["4101", "4102", "4103"]


def test_matching_by_every_kind_of_name():
    roster = rosters.read_roster(DATA / "moodle-worksheet.csv")
    names = ["Alice Smith_4101_assignsubmission_file_", "Bob Jones_4102_assignsubmission_file_", "mallory"]
    m = rosters.match(roster, names)
    assert {n: p.email for n, p in m.person_of.items()} == {names[0]: "alice@uni.example", names[1]: "bob@uni.example"}
    assert m.how[names[0]] == "Moodle participant id"
    assert m.unmatched == ["mallory"] and [p.name for p in m.absent] == ["Carol White"]

    # a grades export has no participant ids: the folder's full name is used
    grades = rosters.read_roster(DATA / "moodle-grades.csv")
    m = rosters.match(grades, ["Carol White_77_assignsubmission_file_"])
    assert m.person_of["Carol White_77_assignsubmission_file_"].id == "s300"
    assert m.how["Carol White_77_assignsubmission_file_"] == "Moodle folder name"

    # GitHub Classroom repositories: assignment-login, the longest login wins
    classroom = rosters.read_roster(DATA / "classroom-roster.csv")
    m = rosters.match(classroom, ["tutorial-4-alice-gh", "tutorial-4-bobj", "tutorial-4-gh"])
    assert {n: p.id for n, p in m.person_of.items()} == {"tutorial-4-alice-gh": "s100", "tutorial-4-bobj": "s200"}
    assert m.unmatched == ["tutorial-4-gh"]

    # plain: by id, by email (case-insensitive)
    plain = rosters.read_roster(DATA / "plain.csv")
    m = rosters.match(plain, ["s100", "BOB@uni.example", "s300", "s300.py"])
    assert sorted(p.id for p in m.person_of.values()) == ["s100", "s200", "s300"]


def test_gradescope_metadata_matches_and_a_person_matched_twice_is_reported(tmp_path):
    roster = rosters.read_roster(DATA / "gradescope-roster.csv")
    export = {}
    for n, user in (("submission_1", {"sid": "s200", "email": "bob@uni.example"}),
                    ("submission_2", {"sid": "", "email": "ALICE@uni.example"}),
                    ("submission_3", {"sid": "s200"})):
        (tmp_path / n).mkdir()
        export[n] = {"submitters": [{"name": "x", **user}], "created_at": "2026-03-01T10:00:00.000000-08:00"}
    (tmp_path / "submission_metadata.json").write_text(json.dumps(export))
    # a student's own metadata file in their folder claims someone else: never read
    (tmp_path / "submission_2" / "submission_metadata.json").write_text(json.dumps({"users": [{"sid": "s200"}]}))
    (tmp_path / "mallory").mkdir()
    (tmp_path / "mallory" / "submission_metadata.json").write_text(json.dumps({"users": [{"sid": "s100"}]}))
    names = ["mallory", "submission_1", "submission_2", "submission_3"]
    meta = rosters.read_metadata(tmp_path, names)
    assert set(meta) == {"submission_1", "submission_2", "submission_3"}
    assert meta["submission_1"].sids == ("s200",) and meta["submission_2"].created_at.startswith("2026-03-01")
    m = rosters.match(roster, names, meta)
    assert m.person_of["submission_1"].id == "s200" and m.person_of["submission_2"].id == "s100"
    assert m.duplicates == [("submission_3", "s200", "submission_1")] and m.unmatched == ["mallory"]
    text = "\n".join(rosters.summary_lines(roster, m))
    assert "Roster: gradescope (2 people); 2 submissions matched" in text
    assert "submission_3 is also s200's, who is graded on submission_1" in text

    # Ruby-style keys, as the export's YAML has them once read
    (tmp_path / "submission_metadata.json").write_text(json.dumps(
        {"submission_9": {":submitters": [{":sid": "s100", ":email": "alice@uni.example"}],
                          ":created_at": "2026-03-02T09:00:00Z"}}))
    meta = rosters.read_metadata(tmp_path, ["submission_9"])
    assert meta["submission_9"].sids == ("s100",) and meta["submission_9"].created_at == "2026-03-02T09:00:00Z"


@pytest.mark.parametrize("content, message", [
    ("name,score\nalice,1\n", "line 1: not a roster this grader knows"),
    ("student,email,id\nAlice,,\n", "line 2: no id for Alice"),
    ("student,email,id\nAlice,a@x,s1\nAl,b@x,S1\n", "line 3: 'S1' is listed twice (first on line 2)"),
    ("", "the roster is empty"),
    ('student,email,id\n"Alice,a@x,s1\n', "not valid CSV"),
])
def test_bad_rosters_name_the_file_and_line(tmp_path, content, message):
    p = tmp_path / "roster.csv"
    p.write_text(content)
    with pytest.raises(UsageError, match=re.escape(message)) as exc:
        rosters.read_roster(p)
    assert str(p) in str(exc.value)


def test_semicolons_and_excel_encoding_are_read(tmp_path):
    p = tmp_path / "r.csv"
    p.write_bytes("student;email;id\nJosé Müller;jose@x;s9\n".encode("cp1252"))
    r = rosters.read_roster(p)
    assert r.kind == "plain" and r.people[0].name == "José Müller" and r.people[0].id == "s9"


def test_gradescope_yaml_export_metadata(tmp_path):
    pytest.importorskip("yaml")  # optional: the export is YAML with Ruby-style keys
    (tmp_path / "submission_metadata.yml").write_text(
        "submission_101:\n"
        "  :submitters:\n"
        "  - :name: Alice Smith\n"
        "    :sid: s100\n"
        "    :email: alice@uni.example\n"
        "  :created_at: 2026-03-01 13:47:15.123456000 -08:00\n"
        "  :score: 10.0\n")
    meta = rosters.read_metadata(tmp_path, ["submission_101"])
    m = meta["submission_101"]
    assert m.sids == ("s100",) and m.emails == ("alice@uni.example",)
    from grader.lms.late import parse_time

    assert parse_time(m.created_at) == parse_time("2026-03-01T21:47:15.123456Z")
