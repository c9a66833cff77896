"""Late-penalty arithmetic at its boundaries (grace, whole days, cap, time zones), durations and
times as instructors type them, and the order of overrides and penalties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from grader.errors import UsageError
from grader.lms import adjust, late

DEADLINE = "2026-03-01T23:59:00+01:00"


def policy(penalty=10.0, grace="15m", cap="3d") -> late.Policy:
    return late.Policy.from_options(DEADLINE, penalty, grace, cap)


def at(seconds_after: float) -> late.Lateness:
    p = policy()
    return late.lateness(p, p.deadline + timedelta(seconds=seconds_after), "given")


@pytest.mark.parametrize("after, days, percent, past", [
    (-3600, 0, 0, False),  # early
    (0, 0, 0, False),  # exactly at the deadline
    (15 * 60, 0, 0, False),  # the last second of the grace
    (15 * 60 + 1, 1, 10, False),  # one second after it: a whole day, counted from the deadline
    (86400, 1, 10, False),  # exactly one day
    (86400 + 1, 2, 20, False),  # a day and a second: two
    (3 * 86400, 3, 30, False),  # exactly at the cap: still accepted
    (3 * 86400 + 1, 4, 40, True),  # past it: 0
])
def test_boundaries(after, days, percent, past):
    lt = at(after)
    assert (lt.days, lt.penalty_percent, lt.past_cap) == (days, percent, past)
    assert lt.final(8.0) == (0.0 if past else pytest.approx(8.0 * (1 - percent / 100)))


def test_time_zones_are_instants():
    p = policy(grace=None, cap=None)
    same = late.lateness(p, late.parse_time("2026-03-01T22:59:00Z"), "given")
    assert same.days == 0 and same.seconds == 0
    assert late.lateness(p, late.parse_time("2026-03-01T17:59:01-05:00"), "given").days == 1  # 1 s late in New York
    assert late.lateness(p, late.parse_time("2026-03-02T06:58:00+09:00"), "given").days == 0  # early in Tokyo
    assert late.parse_time("2026-03-01T23:59:00+0100") == p.deadline  # offsets without a colon (Python 3.10)
    assert late.parse_time("2026-03-01 22:59:00.5z").tzinfo is not None
    assert late.parse_time("2026-03-01 13:59:00.123456789 -09:00") == late.parse_time("2026-03-01T22:59:00.123456Z")


@pytest.mark.parametrize("text, iso", [
    ("2026-03-01T22:59:00.5Z", "2026-03-01T22:59:00.500000+00:00"),  # one digit
    ("2026-03-01T22:59:00.123Z", "2026-03-01T22:59:00.123000+00:00"),  # JavaScript's toISOString()
    ("2026-03-01T22:59:00,25+01:00", "2026-03-01T22:59:00.250000+01:00"),  # ISO's comma
    ("2026-03-01 13:59:00.123456789 -09:00", "2026-03-01T13:59:00.123456-09:00"),  # Gradescope's YAML
    ("2026-03-01T23:59:00+0100", "2026-03-01T23:59:00+01:00"),
    ("2026-03-01T22:59:00Z", "2026-03-01T22:59:00+00:00"),
])
def test_times_are_written_as_every_supported_python_reads_them(text, iso):
    """Python 3.10's fromisoformat reads a fraction of a second of 3 or 6 digits only, an offset
    only with its colon: the text is put that way before it is read."""
    assert late.iso_text(text) == iso
    assert late.parse_time(text) == datetime.fromisoformat(iso)


def test_the_penalty_stops_at_100_percent():
    p = late.Policy.from_options(DEADLINE, 40, None, None)
    lt = late.lateness(p, p.deadline + timedelta(days=5), "given")
    assert lt.penalty_percent == 100 and lt.final(10) == 0 and not lt.past_cap


@pytest.mark.parametrize("text, seconds", [("15m", 900), ("2d", 172800), ("1h30m", 5400), ("90s", 90),
                                           ("1w", 604800), ("0", 0), ("1.5h", 5400), ("2D 3H", 183600)])
def test_durations(text, seconds):
    assert late.parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["15", "soon", "15 minutes", "-1d", "1d later", ""])
def test_bad_durations_are_usage_errors(bad):
    with pytest.raises(UsageError, match="expected a duration"):
        late.parse_duration(bad, "--grace")


@pytest.mark.parametrize("deadline, penalty, grace, cap, message", [
    ("2026-03-01T23:59:00", 10, None, None, "give its time zone"),
    ("1 March", 10, None, None, "not an ISO 8601 time"),
    (DEADLINE, None, None, None, "--deadline needs --late-penalty"),
    (DEADLINE, 120, None, None, "from 0 to 100"),
    (DEADLINE, 10, "1d", "1h", "shorter than --grace"),
])
def test_bad_policies(deadline, penalty, grace, cap, message):
    with pytest.raises(UsageError, match=message):
        late.Policy.from_options(deadline, penalty, grace, cap)


def test_lateness_is_described_in_words():
    assert [late.describe(s) for s in (0, 42, 61, 3600 * 5 + 60 * 7, 86400 * 2 + 60)] == \
        ["on time", "42s", "1m", "5h 7m", "2d 1m"]


def test_git_commit_time_of_a_student_repository(tmp_path):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "alice"
    repo.mkdir()
    (repo / "submission.py").write_text("x = 1\n")
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x",
           "GIT_COMMITTER_DATE": "2026-03-02T10:00:00+02:00", "GIT_AUTHOR_DATE": "2026-03-02T10:00:00+02:00",
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "done"]):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True)
    # a hostile hook in the student's repository is never run
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {tmp_path}/pwned\n")
    hook.chmod(0o755)
    when = late.git_time(repo)
    assert when == datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    assert not (tmp_path / "pwned").exists()
    assert late.git_time(tmp_path) is None  # not a repository


def test_overrides_then_penalty_then_the_whole_score():
    tests = [adjust.Test("a", 1.0, 2.0, "partial", ""), adjust.Test("b", 0.0, 2.0, "wrong", "no")]
    ov = [adjust.Override("s", "b", 2.0, False, "regraded", "f: line 2"),
          adjust.Override("s", "a", -0.5, True, "", "f: line 3")]
    new, final, record, notes = adjust.compute(tests, 4.0, ov, at(86400))  # one day late: -10 %
    assert [(t.score, t.status) for t in new] == [(0.5, "partial"), (2.0, "passed")]
    assert final == pytest.approx(2.5 * 0.9) and record["raw_score"] == 1.0
    assert new[1].feedback == "no. Instructor override: regraded"
    assert any(n.startswith("late: submitted 1d after the deadline (1 day): -10%") for n in notes)
    _, final, record, _ = adjust.compute(tests, 4.0, [adjust.Override("s", "*", 3.5, False, "ok", "f: line 4")],
                                         at(10 * 86400))  # past the cap, then the instructor's word
    assert final == 3.5 and record["overrides"][0]["was"] == 0.0
    with pytest.raises(UsageError, match="f: line 5: b would score 3 of its 2"):
        adjust.compute(tests, 4.0, [adjust.Override("s", "b", 3, False, "", "f: line 5")], None)


def test_overrides_file_errors_name_the_line(tmp_path):
    p = tmp_path / "o.csv"
    for content, message in (("name,points\n", "line 1: expected the columns"),
                             ("student,question,points\ns1,a,lots\n", "line 2: points 'lots' is not a number"),
                             ("student,question,points\ns1,,1\n", "line 2: student and question are required"),
                             ("student,question,points\ns1,a,nan\n", "line 2: points must be a finite number")):
        p.write_text(content)
        with pytest.raises(UsageError, match=message):
            adjust.read_overrides(p)
    p.write_text("student,question,points,reason\ns1,a,\u22121,typed on a Mac\n")
    assert adjust.read_overrides(p)[0].points == -1 and adjust.read_overrides(p)[0].relative
