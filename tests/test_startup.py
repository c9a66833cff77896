"""Start-up of one ``grade FILE``: what it imports, what it remembers between runs, and the
sandbox worker launched before the rest of the grader loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
PROBE = r"""
import io, contextlib, json, sys
from grader.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "jsonschema": "jsonschema" in sys.modules, "nbformat": "nbformat" in sys.modules,
                  "out": out.getvalue()}))
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
