"""Worked solutions (Markdown, HTML), the SVG network figure and the student sheet.

* Golden files for the three bundled exercises: ``worked-*.md``, ``figure-*.svg``, ``sheet-*.md``.
  Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_worked.py``.
* Every value a worked solution derives equals the answer key to 1e-12 relative, for the bundled
  exercises and for random networks (every activation, loss, tied/fixed/whole-matrix parameter,
  several samples, given/after_epochs/sample) with every kind of question.
* Every LaTeX block is balanced (``$$`` pairs, braces, ``\\begin``/``\\end``, ``\\left``/``\\right``)
  and converts to MathML with the strict converter the HTML page uses.
* The SVG parses as XML and names every parameter; the HTML parses, references nothing over the
  network, and renders in headless Chromium (skipped where ``/usr/bin/chromium`` is absent).
"""

from __future__ import annotations

import html.parser
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import oracle
import pytest

from grader import figure, sheet, solver, spec, worked

GOLDEN = Path(__file__).parent / "golden"
EXERCISES = ["tutorial-4-matrix", "tutorial-4-output-layer", "tutorial-4-hidden-layer"]
CHROMIUM = Path("/usr/bin/chromium")
SVG_NS = "{http://www.w3.org/2000/svg}"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; UPDATE_GOLDEN=1 to accept"


@pytest.fixture(scope="module")
def bundled():
    return {name: spec.load_exercise(name) for name in EXERCISES}


# ---------------------------------------------------------------------------- LaTeX checks
_DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$$", re.M | re.S)


def latex_blocks(md: str) -> list[str]:
    """Every ``$$`` block and every inline ``$…$`` of a Markdown text (code spans skipped)."""
    blocks = _DISPLAY.findall(md)
    rest = _DISPLAY.sub("", md)
    assert "$$" not in rest, "a $$ without its pair"
    for line in rest.splitlines():
        if line.startswith("<"):  # raw HTML (the inline SVG)
            continue
        line = re.sub(r"`[^`]*`", "", line).replace(r"\$", "")
        assert line.count("$") % 2 == 0, f"unbalanced inline $ in {line!r}"
        blocks += re.findall(r"\$([^$]+)\$", line)
    return blocks


def check_balanced(latex: str) -> None:
    """Braces, environments and \\left/\\right pairs match, in order."""
    stack: list[str] = []
    for tok in re.findall(r"\\begin\{[a-z]+\}|\\end\{[a-z]+\}|\\(?:left|right)(?![A-Za-z])|\\[{}]|\\\\|[{}]", latex):
        if tok in (r"\{", r"\}", r"\\"):
            continue
        if tok in ("{", r"\left") or tok.startswith(r"\begin"):
            stack.append(tok)
        elif tok == "}":
            assert stack and stack.pop() == "{", f"unbalanced }} in {latex!r}"
        elif tok == r"\right":
            assert stack and stack.pop() == r"\left", f"\\right without \\left in {latex!r}"
        else:
            env = tok[len(r"\end"):]
            assert stack and stack.pop() == r"\begin" + env, f"{tok} does not close its \\begin in {latex!r}"
    assert not stack, f"unclosed {stack} in {latex!r}"
    assert latex.strip() == latex and latex, "empty or padded math"


def check_markdown_math(md: str) -> int:
    blocks = latex_blocks(md)
    for block in blocks:
        check_balanced(block)
        worked.mathml(block)  # the strict converter accepts exactly the LaTeX we write
    return len(blocks)


# ---------------------------------------------------------------------------- golden files
@pytest.mark.parametrize("name", EXERCISES)
def test_golden_worked_figure_sheet(bundled, name):
    ex = bundled[name]
    golden(f"worked-{name}.md", worked.markdown(ex))
    golden(f"figure-{name}.svg", figure.svg(ex))
    golden(f"sheet-{name}.md", sheet.markdown(ex))


