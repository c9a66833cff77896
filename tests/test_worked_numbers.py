"""Every formula a worked solution shows computes the number shown beside it.

Each display formula is split into its equations and each equation at its ``=``; every segment
made only of numbers is computed by the test's own evaluator (``tests/latex_eval.py``) and must
equal the equation's last number, to the rounding of the numbers shown (6 significant figures).
Over every bundled exercise and over random networks (every activation and loss, sum and mean,
one and several samples, batch and online, given/sample/after_epochs questions of every kind).
"""

from __future__ import annotations

import re

import latex_eval
import numpy as np
import oracle
import pytest

from grader import spec, worked

DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$$", re.M | re.S)


def check(md: str, where: str) -> int:
    """The number of equations whose numbers were checked; fails on the first that disagrees."""
    checked = 0
    for block in DISPLAY.findall(md):
        for eq in latex_eval.segments(block):
            values = []
            for seg in eq:
                try:
                    values.append((latex_eval.evaluate(seg), seg))
                except (latex_eval.Symbolic, ValueError, TypeError, IndexError):
                    continue
            if len(values) < 2:
                continue
            for (got, seg), (nxt, nseg) in zip(values, values[1:], strict=False):  # each against the next
                if np.shape(got) != np.shape(nxt) and nseg[0] == r"\sum":
                    got = np.sum(got)  # "= Σ_s [...]": the next segment sums these
                if np.ndim(got) < np.ndim(nxt):
                    got = np.broadcast_to(got, np.shape(nxt))
                assert np.shape(got) == np.shape(nxt), f"{where}: shapes {np.shape(got)} vs {np.shape(nxt)} in {block}"
                scale = max([abs(v) for v in latex_eval.literals(seg)] + [1e-12])
                tol = 2e-4 * np.maximum(np.abs(nxt), np.abs(got)) + 2e-5 * scale
                assert np.all(np.abs(got - nxt) <= tol), f"{where}: {' '.join(seg)} = {got} but shown {nxt}\nin {block}"
            checked += 1
    return checked


def test_the_evaluator():
    assert float(latex_eval.evaluate(latex_eval._tokens(r"\frac{1}{1 + e^{-0.3775}}"))) == pytest.approx(0.593269992)
    got = latex_eval.evaluate(latex_eval._tokens(
        r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}^{\top} \begin{bmatrix} 1 \\ 1 \end{bmatrix} - 0.5 \cdot 2"))
    assert got.tolist() == [[3.0], [5.0]]
    assert float(latex_eval.evaluate(latex_eval._tokens(r"4.4 \times 10^{-4} \cdot (1 - 0.5)"))) == pytest.approx(2.2e-4)
    assert float(latex_eval.evaluate(latex_eval._tokens(r"\sum_{s} \begin{bmatrix} 1 & 2 \end{bmatrix}"))) == 3
    with pytest.raises(latex_eval.Symbolic):
        latex_eval.evaluate(latex_eval._tokens(r"y_{1} - 0.5"))


def test_a_wrong_number_is_caught():
    with pytest.raises(AssertionError, match="shown"):
        check("$$\nE = \\frac{1}{2}\\left(0.5 - 0.1\\right) = 0.4\n$$\n", "teeth")  # 1/S written, not computed
    assert check("$$\nE = \\frac{1}{2}\\left(0.5 - 0.1\\right) = 0.2\n$$\n", "ok") == 1


@pytest.mark.parametrize("name", ["tutorial-4-output-layer", "tutorial-4-hidden-layer", "tutorial-4-matrix"])
def test_bundled_exercises(name):
    assert check(worked.markdown(spec.load_exercise(name)), name) > 20


def random_questions(o: oracle.Oracle, rng: np.random.Generator) -> list[dict]:
    names = [n for n, k in o.names.items() if k[0] in ("param", "W", "b")]
    neurons = [n for n, k in o.names.items() if k[0] == "a"]
    qs = [{"ask": "E"}, {"ask": f"dE/d{rng.choice(names)}"}, {"ask": f"dE/d{neurons[-1]}"},
          {"ask": f"dE/d{rng.choice(names)}", "after_epochs": 1}, {"ask": str(rng.choice(names)), "after_epochs": 2},
          {"ask": "E", "after_epochs": 3}, {"ask": neurons[-1], "after_epochs": 1}]
    if o.S > 1:
        qs += [{"ask": "E", "sample": o.S - 1}, {"ask": f"dE/d{neurons[-1]}", "sample": 0},
               {"ask": f"dE/d{rng.choice(names)}", "sample": 1, "after_epochs": 2}]
    return [dict(q, id=f"q{k}") for k, q in enumerate(qs)]


@pytest.mark.parametrize("seed", range(16))
def test_random_networks(seed):
    rng = np.random.default_rng(7100 + seed)
    data = oracle.random_network(rng, samples=[None, 2, 3][seed % 3], reduction=["sum", "mean"][seed // 3 % 2],
                                 matrices=bool(seed % 2))
    data["training"] = {"mode": ["batch", "online"][seed // 2 % 2]}
    data["learning_rate"] = 0.3
    data["questions"] = random_questions(oracle.Oracle(data), rng)
    ex = spec.compile_spec(data, f"random-{seed}.json")
    assert check(worked.markdown(ex), f"seed {seed}") > 5


def section(md: str, qid: str) -> str:
    start = md.index(f"## Question {qid}:")
    end = md.find("\n## ", start + 1)
    return md[start:end if end > 0 else None]


@pytest.mark.parametrize("loss", ["half_sse", "cross_entropy", "binary_cross_entropy", "mse"])
def test_sample_of_a_mean_loss_is_that_samples_loss(loss):
    """With ``sample`` the question is about one sample: its E has no 1/S, and the page says so;
    over all samples the 1/S is written with the number of samples and computed."""
    data = oracle.random_network(np.random.default_rng(5), layers=2, samples=2, loss=loss, reduction="mean")
    out = [n for n, k in oracle.Oracle(data).names.items() if k[0] == "a"][-1]
    data["questions"] = [{"id": "one", "ask": f"dE/d{out}", "sample": 1}, {"id": "all", "ask": f"dE/d{out}"},
                         {"id": "E1", "ask": "E", "sample": 0}]
    ex = spec.compile_spec(data, "mean.json")
    md = worked.markdown(ex)
    for qid in ("one", "E1"):
        part = section(md, qid)
        assert r"\frac{1}{S}" not in part and r"\frac{1}{2}\left(" not in part, part  # the mean's factor
        assert "the mean over one sample is that sample's loss" in part
    assert r"\frac{1}{S}" in section(md, "all") and r"\frac{1}{2}\left(" in section(md, "all")
    assert check(md, loss) >= 3
