"""Exercises by id: a submission names an exercise only by id (bundled, --exercises-dir,
GRADER_EXERCISES), never by path; the instructor's --exercise / GRADER_EXERCISE win."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli, spec
from grader.errors import SubmissionError

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "exercises" / "tutorial-4-matrix.json"
KEY = ROOT / "solutions" / "tutorial-4-matrix.key.json"


@pytest.fixture(autouse=True)
def no_dirs(monkeypatch):
    # --exercises-dir writes GRADER_EXERCISES; monkeypatch puts it back after each test
    monkeypatch.delenv("GRADER_EXERCISES", raising=False)
    monkeypatch.delenv("GRADER_EXERCISE", raising=False)


def custom(folder: Path, exercise_id: str, title: str = "custom") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = json.loads(MATRIX.read_text("utf-8"))
    data.update(id=exercise_id, title=title)
    data.pop("aliases", None)
    path = folder / f"{exercise_id}.json"
    path.write_text(json.dumps(data), "utf-8")
    return path


def answers(folder: Path, exercise: str) -> Path:
    key = json.loads(KEY.read_text("utf-8"))
    path = folder / "answers.json"
    path.write_text(json.dumps({"exercise": exercise, "answers": key["answers"]}), "utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(cli.cli, list(args))


@pytest.mark.parametrize("named", ["exercises/tutorial-4-matrix.json", str(MATRIX), "../evil.json", "evil.JSON",
                                   "a/b", ".", "two words"])
def test_a_submission_may_not_name_a_path(tmp_path, named):
    with pytest.raises(SubmissionError, match="is not an exercise id"):
        spec.find_id(named, "sub.py: EXERCISE")


def test_a_self_written_spec_named_in_exercise_is_never_used(tmp_path):
    # the student's own spec: one question whose answer is whatever they like
    evil = custom(tmp_path, "evil", "the student's own")
    sub = tmp_path / "sub.py"
    sub.write_text(f"EXERCISE = {str(evil)!r}\n" + "ANSWERS = {}\n")
    res = run(str(sub), "--format", "json")
    assert res.exit_code == 2, res.output
    assert f"{sub}: EXERCISE: {str(evil)!r} is not an exercise id" in res.output
    ans = answers(tmp_path, str(evil))
    res = run(str(ans))
    assert res.exit_code == 2 and f"{ans}: exercise: {str(evil)!r} is not an exercise id" in res.output


def test_ids_come_from_exercises_dir_then_grader_exercises_then_bundled(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    custom(first, "hw-custom", "from --exercises-dir")
    custom(second, "hw-custom", "from GRADER_EXERCISES")
    custom(second, "tutorial-4", "an instructor's own tutorial-4")
    custom(second, "only-in-env", "env")
    monkeypatch.setenv("GRADER_EXERCISES", f"{tmp_path / 'missing'}:{second}")
    ans = answers(tmp_path, "hw-custom")
    data = json.loads(run(str(ans), "--format", "json").output)
    questions = [t for t in data["tests"] if "/" not in t["id"]]  # an answers file hands in no functions
    assert data["exercise"] == "hw-custom" and data["score"] == sum(t["max_score"] for t in questions)
    assert spec.load_exercise(spec.find_id("hw-custom", "x")).title == "from GRADER_EXERCISES"
    assert spec.load_exercise(spec.find_id("tutorial-4", "x")).title == "an instructor's own tutorial-4"
    res = run("key", "hw-custom", "--exercises-dir", str(first), "--format", "json")
    assert res.exit_code == 0, res.output
    assert spec.load_exercise(spec.find_id("hw-custom", "x")).title == "from --exercises-dir"
    assert spec.find_id("only-in-env", "x").parent == second


def test_an_unknown_id_says_did_you_mean(tmp_path):
    sub = tmp_path / "sub.py"
    sub.write_text('EXERCISE = "tutorial-4-matrx"\n')
    res = run(str(sub))
    assert res.exit_code == 2
    assert "no exercise with id 'tutorial-4-matrx'" in res.output and "did you mean" in res.output


def test_the_instructor_wins_over_the_submission(tmp_path, monkeypatch):
    sub = tmp_path / "sub.py"
    sub.write_text('EXERCISE = "../not/even/an/id.json"\nANSWERS = {}\n')
    res = run(str(sub), "--exercise", "tutorial-4-output-layer", "--format", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["exercise"] == "tutorial-4-output-layer"
    monkeypatch.setenv("GRADER_EXERCISE", "tutorial-4-hidden-layer")
    assert json.loads(run(str(sub), "--format", "json").output)["exercise"] == "tutorial-4-hidden-layer"
    ans = answers(tmp_path, "../x.json")
    assert json.loads(run(str(ans), "--format", "json").output)["exercise"] == "tutorial-4-hidden-layer"


def test_shipped_ci_examples_name_the_exercise():
    for name in ("github-classroom.yml", "gitlab-ci.yml"):
        for line in (ROOT / "examples" / name).read_text("utf-8").splitlines():
            if line.strip().startswith(("grade ", "command: grade ", "- grade ")) or " grade submission" in line:
                assert "--exercise " in line, f"{name}: {line.strip()}"


def test_a_folder_is_read_again_only_when_a_spec_in_it_changes(tmp_path, monkeypatch):
    # a batch looks its exercise up once per student: the folder's specs are parsed once while
    # they stay as they are, and a spec added, rewritten (its id changed) or removed is seen
    from grader.spec import catalog

    reads: list[list[str]] = []
    real = catalog._read_ids
    monkeypatch.setattr(catalog, "_read_ids", lambda folder, names: reads.append(names) or real(folder, names))
    folder = tmp_path / "course"
    custom(folder, "hw-a", "a")
    monkeypatch.setenv("GRADER_EXERCISES", str(folder))
    for _ in range(3):
        assert spec.find_id("hw-a", "x").name == "hw-a.json"
    assert [n for n in reads if "hw-a.json" in n] == [["hw-a.json"]]
    custom(folder, "hw-b", "b")  # added
    assert spec.find_id("hw-b", "x").name == "hw-b.json"
    path = folder / "hw-a.json"
    data = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**data, "id": "hw-renamed"}), "utf-8")  # rewritten in place
    assert spec.find_id("hw-renamed", "x") == path
    (folder / "hw-b.json").unlink()  # removed
    with pytest.raises(SubmissionError, match="no exercise with id 'hw-b'"):
        spec.find_id("hw-b", "x")
    assert len([n for n in reads if n and n[0].startswith("hw-")]) == 4