@pytest.mark.parametrize("name", EXERCISES)
def test_outputs_are_deterministic_and_leave_the_exercise_alone(bundled, name):
    ex = bundled[name]
    W = [w.copy() for w in ex.W]
    first = (worked.markdown(ex), worked.html(ex), figure.svg(ex), sheet.markdown(ex))
    assert first == (worked.markdown(ex), worked.html(ex), figure.svg(ex), sheet.markdown(ex))
    assert all(np.array_equal(a, b) for a, b in zip(W, ex.W, strict=True))


# ---------------------------------------------------------------------------- values = answer key
def assert_matches_key(ex: spec.Exercise) -> None:
    got = worked.values(ex)
    key = solver.answer_key(ex)
    assert list(got) == [q.id for q in ex.questions]
    for q in ex.questions:
        want = np.asarray(key[q.id], dtype=float)
        value = np.asarray(got[q.id], dtype=float)
        assert value.shape == want.shape, (q.id, q.ask)
        scale = max(1.0, float(np.abs(want).max(initial=0.0)))
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-14 * scale, err_msg=f"{q.id}: {q.ask}")


@pytest.mark.parametrize("name", EXERCISES)
def test_worked_values_equal_the_answer_key(bundled, name):
    assert_matches_key(bundled[name])


def every_kind_of_question(data: dict, rng: np.random.Generator) -> spec.Exercise:
    """The random network with a question about every name, dE/d every name, random dA/dB,
    parameters after one epoch, E after three, a given input, and per-sample questions."""
    ex = spec.compile_spec(data, "random.json")
    names = [*ex.names, "E"]
    asks: list[dict] = [{"ask": n} for n in names] + [{"ask": f"dE/d{n}"} for n in names]
    tops = [n for n, r in ex.names.items() if r.kind in ("a", "z")]
    asks += [{"ask": f"d{rng.choice(tops)}/d{rng.choice(names)}"} for _ in range(12)]
    params = [n for n, r in ex.names.items() if r.kind in ("param", "W", "b")]
    asks += [{"ask": n, "after_epochs": 1} for n in params]
    asks += [{"ask": "E", "after_epochs": 3}, {"ask": f"dE/d{params[0]}", "after_epochs": 2}]
    x1 = ex.neurons[0][0]
    asks.append({"ask": f"dE/d{params[-1]}", "given": {x1: [0.3] * ex.n_samples if ex.has_samples else 0.3}})
    if ex.n_samples > 1:
        asks += [{"ask": f"dE/d{ex.neurons[1][0]}", "sample": 1}, {"ask": f"d{tops[-1]}/d{params[0]}", "sample": 0}]
    data = dict(data, questions=[{"id": f"q{k}", **a} for k, a in enumerate(asks)])
    return spec.compile_spec(data, "random.json")


@pytest.mark.parametrize("seed", range(8))
def test_random_networks_worked_values_and_latex(seed):
    rng = np.random.default_rng(1000 + seed)
    loss = oracle.LOSSES[seed % len(oracle.LOSSES)]
    samples = [None, 2, 1, 3][seed % 4]
    data = oracle.random_network(rng, loss=loss, samples=samples, matrices=seed % 3 == 0)
    ex = every_kind_of_question(data, rng)
    assert_matches_key(ex)
    assert check_markdown_math(worked.markdown(ex)) > len(ex.questions)
    check_markdown_math(sheet.markdown(ex, figure_src="net.svg"))
    root = ET.fromstring(figure.svg(ex))
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG_NS}text"))
    assert all(name in text for name in ex.parameters)


# ---------------------------------------------------------------------------- the sheet's chain rule
def section(md: str, qid: str) -> str:
    start = md.index(f"## Question {worked.md_escape(qid)}:")
    end = md.find("\n## ", start + 1)
    return md[start:end if end > 0 else None]


