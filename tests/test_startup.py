"""Start-up of one ``grade FILE``: what it imports, what it remembers between runs, and the
sandbox worker launched before the rest of the grader loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
                                                 "grader.sandbox._doctor") if m in sys.modules)}))
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
    # submission without late-penalty options needs no diagnosis, LMS code, folder discovery or doctor
    assert again["launched"][0] == [] and again["unneeded"] == []
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
