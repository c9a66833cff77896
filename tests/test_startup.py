"""Start-up of one ``grade FILE``: what it imports, what it remembers between runs, and the
sandbox worker launched before the rest of the grader loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
PROBE = r"""
import io, contextlib, json, sys
from grader.cli import main
from grader.sandbox import _sandbox
launched = []
real_launch = _sandbox.Sandbox.launch
def launch(self):  # what was imported when the worker was launched
    launched.append(sorted(m for m in ("numpy", "grader.grading", "grader.spec") if m in sys.modules))
    return real_launch(self)
_sandbox.Sandbox.launch = launch
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "jsonschema": "jsonschema" in sys.modules, "nbformat": "nbformat" in sys.modules,
                  "out": out.getvalue(), "launched": launched,
                  "unneeded": sorted(m for m in ("grader.lms.course", "grader.mistakes", "grader.discover",
                                                 "grader.sandbox._doctor", "grader.formula_grade", "numpy.random",
                                                 "importlib.resources") if m in sys.modules)}))
"""


def grade(cache: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "GRADER_CACHE_DIR": str(cache)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_a_valid_spec_is_validated_once_and_a_py_file_needs_no_notebook_reader(tmp_path):
    args = ("solutions/submission.py", "-e", "tutorial-4", "--format", "json")
    first = grade(tmp_path, *args)
    assert first["code"] == 0 and first["jsonschema"]  # validated with jsonschema the first time
    assert len(list((tmp_path / "valid-specs").iterdir())) == 1
    again = grade(tmp_path, *args)
    assert again["code"] == 0 and not again["jsonschema"] and not again["nbformat"]
    assert json.loads(again["out"]) == json.loads(first["out"])
    # the worker is launched before NumPy or the grader's machinery is imported; a correct
    # submission without late-penalty options needs no diagnosis, LMS code, folder discovery, doctor,
    # formula grading, nor (its function cases read back) NumPy's random module
    eager = np.__version__ < "2"  # NumPy before 2.0 imports numpy.random with itself
    assert again["launched"][0] == [] and [m for m in again["unneeded"] if not (eager and m == "numpy.random")] == []
    # the answer key and a correct solution's outputs came from disk the second time
    assert len(list((tmp_path / "values").iterdir())) == 2


def test_a_single_run_sandbox_leaves_with_its_run():
    from grader import grading, spec
    from grader.submission import load_source

    calls, _ = grading.sandbox_calls(spec.load_exercise("tutorial-4"))
    box = Sandbox(single=True)
    pids = []
    for _ in range(2):  # a second run starts a new worker
        box.launch()
        pids.append(box.worker_pid)
        run = box.run(load_source(ROOT / "solutions" / "submission.py"), calls)
        assert run.load_status == "ok" and {o.status for o in run.outcomes} == {"ok"} and run.output == ""
        assert box.worker_pid is None and box._spare == ()  # gone, and nothing prepared for a next one
    assert pids[0] != pids[1]
    assert box._leaving  # the last run's worker is reaped by close(), after the report: not on its path
    box.close()
    assert box._leaving == []
    for pid in pids:  # reaped: no zombie, no process left
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} was not reaped by close()"


def test_an_invalid_spec_is_never_remembered(tmp_path):
    bad = tmp_path / "bad.json"
    data = json.loads((ROOT / "exercises" / "tutorial-4-matrix.json").read_text())
    data["learning_rate"] = "fast"
    bad.write_text(json.dumps(data))
    cache = tmp_path / "cache"
    for _ in range(2):
        got = grade(cache, "key", str(bad))
        assert got["code"] == 2 and got["jsonschema"]
    assert not (cache / "valid-specs").exists() or not list((cache / "valid-specs").iterdir())


@pytest.mark.parametrize("started", [True, False])
def test_a_launched_worker_is_waited_for_by_start_and_closed_either_way(started):
    box = Sandbox()
    box.launch()  # returns at once: the worker is loading
    assert box.worker_pid is not None
    if started:
        box.start()
        assert box._hello.get("event") == "hello"
    pid = box.worker_pid
    box.close()
    assert box.worker_pid is None
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


# -- the probe's verdict, remembered between single runs
def _single_run(calls, **kw) -> Sandbox:
    from grader.submission import load_source

    box = Sandbox(single=True, **kw)
    try:
        box.launch()
        run = box.run(load_source(ROOT / "solutions" / "submission.py"), calls)
        assert run.load_status == "ok" and {o.status for o in run.outcomes} == {"ok"}
    finally:
        box.close()
    return box


@pytest.fixture
def calls(tmp_path, monkeypatch):
    from grader import grading, spec

    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    return grading.sandbox_calls(spec.load_exercise("tutorial-4"))[0]


def _verdicts(tmp_path) -> list:
    return json.loads((tmp_path / "sandbox-probe.json").read_text())


def test_a_single_run_takes_the_probe_verdict_of_an_earlier_one_on_the_same_machine(tmp_path, calls):
    first = _single_run(calls)._hello["probe"]
    assert "remembered" not in first and first["layers"]  # probed, and kept
    assert [v["key"] for v in _verdicts(tmp_path)] == [first["key"]]
    again = _single_run(calls)._hello
    assert again["probe"] == {"key": first["key"], "remembered": True} and again["layers"] == first["layers"]
    # a verdict of another machine (another key) is not taken: the worker probes
    kept = _verdicts(tmp_path)
    kept[0]["key"] = "0" * 64
    (tmp_path / "sandbox-probe.json").write_text(json.dumps(kept))
    other = _single_run(calls)._hello["probe"]
    assert "remembered" not in other and other["key"] == first["key"]
    assert [v["key"] for v in _verdicts(tmp_path)] == [first["key"], "0" * 64]
    # a run that is not single (a batch's worker, grade doctor) always probes
    with Sandbox() as box:
        box.start()
        assert "remembered" not in box._hello["probe"]


def test_a_remembered_verdict_can_only_switch_off_what_a_probe_could(tmp_path, calls):
    key = _single_run(calls)._hello["probe"]["key"]
    enabled = set(_single_run(calls)._hello["enabled"])
    if "landlock" not in enabled:
        pytest.skip("Landlock is not available here")
    forged = {"key": key, "off": {"seccomp": "forged"}, "layers": {}}
    (tmp_path / "sandbox-probe.json").write_text(json.dumps([forged]))
    box = _single_run(calls)
    assert "remembered" not in box._hello["probe"] and "seccomp" in box._hello["enabled"]  # ignored: probed
    (tmp_path / "sandbox-probe.json").write_text(json.dumps([{"key": key, "off": {"landlock": "broke Python (test)"},
                                                              "layers": {}}]))
    box = _single_run(calls)
    assert box._hello["probe"]["remembered"] and "landlock" not in box._hello["enabled"]
    assert box._layers["landlock"] == [False, "broke Python (test)"]  # the child did without it, and says why


def test_strict_refuses_on_what_the_child_applied_whatever_a_verdict_says(tmp_path, calls):
    from grader.errors import SandboxUnavailable

    with pytest.raises(SandboxUnavailable, match="netns|network"):
        _single_run(calls, isolation="strict", _disable=("netns",))
    kept = _verdicts(tmp_path)  # the verdict of that configuration, forged to claim the network isolated
    kept[0]["layers"]["netns"] = [True, "forged"]
    (tmp_path / "sandbox-probe.json").write_text(json.dumps(kept))
    from grader.submission import load_source

    box = Sandbox("strict", single=True, _disable=("netns",))
    try:
        with pytest.raises(SandboxUnavailable, match="required isolation missing: netns"):
            box.run(load_source(ROOT / "solutions" / "submission.py"), calls)
        assert box._hello["probe"]["remembered"]  # past the hello's check, on the forged layers
    finally:
        box.close()


# -- the worker spawned as the `grade` command starts (grader/prespawn.py)
@pytest.mark.parametrize("args, code", [
    (["solutions/submission.py"], True), (["check", "hw.ipynb", "-f", "json"], True),
    (["-e", "tutorial-4", "--show-expected", "s.py"], True), (["--format=json", "s.py"], True),
    (["-e", "hw.py", "answers.json"], False), (["answers.json", "-o", "report.py"], False),
    (["key", "tutorial-4"], False), (["batch", "subs/"], False), (["s.py", "--help"], False), ([], False),
])
def test_the_entry_point_spawns_a_worker_for_a_code_file_only(args, code):
    from grader import prespawn

    assert prespawn.code_file(args) is code


def test_a_worker_spawned_at_start_is_adopted_by_the_commands_sandbox(tmp_path):
    probe = r"""