def test_chain_rule_follows_the_sheet(bundled):
    md = worked.markdown(bundled["tutorial-4-output-layer"])
    w6 = section(md, "w6")
    chain = (r"\frac{\partial E}{\partial w_{6}} = \frac{\partial E}{\partial y_{1}} \cdot "
             r"\frac{\partial y_{1}}{\partial z_{3}} \cdot \frac{\partial z_{3}}{\partial w_{6}}")
    assert chain in w6
    assert r"\frac{\partial E}{\partial y_{1}} = y_{1} - y_{1}^{\text{target}} = 0.751365 - 0.01 = 0.741365" in w6
    assert r"\frac{\partial y_{1}}{\partial z_{3}} = y_{1}(1 - y_{1}) = 0.751365 \cdot (1 - 0.751365) = 0.186816" in w6
    assert r"\frac{\partial z_{3}}{\partial w_{6}} = o_{2} = 0.596884" in w6
    assert (r"= (y_{1} - y_{1}^{\text{target}}) \cdot y_{1}(1 - y_{1}) \cdot o_{2} = "
            r"0.741365 \cdot 0.186816 \cdot 0.596884 = 0.08266762785") in w6
    assert r"\frac{\partial E}{\partial W^{(2)}} = \delta^{(2)} o^{\top}" in w6  # then the matrix form
    assert "Fixed parameters (b1, b2) do not train" in section(md, "w6_new")
    hidden = section(worked.markdown(bundled["tutorial-4-hidden-layer"]), "w2")
    # a hidden neuron: the sum over every next-layer neuron, written out with names
    assert (r"\frac{\partial E}{\partial o_{1}} = \frac{\partial E}{\partial z_{4}} \cdot w_{5} + "
            r"\frac{\partial E}{\partial z_{5}} \cdot w_{8}") in hidden
    assert r"\frac{\partial z_{1}}{\partial w_{2}} = x_{2} = 0.3" in hidden
    matrix = section(worked.markdown(bundled["tutorial-4-matrix"]), "delta1")
    assert r"\delta^{(1)} = \frac{\partial E}{\partial o} \odot o \odot (1 - o)" in matrix
    assert r"\frac{\partial E}{\partial o} = W^{(2)\top} \delta^{(2)}" in matrix


def test_tied_bias_sums_over_its_uses(bundled_data):
    data = bundled_data("tutorial-4-hidden-layer")
    data["questions"] = [{"id": "b2", "ask": "dE/db2"}, {"id": "b1", "ask": "dE/db1", "after_epochs": 1}]
    ex = spec.compile_spec(data, "tied.json")
    assert_matches_key(ex)
    md = worked.markdown(ex)
    b2 = section(md, "b2")
    assert "b2 is shared (tied): it enters z4 and z5 of y1 and y2" in b2
    assert (r"\frac{\partial E}{\partial b_{2}} = \frac{\partial E}{\partial z_{4}} \cdot \frac{\partial z_{4}}{\partial b_{2}}"
            r" + \frac{\partial E}{\partial z_{5}} \cdot \frac{\partial z_{5}}{\partial b_{2}}") in b2
    assert "moves once per step, by the sum of its gradients" in section(md, "b1")


# ---------------------------------------------------------------------------- LaTeX balance
@pytest.mark.parametrize("name", EXERCISES)
def test_every_latex_block_is_balanced_and_converts(bundled, name):
    ex = bundled[name]
    assert check_markdown_math(worked.markdown(ex)) > 3 * len(ex.questions)
    assert check_markdown_math(sheet.markdown(ex)) > len(ex.questions)


def test_balance_checker_and_converter_reject_broken_latex():
    for bad in (r"\frac{a}{b", r"\begin{bmatrix} 1 \end{matrix}", r"\left( x", "a}"):
        with pytest.raises(AssertionError):
            check_balanced(bad)
        with pytest.raises(ValueError):
            worked.mathml(bad)
    with pytest.raises(ValueError, match="unsupported command"):
        worked.mathml(r"\unknowncommand x")
    with pytest.raises(ValueError, match="double superscript"):
        worked.mathml("a^{b}^{c}")


