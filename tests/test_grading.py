"""Code submissions end to end through the CLI and the real sandbox; the Gradescope bundle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import numpy as np
import pytest
from click.testing import CliRunner

from grader import cli, grading, spec

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
GS_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope-results.schema.json").read_text())


def run(*args: str, **kw):
    return CliRunner().invoke(cli.cli, list(args), catch_exceptions=False, **kw)


def graded(*args: str) -> dict:
    res = run(*args, "--format", "json")
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def by_id(data: dict) -> dict:
    return {t["id"]: t for t in data["tests"]}


# the matrix exercise: 9 points of functions, 17 of questions; every submission is graded out of 26
FULL, QUESTIONS = 26.0, 17.0
CODE_ONLY = (SOLUTIONS / "submission.py").read_text().split("\n\n# The typed questions")[0] + "\n"


# expected scores of the reference submissions in solutions/: submission.py answers the questions
# too (ANSWERS); the others define the functions only, so their questions are missing
@pytest.mark.parametrize("name, score, wrong", [
    ("submission.py", FULL, set()),
    ("partly-correct.py", 3.0, {"backward/exercise", "backward/hidden-1", "train/exercise", "backward/self-consistency"}),
    ("loops.py", 9.0, {"sigmoid/vectorized", "forward/vectorized", "backward/vectorized"}),
])
def test_reference_submissions_score_as_expected(name, score, wrong):
    data = graded(str(SOLUTIONS / name))
    assert data["exercise"] == "tutorial-4-matrix"
    assert data["score"] == pytest.approx(score) and data["max_score"] == pytest.approx(FULL)
    not_passed = {t["id"] for t in data["tests"] if t["status"] != "passed"}
    assert wrong <= not_passed
    if not wrong:
        assert not_passed == set()
    else:  # no ANSWERS: each question scores 0 as missing, and a warning says why
        assert all(t["status"] == "missing" for t in data["tests"] if "/" not in t["id"])
        assert any("no ANSWERS" in w for w in data["warnings"])


def test_feedback_names_the_step_and_hides_hidden_values():
    tests = by_id(graded(str(SOLUTIONS / "partly-correct.py")))
    visible, hidden = tests["backward/exercise"], tests["backward/hidden-1"]
    assert "Step:" in visible["feedback"] and "derivative of the activation" in visible["feedback"]
    assert "expected" in visible["feedback"]  # the exercise's own case is visible
    assert "expected" not in hidden["feedback"] and "3-4-2" in hidden["name"]
    loops = by_id(graded(str(SOLUTIONS / "loops.py")))
    assert "for loop" in loops["forward/vectorized"]["feedback"] and "in _layer" in loops["forward/vectorized"]["feedback"]


def test_notebook_submission(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tutorial 4"),
                nbformat.v4.new_code_cell("%matplotlib inline\nimport numpy as np"),
                nbformat.v4.new_code_cell((SOLUTIONS / "submission.py").read_text())]
    path = tmp_path / "homework.ipynb"
    nbformat.write(nb, path)
    data = graded(str(path))
    assert data["score"] == data["max_score"] == FULL
    assert any("skipped IPython magic" in w for w in data["warnings"])


def test_answers_inside_code_and_exercise_named_in_source(tmp_path):
    key = grading.answer_key("tutorial-4-output-layer").answers
    src = f'EXERCISE = "tutorial-4-output-layer"\nANSWERS = {json.dumps(key)}\nANSWERS["w6"] = 0.5\n'
    path = tmp_path / "answers_only.py"
    path.write_text(src)
    data = graded(str(path))
    assert data["exercise"] == "tutorial-4-output-layer"
    tests = by_id(data)
    assert tests["w6"]["status"] == "wrong" and tests["w7"]["status"] == "passed"
    assert data["max_score"] == 19 and data["score"] == 17


def test_submission_printing_is_escaped(tmp_path):
    path = tmp_path / "noisy.py"
    path.write_text((SOLUTIONS / "submission.py").read_text() + '\nprint("::error::pwned")\nprint("9 passed, 0 failed")\n')
    res = run(str(path), "--format", "github")
    assert res.exit_code == 0
    assert not any(line.lstrip().startswith("::") for line in res.output.splitlines())
    assert "Points 26/26" in res.output.splitlines()[-1]


def test_syntax_error_is_graded_zero_with_the_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import numpy as np\ndef forward(x:\n    pass\n")
    data = graded(str(path))
    assert data["score"] == 0 and data["max_score"] == FULL
    assert all(t["status"] == ("error" if "/" in t["id"] else "missing") for t in data["tests"])
    assert "broken.py:2: SyntaxError" in data["tests"][0]["feedback"]


def test_missing_or_wrong_kind_of_file_exits_2(tmp_path):
    res = CliRunner().invoke(cli.cli, [str(tmp_path / "nope.py")])
    assert res.exit_code == 2 and "no such file" in res.output
    bad = tmp_path / "notebook.ipynb"
    bad.write_text("{not json")
    res = CliRunner().invoke(cli.cli, [str(bad)])
    assert res.exit_code == 2 and "not a valid notebook" in res.output and "Traceback" not in res.output


def test_folder_with_one_submission(tmp_path):
    (tmp_path / "alice").mkdir()
    shutil.copy(SOLUTIONS / "submission.py", tmp_path / "alice" / "submission.py")
    assert graded(str(tmp_path / "alice"))["score"] == FULL


def test_gradescope_output_for_code(tmp_path):
    res = run(str(SOLUTIONS / "partly-correct.py"), "--format", "gradescope")
    data = json.loads(res.output)
    jsonschema.validate(data, GS_SCHEMA)
    vis = {t["name"]: t["visibility"] for t in data["tests"]}
    assert vis["backward: the exercise's values"] == "visible"
    assert vis["backward: hidden case 1: 3-4-2 network, 4 samples"] == "after_published"
    assert data["extra_data"]["exercise"] == "tutorial-4-matrix"


def test_strict_isolation_grades_where_the_network_can_be_isolated():
    from grader import sandbox

    layers = {name: active for name, active, _ in sandbox.doctor()}
    res = CliRunner().invoke(cli.cli, [str(SOLUTIONS / "submission.py"), "--isolation", "strict"])
    assert res.exit_code == (0 if layers["network namespace"] else 3), res.output


def test_doctor_lists_every_layer():
    res = run("doctor")
    assert res.exit_code == 0
    for layer in ("separate process", "python -I worker", "rlimits", "network namespace", "landlock",
                  "grader not importable"):
        assert layer in res.output


def test_gradescope_bundle_runs_against_a_fake_autograder_tree(tmp_path):
    zpath = tmp_path / "autograder.zip"
    res = run("bundle", "tutorial-4", "--gradescope", "-o", str(zpath))
    assert res.exit_code == 0
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    with zipfile.ZipFile(zpath) as z:
        names = z.namelist()
        assert {"setup.sh", "run_autograder", "exercise.json"} <= set(names)
        assert "grader-src/grader/solver.py" in names and "grader-src/setup.cfg" in names
        assert z.getinfo("run_autograder").external_attr >> 16 & 0o111
        z.extractall(root / "source")
    shutil.copy(SOLUTIONS / "partly-correct.py", root / "submission" / "submission.py")
    grade = shutil.which("grade")
    if grade is None:
        pytest.skip("the grade console script is not on PATH (install the project)")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_COMMAND": grade}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=120)
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, GS_SCHEMA)
    assert data["score"] == 3.0
    # a submission that cannot be graded still leaves a results.json
    shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    (root / "results" / "results.json").unlink()
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=120)
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, GS_SCHEMA)
    assert data["score"] == 0 and "no submission" in data["output"]


def _probe_outcomes(probe, backward):
    """What a student's sigmoid forward (written here, not the solver's) returns on every probe
    call, and their backward's values, as the sandbox would hand them over."""
    from grader.sandbox import CallOutcome

    def fwd(x, W1, b1, W2, b2):
        o = 1 / (1 + np.exp(-(W1 @ x + b1)))
        return o, 1 / (1 + np.exp(-(W2 @ o + b2)))

    outs = [CallOutcome("ok", fwd(*args)) for _, args in probe.calls]
    return outs, CallOutcome("ok", tuple(backward))


