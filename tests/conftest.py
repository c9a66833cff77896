"""Shared fixtures for the spec, solver and compare tests.

Helpers that test modules import by name (the oracle, random networks, JSON strategies) live in
``tests/oracle.py``: a ``conftest`` module cannot be imported reliably once another directory of
the suite has a ``conftest.py`` of its own.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from grader import solver, spec

EXERCISES = Path(__file__).resolve().parents[1] / "exercises"
BUNDLED = ("tutorial-4-output-layer", "tutorial-4-hidden-layer", "tutorial-4-matrix")


@pytest.fixture
def bundled_data():
    """``bundled_data(id)``: a fresh copy of a bundled exercise's JSON data."""
    cache: dict[str, Any] = {}

    def load(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = json.loads((EXERCISES / f"{name}.json").read_text("utf-8"))
        return copy.deepcopy(cache[name])

    return load


@pytest.fixture
def solve_one():
    """``solve_one(data_or_exercise)``: every answer of one exercise, without the variant axis."""

    def run(ex: Any, source: str = "test.json") -> dict[str, Any]:
        if isinstance(ex, dict):
            ex = spec.compile_spec(ex, source)
        return {qid: value[0] for qid, value in solver.solve(ex).items()}

    return run


@pytest.fixture
def write_file(tmp_path):
    """``write_file(name, text_or_bytes)`` -> the path of a new file under tmp_path."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write