def test_mathml_of_a_chain_rule():
    out = worked.mathml(r"\frac{\partial E}{\partial w_{6}} = \begin{bmatrix} 1 & -2 \\ 3 & 4 \end{bmatrix}", display=True)
    assert out.startswith('<math display="block">')
    assert "<mfrac><mrow><mi>∂</mi><mi>E</mi></mrow><mrow><mi>∂</mi><msub><mi>w</mi><mn>6</mn></msub></mrow></mfrac>" in out
    assert "<mtable><mtr><mtd><mn>1</mn></mtd><mtd><mo>−</mo><mn>2</mn></mtd></mtr>" in out


def test_names_and_numbers_as_latex():
    assert [worked.tex_name(n) for n in ("w6", "W(1)", "E_total", "net_o1", "z", "a_b{c}")] == [
        "w_{6}", "W^{(1)}", "E", r"\mathrm{net}_{o_{1}}", "z", r"\mathrm{a\_b\{c\}}"]
    assert worked.num(4.38568e-5) == r"4.38568 \times 10^{-5}" and worked.num(0.000438568) == "0.000438568"
    assert worked.pnum(-0.5) == "(-0.5)"
    assert worked.md_escape("E_total * 2 | $x$") == r"E\_total \* 2 \| \$x\$"


# ---------------------------------------------------------------------------- SVG
@pytest.mark.parametrize("name", EXERCISES)
def test_figure_is_xml_and_names_every_parameter(bundled, name):
    ex = bundled[name]
    root = ET.fromstring(figure.svg(ex))
    assert root.tag == f"{SVG_NS}svg"
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    for pname, p in ex.parameters.items():
        value = figure.value_text(ex.W[p.uses[0][1] - 1][p.uses[0][2]] if p.uses[0][0] == "W"
                                  else ex.b[p.uses[0][1] - 1][p.uses[0][2]])
        assert f"{pname} = {value}" in texts, pname
    for names in ex.neurons:
        assert all(n in texts for n in names)
    assert len(list(root.iter(f"{SVG_NS}circle"))) == sum(ex.net.sizes)
    edges = sum(1 for p in ex.parameters.values() for u in p.uses if u[0] == "W")
    assert len(list(root.iter(f"{SVG_NS}line"))) >= edges


def test_figure_tied_bias_on_each_neuron_and_fixed_dashed(bundled):
    root = ET.fromstring(figure.svg(bundled["tutorial-4-output-layer"]))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert texts.count("b1 = 0.35") == 2 and texts.count("b2 = 0.6") == 2
    assert any(r.get("stroke-dasharray") for r in root.iter(f"{SVG_NS}rect"))  # b1, b2 are fixed
    assert "dashed: fixed (does not train)" in texts


def whole_matrix_network(sizes: tuple[int, int, int]) -> spec.Exercise:
    n0, n1, n2 = sizes
    data = {
        "id": "whole", "network": {"layers": [
            {"neurons": n0, "output": "x"},
            {"neurons": n1, "activation": "tanh", "weights": "W(1)", "bias": "b(1)"},
            {"neurons": n2, "activation": "softmax", "weights": "W(2)"}],
            "parameters": {"W(1)": {"init": {"seed": 1}}, "b(1)": {"value": 0.1}, "W(2)": {"init": {"seed": 2}}}},
        "inputs": {"x": [0.5] * n0}, "targets": {f"n2_{k + 1}": 1.0 / n2 for k in range(n2)},
        "loss": "cross_entropy",
        "questions": [{"id": "a", "ask": "n2_1"}, {"id": "b", "ask": "dE/dW(1)"}, {"id": "c", "ask": "dE/dn1_2"}]}
    return spec.compile_spec(data, "whole.json")


