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