import json, os, sys
from grader import prespawn
prespawn.spawn(sys.argv[1:])
early = prespawn._early[0].pid if prespawn._early else None
from grader.cli import main
from grader.sandbox import _sandbox
seen = []
real = _sandbox.Sandbox._await_hello
def hello(self):
    real(self)
    seen.append(self._hello["pid"])
_sandbox.Sandbox._await_hello = hello
code = main(sys.argv[1:])
left = [p for p in (early,) if p and os.path.exists(f"/proc/{p}")]
print(json.dumps({"code": code, "early": early, "worker": seen, "left": left}))
"""
    def run(*args):
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=ROOT,
                              env={"PATH": "/usr/bin:/bin", "GRADER_CACHE_DIR": str(tmp_path)}, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    got = run("solutions/submission.py", "-e", "tutorial-4", "--format", "json")
    assert got["code"] == 0 and got["early"] and got["worker"] == [got["early"]] and got["left"] == []
    got = run("solutions/sample-answers.json", "-e", "tutorial-4")  # no code: no worker at all
    assert got["code"] == 0 and got["early"] is None and got["worker"] == []
    got = run("key", "tutorial-4")
    assert got["early"] is None
    got = run("solutions/submission.py", "--format", "nope")  # a usage error: spawned, not used, reaped
    assert got["code"] == 2 and got["early"] and got["worker"] == [] and got["left"] == []


def test_a_worker_spawned_at_start_and_not_adopted_is_reaped():
    from grader import prespawn

    prespawn.spawn(["solutions/submission.py"])
    proc = prespawn._early[0]
    assert proc.poll() is None
    prespawn.discard()
    assert prespawn._early is None and proc.returncode is not None
    assert not os.path.exists(f"/proc/{proc.pid}")
    prespawn.spawn(["solutions/submission.py"])  # one that died before it was adopted is not taken
    prespawn._early[0].kill()
    prespawn._early[0].wait()
    assert prespawn.adopt() is None and prespawn._early is None


def test_the_grade_script_grades_with_a_worker_spawned_at_start(tmp_path):
    assert "grade = grader.__main__:main" in (ROOT / "setup.cfg").read_text()  # the entry point spawns first
    script = Path(sys.executable).parent / "grade"
    if not script.exists():
        pytest.skip("no grade script beside this interpreter")
    proc = subprocess.run([str(script), "solutions/submission.py", "-e", "tutorial-4", "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "GRADER_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["score"] == json.loads(proc.stdout)["max_score"]


# -- a function's random cases, drawn once per spec and grader (spec/functions.py)
CASES = r"""
import json, sys, zlib
import numpy as np
from grader import spec
ex = spec.load_exercise(sys.argv[1])
print(json.dumps({"random": "numpy.random" in sys.modules, "cases": {
    f"{fn.name}/{c.id}": [c.label, list(c.net.sizes), c.group, c.visible,
                          [[a, v.tolist() if isinstance(v, np.ndarray) else v] for a, v in c.inputs]]
    for fn in ex.functions for c in fn.cases}}))