def test_self_consistency_checks_each_parameter_along_one_direction():
    """Two forward calls per weight matrix and bias (not two per entry), and no usual slip hides
    in the directional sum: one entry off, a transposed matrix, a bias of the first sample."""
    ex = spec.load_exercise("tutorial-4")
    probe = grading.self_consistency_calls(ex)
    assert probe is grading.self_consistency_calls(ex)  # built once per exercise
    assert len(probe.calls) == 2 * len(probe.entries) == 8
    given = dict(next(c for c in next(f for f in ex.functions if f.name == "backward").cases
                      if c.id == "exercise").inputs)
    x, t, W1, b1, W2, b2 = (np.asarray(given[k], float) for k in ("x", "t", "W1", "b1", "W2", "b2"))
    o = 1 / (1 + np.exp(-(W1 @ x + b1)))
    y = 1 / (1 + np.exp(-(W2 @ o + b2)))
    d2 = (y - t) * y * (1 - y)  # by hand: E = ½Σ(y − t)²
    d1 = (W2.T @ d2) * o * (1 - o)
    right = [d1 @ x.T, d1.sum(1, keepdims=True), d2 @ o.T, d2.sum(1, keepdims=True)]
    outs, back = _probe_outcomes(probe, right)
    assert grading.self_consistency(probe, outs, back).status == "passed"
    one_off = [g.copy() for g in right]
    one_off[0][1, 0] += 1e-3
    transposed = [*right[:2], right[2].T.copy(), right[3]]
    for wrong, name in ((one_off, "dW1"), (transposed, "dW2")):
        outs, back = _probe_outcomes(probe, wrong)
        got = grading.self_consistency(probe, outs, back)
        assert got.status == "wrong" and f"own forward in {name}:" in got.feedback, got.feedback