def test_figure_labels_matrix_entries_or_leaves_large_layers_unlabelled():
    small = whole_matrix_network((2, 3, 2))
    texts = ["".join(t.itertext()) for t in ET.fromstring(figure.svg(small)).iter(f"{SVG_NS}text")]
    assert f"W(1)[2,1] = {figure.value_text(small.W[0][1, 0])}" in texts
    assert "b(1)[3] = 0.1" in texts and "W(1), b(1) (3×2)" in texts
    big = whole_matrix_network((40, 12, 3))
    root = ET.fromstring(figure.svg(big))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert "W(1), b(1) (12×40)" in texts and "W(2) (3×12)" in texts
    assert not [t for t in texts if t.startswith(("W(1)[", "W(2)["))]  # too many edges to label
    assert len(list(root.iter(f"{SVG_NS}circle"))) == 9 + 9 + 3  # first 6, ⋮, last 3 of a large layer
    for ex in (small, big):
        assert_matches_key(ex)
        check_markdown_math(worked.markdown(ex))


# ---------------------------------------------------------------------------- HTML
class _Page(html.parser.HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.refs: list[str] = []
        self.tags: set[str] = set()
        self.math = 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.math += tag == "math"
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action", "data")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href")]

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


@pytest.mark.parametrize("name", EXERCISES)
def test_html_is_self_contained_and_parses(bundled, name):
    page = worked.html(bundled[name])
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.stack == [], f"unclosed {parser.stack}"
    assert not [r for r in parser.refs if re.match(r"\s*(https?:)?//", r)]
    assert "http://" not in page and "https://" not in page
    assert {"svg", "math", "mfrac", "mtable", "style"} <= parser.tags
    assert not parser.tags & {"script", "link", "iframe", "img"}
    assert parser.math > 3 * len(bundled[name].questions)
    assert page.startswith("<!DOCTYPE html>")


def test_figure_reference_instead_of_inline_svg(bundled):
    ex = bundled["tutorial-4-matrix"]
    assert "![Network of tutorial-4-matrix](net.svg)" in worked.markdown(ex, figure_src="net.svg")
    assert "<svg" not in worked.markdown(ex)  # GitHub and JupyterLab strip inline SVG from Markdown
    md = sheet.markdown(ex)
    assert "\n\n<svg " in md and "</svg>\n\n" in md and "\n\n" not in md[md.index("<svg"):md.index("</svg>")]
    assert "<svg" not in sheet.markdown(ex, figure_src="net.svg")


# ---------------------------------------------------------------------------- sheet
@pytest.mark.parametrize("name", EXERCISES)
def test_sheet_has_values_and_questions_but_no_answers(bundled, name):
    ex = bundled[name]
    md = sheet.markdown(ex)
    assert md.startswith(f"# {worked.md_escape(ex.title)}\n")
    for q in ex.questions:
        assert f"**Question {worked.md_escape(q.id)}** ${sheet.ask_tex(q)}$" in md
        if q.text:
            assert worked.md_escape(q.text) in md
        if q.after_epochs:
            assert f"after {q.after_epochs} epoch" in md
    assert rf"\eta = {worked.num(ex.learning_rate)}" in md
    for pname in ex.parameters:
        assert f"${worked.tex_name(pname)}$" in md
    shown = {worked.num(v) for arr in (*ex.W, *ex.b, ex.x, ex.t) for v in np.ravel(arr)}
    shown |= {worked.num(v) for q in ex.questions for _, g in q.given for v in np.ravel(g)}
    for qid, value in solver.answer_key(ex).items():
        for v in np.ravel(value):
            text = worked.num(v)
            if text not in shown and abs(v) not in (0.0, 1.0):
                assert text not in md, f"the sheet shows the answer to {qid}"
    assert "**Answer:**" not in md


# ---------------------------------------------------------------------------- rendering
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)")
def test_html_renders_in_headless_chromium(bundled, tmp_path):
    page = tmp_path / "worked.html"
    page.write_text(worked.html(bundled["tutorial-4-output-layer"]), encoding="utf-8")
    png = tmp_path / "worked.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={png}", "--window-size=1200,3000", page.as_uri()]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert png.exists() and png.stat().st_size > 10_000, run.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