"""


def _cases(cache: Path, exercise: str = "tutorial-4") -> dict:
    proc = subprocess.run([sys.executable, "-c", CASES, exercise], capture_output=True, text=True, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "GRADER_CACHE_DIR": str(cache)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_functions_random_cases_are_drawn_once_and_read_back_the_same(tmp_path):
    first = _cases(tmp_path)
    assert first["random"]  # drawn, with NumPy's random module
    files = list((tmp_path / "cases").iterdir())
    assert len(files) == 4  # one per function of the exercise (sigmoid, forward, backward, train)
    again = _cases(tmp_path)
    assert again["cases"] == first["cases"]  # read back: the same bytes
    assert not again["random"] or np.__version__ < "2"  # and nothing drawn (NumPy 1 imports its random module)
    # the draws are the spec's seeded generator's, in order (an oracle drawn here by hand)
    rng = np.random.default_rng([0, zlib.crc32(b"forward")])
    x, W1 = first["cases"]["forward/hidden-1"][4][0], first["cases"]["forward/hidden-1"][4][1]
    sizes = first["cases"]["forward/hidden-1"][1]
    assert W1[0] == "W1" and np.array_equal(np.array(W1[1]), rng.uniform(-1, 1, (sizes[1], sizes[0])))
    assert x[0] == "x" and np.array(x[1]).shape == (sizes[0], 4)
    # a damaged or incomplete file is drawn again, to the same cases
    for f in files:
        f.write_bytes(f.read_bytes()[:-8])
    damaged = _cases(tmp_path)
    assert damaged["random"] and damaged["cases"] == first["cases"]


def test_cases_drawn_for_one_spec_are_not_taken_for_another(tmp_path):
    data = json.loads((ROOT / "exercises" / "tutorial-4-matrix.json").read_text())
    mine = tmp_path / "mine.json"
    data["id"] = "mine"
    data["functions"]["forward"] = dict(data["functions"].get("forward") or {}, seed=7)
    mine.write_text(json.dumps(data))
    a = _cases(tmp_path / "cache", "tutorial-4")
    b = _cases(tmp_path / "cache", str(mine))
    assert b["random"]  # another seed: another file, drawn
    assert b["cases"]["forward/hidden-1"] != a["cases"]["forward/hidden-1"]
    assert b["cases"]["backward/hidden-1"] == a["cases"]["backward/hidden-1"]  # backward is the same spec