def test_self_consistency_separates_a_wrong_forward_from_its_backward(tmp_path):
    # forward uses tanh instead of the sigmoid, and backward is the exact gradient of that forward
    path = tmp_path / "tanh.py"
    path.write_text('''import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def forward(x, W1, b1, W2, b2):
    o = np.tanh(W1 @ x + b1)
    return o, np.tanh(W2 @ o + b2)

def backward(x, t, W1, b1, W2, b2):
    o, y = forward(x, W1, b1, W2, b2)
    d2 = (y - t) * (1 - y ** 2)
    d1 = (W2.T @ d2) * (1 - o ** 2)
    return d1 @ x.T, d1.sum(1, keepdims=True), d2 @ o.T, d2.sum(1, keepdims=True)
''')
    tests = by_id(graded(str(path)))
    assert tests["forward/exercise"]["status"] == "wrong"
    assert tests["backward/exercise"]["status"] == "wrong"
    assert tests["backward/self-consistency"]["status"] == "passed"
    assert tests["train/exercise"]["status"] == "missing" and "did you mean" not in tests["train/exercise"]["feedback"]


def test_a_hanging_function_times_out_once_and_the_others_are_graded(tmp_path):
    from grader import sandbox

    path = tmp_path / "hang.py"
    path.write_text(CODE_ONLY.replace(
        "def forward(x, W1, b1, W2, b2):\n", "def forward(x, W1, b1, W2, b2):\n    while True:\n        pass\n"))
    r = grading.grade_submission(path, limits=sandbox.Limits(cpu_seconds=1, wall_seconds=3))
    status = {t.id: t.status for t in r.tests}
    assert status["forward/exercise"] == "timeout"
    assert all(status[f"forward/{c}"] == "timeout" for c in ("hidden-1", "hidden-2", "hidden-3"))
    assert "not run: an earlier call of forward" in next(t.feedback for t in r.tests if t.id == "forward/hidden-1")
    assert status["sigmoid/exercise"] == "passed" and status["train/hidden-1"] == "timeout"  # train calls forward
    # one timeout per function, not one per case: the rest are not run
    skipped = [t for t in r.tests if "not run: an earlier call" in t.feedback]
    assert len(skipped) >= 3 * 3


def test_gradescope_bundle_grades_each_submitter_on_their_variant(tmp_path, monkeypatch):
    grade = shutil.which("grade")
    if grade is None:
        pytest.skip("the grade console script is not on PATH (install the project)")
    monkeypatch.setenv("GRADER_SECRET", "course-secret")
    zpath = tmp_path / "autograder.zip"
    res = run("bundle", "tutorial-4", "--gradescope", "-o", str(zpath))
    assert res.exit_code == 0 and "GRADER_SECRET is in the zip" in res.output
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zpath) as z:
        assert z.read("grader_secret") == b"course-secret"
        z.extractall(root / "source")
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SECRET"}  # Gradescope's env has no secret
    env.update(AUTOGRADER_ROOT=str(root), GRADER_COMMAND=grade)

    def score(submitter: str, answers_of: str) -> float:
        shutil.rmtree(root / "submission", ignore_errors=True)
        (root / "submission").mkdir()
        key = grading.answer_key("tutorial-4", answers_of).answers
        (root / "submission" / "answers.json").write_text(json.dumps({"answers": key}))
        (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "x@uni", "sid": submitter}]}))
        subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=120)
        data = json.loads((root / "results" / "results.json").read_text())
        assert data["extra_data"]["variant_seed"] is not None
        assert sum(t["max_score"] for t in data["tests"]) == FULL  # the functions are missing: 0 of 9
        return data["score"] / QUESTIONS

    assert score("s1", "s1") == 1.0
    assert score("s2", "s1") < 0.5  # someone else's key does not pass


def test_the_audit_digest_is_the_spec_files_and_follows_an_edit(tmp_path, monkeypatch):
    """Every student's variant is an exercise of its own, and the digest is read once per version
    of the spec file: it is that version's SHA-256, and an edited file gets its own."""
    import hashlib

    monkeypatch.setenv("GRADER_SECRET", "digest-secret")
    path = tmp_path / "t4.json"
    shutil.copy(ROOT / "exercises" / "tutorial-4-matrix.json", path)
    digests = {dict(grading.audit(spec.load_exercise(str(path), s)))["exercise_sha256"] for s in ("a", "b", "c")}
    assert digests == {hashlib.sha256(path.read_bytes()).hexdigest()}
    data = json.loads(path.read_text("utf-8"))
    data["title"] += " (edited)"
    path.write_text(json.dumps(data), encoding="utf-8")
    edited = dict(grading.audit(spec.load_exercise(str(path), "a")))["exercise_sha256"]
    assert edited == hashlib.sha256(path.read_bytes()).hexdigest() != digests.pop()
