"""The benchmarks' generated classes are what they say they are (the benchmarks themselves are
not run here: their numbers are not test results)."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli

ROOT = Path(__file__).resolve().parents[1]


def _bench_batch():
    spec = importlib.util.spec_from_file_location("bench_batch", ROOT / "bench" / "bench_batch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_typed_numbers_solution_is_correct_and_trains_nothing_as_it_loads(tmp_path):
    bench = _bench_batch()
    text = bench.typed_numbers(bench.CORRECT)
    tree = ast.parse(text)
    top_calls = {n.func.id for stmt in tree.body if not isinstance(stmt, (ast.FunctionDef, ast.Import))
                 for n in ast.walk(stmt) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not top_calls & {"train", "forward", "backward"}
    answers = next(s for s in tree.body if isinstance(s, ast.Assign) and getattr(s.targets[0], "id", "") == "ANSWERS")
    assert isinstance(ast.literal_eval(answers.value), dict)
    path = tmp_path / "submission.py"
    path.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(cli.cli, [str(path), "--format", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["score"] == pytest.approx(data["max_score"]) and data["max_score"] == pytest.approx(26.0)
    # the numbers are those of the text given, not of the file it came from
    other = bench.typed_numbers(bench.CORRECT.replace("x = np.array([[0.05], [0.10]])", "x = np.array([[0.06], [0.10]])"))
    assert other.split("ANSWERS")[1] != text.split("ANSWERS")[1]


def test_all_correct_class_uses_the_given_solution(tmp_path):
    bench = _bench_batch()
    folder = bench.code_class(tmp_path / "class", 3, all_correct=True, correct="# the correct one\n")
    texts = sorted(p.read_text("utf-8") for p in folder.glob("*.py"))
    assert len(set(texts)) == 3  # distinct copies
    assert all(t.startswith("# the correct one\n") for t in texts)


def _stat(ppid: int, utime: int, stime: int = 0, cutime: int = 0, cstime: int = 0, start: int = 0,
          minflt: int = 0, cminflt: int = 0) -> list[bytes]:
    """The fields of a /proc/PID/stat line after the name, as bench_batch reads them."""
    fields = [b"S", str(ppid).encode()] + [b"0"] * 18
    fields[7:9] = [str(v).encode() for v in (minflt, cminflt)]
    fields[11:15] = [str(v).encode() for v in (utime, stime, cutime, cstime)]
    fields[19] = str(start).encode()
    return fields


def test_the_cpu_of_a_batch_is_split_by_each_process_place_in_the_tree():
    bench = _bench_batch()
    t = bench.TICK
    procs = {
        1: _stat(0, 0),                       # the wrapper: not counted
        2: _stat(1, 3 * t),                   # the batch's process
        3: _stat(2, t, t), 4: _stat(2, 2 * t),  # two pool workers
        5: _stat(3, t, cutime=5 * t, cstime=t),  # a zygote, and what it reaped
        6: _stat(4, t, cutime=2 * t),
        7: _stat(5, 2 * t, start=10),         # its supervisor: its oldest child
        8: _stat(5, 9 * t, start=20),         # a running child: counted once reaped
        9: _stat(6, t, start=5),
        10: _stat(99, 50 * t),                # another process of the machine
    }
    cpu = bench._tree_cpu(1, procs, bench._children(procs))
    assert cpu == {"the batch's process": 3.0, "pool workers": 4.0, "zygotes": 2.0, "supervisors": 3.0,
                   "children and inits (reaped)": 8.0}


def test_the_page_faults_of_a_batch_are_split_the_same_way():
    bench = _bench_batch()
    procs = {
        1: _stat(0, 0, minflt=1),                      # the wrapper: not counted
        2: _stat(1, 0, minflt=30, cminflt=7),          # the batch's process (what it reaped is its pool's start)
        3: _stat(2, 0, minflt=10), 4: _stat(2, 0, minflt=20),
        5: _stat(3, 0, minflt=137, cminflt=1130),      # a zygote: its own and its reaped children's
        7: _stat(5, 0, start=10, minflt=2),            # its supervisor
        8: _stat(5, 0, start=20, minflt=900),          # a running child: counted once reaped
    }
    faults = bench._tree_faults(1, procs, bench._children(procs))
    assert faults == {"the batch's process": 30, "pool workers": 30, "zygotes": 137, "supervisors": 2,
                      "children and inits (reaped)": 1130}


def test_steady_roles_leave_out_the_start_and_the_end_of_a_batch():
    bench = _bench_batch()
    role = lambda v: dict.fromkeys(bench.ROLES, v)  # noqa: E731
    samples = [(0, role(0.0)), (20, role(1.0)), (60, role(3.0)), (90, role(4.5)), (100, role(0.5))]
    start, end, per = bench._steady_roles(samples, 100)
    assert (start, end) == (20, 90) and per == role(3.5 / 70)
    assert bench._steady_roles(samples[:2], 100) is None  # too short to tell
    samples[3] = (90, dict(role(4.5), zygotes=0.5))  # a process gone before the window's end
    assert bench._steady_roles(samples, 100) is None


def test_the_machine_probe_measures_a_page_fault_a_fork_and_an_exit():
    costs = _bench_batch().machine_costs()
    assert set(costs) == {"page_fault", "fork", "exit"}
    # seconds: a page fault is well under a millisecond and a fork well under a second anywhere
    assert 0 < costs["page_fault"] < 1e-3 and 0 < costs["fork"] < 1 and 0 < costs["exit"] < 1


def test_the_targets_are_judged_at_steady_state_and_for_500_submissions():
    line = _bench_batch().target_line
    met = line(2, 500, 24.9, 26.0, 7.9)
    assert "at steady state in grade batch --jobs 2: met (24.9 ms; 26.0 with start-up)" in met
    assert "500 submissions in under 8 s: met (7.9 s for 500)" in met
    assert ": NOT met (25.1 ms" in line(2, 500, 25.1, 24.0, 7.0)
    assert "under 8 s: NOT met (4.0 s for 250)" in line(2, 250, 20.0, 21.0, 4.0)  # 8.0 s for 500
    assert "with start-up in grade batch --jobs 2: met (24.0 ms; 24.0" in line(2, 100, None, 24.0, 1.0)
