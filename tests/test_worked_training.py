"""Worked solutions of training questions: every after_epochs question shows its first step with
numbers (the gradient, then θ ← θ − η ∂E/∂θ), the value after N epochs and, for N > 1, a training
curve (a table, and an SVG inline in HTML or beside the Markdown); given and sample questions say
what changed; several samples and softmax in matrix form with the right shapes.

Golden files: ``worked-training.md`` and its curve ``worked-training-E3-curve.svg``
(``UPDATE_GOLDEN=1`` to accept an intended change).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from grader import solver, spec, worked

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; UPDATE_GOLDEN=1 to accept"


def training_spec(mode: str = "batch") -> dict:
    return {
        "id": "training", "network": {"layers": [
            {"neurons": ["x1", "x2"]},
            {"neurons": ["h1", "h2"], "activation": "tanh", "weights": "W1", "bias": "b1"},
            {"neurons": ["y1", "y2"], "activation": "softmax", "weights": "W2", "bias": "b2"}],
            "parameters": {"W1": {"value": [[0.1, -0.2], [0.3, 0.4]]}, "b1": {"value": [0.1, 0.0]},
                           "W2": {"value": [[0.5, -0.6], [0.7, 0.2]]}, "b2": {"value": [0.0, 0.1]}}},
        "inputs": {"x1": [1, 0.5], "x2": [-1, 2]}, "targets": {"y1": [1, 0], "y2": [0, 1]},
        "loss": {"name": "cross_entropy", "reduction": "mean"}, "learning_rate": 0.5, "training": {"mode": mode},
        "questions": [
            {"id": "d2", "ask": "dE/dz(2)"}, {"id": "E3", "ask": "E", "after_epochs": 3},
            {"id": "W2n", "ask": "W2", "after_epochs": 2}, {"id": "gy", "ask": "dE/dy1", "sample": 1},
            {"id": "h1", "ask": "h1", "after_epochs": 1, "given": {"x1": [0.2, 0.3]}}],
    }


def section(md: str, qid: str) -> str:
    start = md.index(f"## Question {qid}:")
    end = md.find("\n## ", start + 1)
    return md[start:end if end > 0 else None]


def test_golden_training_solution(tmp_path):
    ex = spec.compile_spec(training_spec(), "training.json")
    files = worked.markdown_files(ex, tmp_path / "worked-training.md")
    assert sorted(p.name for p in files) == ["worked-training-E3-curve.svg", "worked-training-W2n-curve.svg",
                                             "worked-training.md"]
    golden("worked-training.md", files[tmp_path / "worked-training.md"])
    golden("worked-training-E3-curve.svg", files[tmp_path / "worked-training-E3-curve.svg"])


@pytest.mark.parametrize("mode", ["batch", "online"])
def test_every_after_epochs_question_shows_its_first_step(mode):
    ex = spec.compile_spec(training_spec(mode), "training.json")
    md = worked.markdown(ex)
    for q in ex.questions:
        if not q.after_epochs:
            continue
        part = section(md, q.id)
        assert "**The first step.**" in part or "Then one step:" in part, q.id
        assert r"\leftarrow" in part and r"- 0.5" in part  # θ ← θ − η ∂E/∂θ with its numbers
        if q.after_epochs > 1:
            assert "**Training curve.**" in part and f"| {q.after_epochs} |" in part
        if mode == "online":
            assert "sample 0 alone" in part and "up to sample 1" in part


def test_first_step_numbers_are_one_step_of_the_solver():
    """The W2 the first step writes out is the solver's W2 after one epoch (batch)."""
    ex = spec.compile_spec(training_spec(), "training.json")
    part = section(worked.markdown(ex), "E3")
    line = next(b for b in part.split("$$") if b.strip().startswith(r"W_{2} \leftarrow"))
    shown = line.split(" = ")[-1]
    shown = shown.replace(r"\begin{bmatrix}", "").replace(r"\end{bmatrix}", "")
    nums = [float(x) for x in re.findall(r"-?\d+\.\d+|-?\d+", shown)]
    one = solver.train(ex.net, solver.Values.of(ex), ex.learning_rate, 1, "batch")
    np.testing.assert_allclose(nums, one.W[1][0].ravel(), rtol=1e-5)


def test_curve_values_are_the_solvers_E_after_each_epoch():
    ex = spec.compile_spec(training_spec(), "training.json")
    part = section(worked.markdown(ex), "E3")
    rows = [line.split("|")[1:3] for line in part.splitlines() if re.match(r"\| \d+ \| \$", line)]
    shown = {int(e): float(v.strip(" $")) for e, v in rows}
    assert sorted(shown) == [0, 1, 2, 3]
    for epochs, value in shown.items():
        q = {"id": "e", "ask": "E", "after_epochs": epochs}
        want = solver.solve(spec.compile_spec(dict(training_spec(), questions=[q]), "t.json"))["e"][0]
        assert value == pytest.approx(float(want), rel=1e-5)


def test_html_has_the_curve_inline_and_markdown_alone_has_none():
    ex = spec.compile_spec(training_spec(), "training.json")
    page = worked.html(ex)
    assert page.count('<figure class="curve">') == 2
    svg = page[page.index('<figure class="curve">'):]
    svg = svg[svg.index("<svg"):svg.index("</svg>") + 6]
    root = ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    assert root.find("{http://www.w3.org/2000/svg}polyline") is not None
    md = worked.markdown(ex)
    assert "curve.svg" not in md and "**Training curve.**" in md


def test_given_and_sample_say_what_changed():
    ex = spec.compile_spec(training_spec(), "training.json")
    md = worked.markdown(ex)
    given = section(md, "h1")
    assert r"x_{1} = \begin{bmatrix} 0.2 & 0.3 \end{bmatrix}\;\text{(instead of}\; \begin{bmatrix} 1 & 0.5 \end{bmatrix}" \
        in given
    sample = section(md, "gy")
    assert "about sample 1 alone" in sample and r"x_{1} = 0.5" in sample and r"x_{2} = 2" in sample
    assert r"\frac{1}{S}" not in sample


def test_several_samples_in_matrix_form_have_the_right_shapes():
    ex = spec.compile_spec(training_spec(), "training.json")
    part = section(worked.markdown(ex), "d2")
    assert r"\mathbf{1}\mathbf{1}^{\top}(y \odot \frac{\partial E}{\partial y})" in part  # (2×2), not yᵀ∂E/∂y
    assert r"y^{\top} \frac{\partial E}{\partial y}" not in part
    e3 = section(worked.markdown(ex), "E3")
    assert r"\sum_{s=1}^{2} \delta^{(2)}_{s} h_{s}^{\top}" in e3 and r"\sum_{s=1}^{2} \delta^{(1)}_{s}" in e3


def test_entry_names_of_whole_matrices_as_the_sheet_writes_them():
    data = training_spec()
    data["questions"] = [{"id": "w", "ask": "dE/dW1"}]
    ex = spec.compile_spec(data, "t.json")
    md = worked.markdown(ex)
    assert r"W^{(1)}_{12}" in md and "{W_{1}}_{1,2}" not in md


def test_after_epochs_answer_has_a_space_before_the_words():
    data = training_spec()
    data["questions"] = [{"id": "E3", "ask": "E", "after_epochs": 3}]
    md = worked.markdown(spec.compile_spec(data, "t.json"))
    assert r"E\;\text{after 3 epochs}" in md
    page = worked.html(spec.compile_spec(data, "t.json"))
    assert "<mspace" in page[page.index("after 3 epochs") - 200:page.index("after 3 epochs")]
