"""grader.check in a notebook: a real notebook run by a real IPython kernel (nbclient +
ipykernel), the HTML report in its outputs; source collection; the sandbox-unavailable message."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import textwrap

import nbformat
import pytest
from nbclient import NotebookClient

import grader
from grader import notebook, report

CORRECT = '''
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def forward(x, W1, b1, W2, b2):
    o = sigmoid(W1 @ x + b1)
    y = sigmoid(W2 @ o + b2)
    return o, y
'''

# forgets the sigmoid derivative in the output layer; uses a helper function and a constant
BUGGY_BACKWARD = '''
HALF = 0.5

def delta_out(y, t):
    return 2 * HALF * (y - t)   # the mistake: no y * (1 - y)

def backward(x, t, W1, b1, W2, b2):
    o, y = forward(x, W1, b1, W2, b2)
    d2 = delta_out(y, t)
    d1 = (W2.T @ d2) * o * (1 - o)
    return d1 @ x.T, d1.sum(axis=1, keepdims=True), d2 @ o.T, d2.sum(axis=1, keepdims=True)
'''


def rows(page: str) -> dict[str, tuple[str, str]]:
    """test name -> (PASS/PART/FAIL, feedback) from the HTML report."""
    out = {}
    for mark, name, feedback in re.findall(
            r'<tr class="grader-(\w+)">.*?</td><td[^>]*>(.*?)</td>.*?<td[^>]*>.*?</td><td[^>]*>.*?</td>'
            r"<td[^>]*>(.*?)</td></tr>", page, flags=re.S):
        out[html.unescape(name)] = (mark.upper(), html.unescape(feedback))
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """One notebook run top to bottom by a real kernel."""
    cells = [
        nbformat.v4.new_code_cell(CORRECT),
        nbformat.v4.new_code_cell("%time 1 + 1\nimport grader\ngrader.check('tutorial-4', 'forward')"),
        nbformat.v4.new_code_cell(BUGGY_BACKWARD),
        nbformat.v4.new_code_cell("grader.check('tutorial-4')"),
        nbformat.v4.new_code_cell("r = grader.check('tutorial-4', 'backward')\nprint(r.score, r.max_score)\nr"),
        nbformat.v4.new_code_cell("grader.check('tutorial-4-output-layer', answers={'w6': '(y1 - t1) * y1 * (1 - y1) * o2',"
                                  " 'w7': '(y2 - t2) * o1', 'w6.3': np.float64(0.59688)})"),
        nbformat.v4.new_code_cell("grader.check('tutorial-4', 'tain')"),
        nbformat.v4.new_code_cell("x = 1\n\ndef train(x, t, W1, b1, W2, b2, lr, epochs):\n    raise ValueError('not yet')"),
        nbformat.v4.new_code_cell("grader.check('tutorial-4', 'train')"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    folder = tmp_path_factory.mktemp("nb")
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def html_of(cell) -> str:
    return "".join(o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {}))


def test_check_one_function_in_a_real_kernel(executed) -> None:
    page = html_of(executed.cells[1])
    got = rows(page)
    assert got and all(name.startswith("forward") for name in got)
    assert all(mark == "PASS" for mark, _ in got.values())
    assert "Score: 2/2 (100.0%)" in page
    text = "".join(o["data"]["text/plain"] for o in executed.cells[1].outputs if "data" in o)
    assert "PASS  forward: the exercise's values" in text  # plain text where HTML is not shown


def test_a_buggy_function_is_diagnosed_in_the_notebook(executed) -> None:
    page = html_of(executed.cells[3])
    got = rows(page)
    assert got["forward: the exercise's values"][0] == "PASS"
    assert got["sigmoid: the exercise's values"][0] == "PASS"
    mark, feedback = got["backward: the exercise's values"]
    assert mark == "FAIL"
    assert "derivative of the activation seems to be missing" in feedback  # the diagnosis
    assert got["backward: hidden case 1: 3-4-2 network, 4 samples"][0] == "FAIL"
    assert "not defined yet, so not graded: train" in page
    assert not any(name.startswith("train") for name in got)


def test_the_report_reveals_no_more_than_grade(executed) -> None:
    page = html_of(executed.cells[3])
    for _, feedback in rows(page).values():
        assert "expected" not in feedback or "(expected" in feedback  # exercise's own case only
    hidden = [f for n, (_, f) in rows(page).items() if "hidden case" in n]
    assert hidden and not any("expected" in f or "got" in f for f in hidden)


def test_the_report_object_has_the_score(executed) -> None:
    out = executed.cells[4].outputs
    printed = "".join(o.get("text", "") for o in out if o["output_type"] == "stream")
    score, total = map(float, printed.split())
    assert 0 <= score < total
    assert rows(html_of(executed.cells[4]))


def test_typed_answers_and_formulas_in_the_notebook(executed) -> None:
    got = rows(html_of(executed.cells[5]))
    assert got["w6: ∂E_total/∂w6"][0] == "PASS"
    mark, feedback = got["w7: ∂E_total/∂w7"]
    assert mark == "FAIL" and "Step:" in feedback
    assert got["w6.3: ∂z3/∂w6"][0] == "PASS"  # a numpy number is a number (o2 of the published example)
    assert got["o1: o1"] == ("FAIL", "no answer")


def test_a_wrong_function_name_says_did_you_mean(executed) -> None:
    assert "did you mean 'train'?" in html.unescape(html_of(executed.cells[6]))


def test_a_traceback_names_the_cell(executed) -> None:
    assert executed.cells[7].execution_count == 8
    got = rows(html_of(executed.cells[8]))
    mark, feedback = got["train: the exercise's values"]
    assert mark == "FAIL" and "ValueError: not yet" in feedback
    assert "cell 8, line 4" in feedback, feedback


def test_source_comes_from_the_history_when_inspect_cannot_find_it() -> None:
    cell = "import numpy as np\nSCALE = 2.0\n\n\ndef helper(z):\n    return SCALE * z\n\n\ndef sigmoid(z):\n" \
           "    return 1 / (1 + np.exp(-helper(z) / SCALE))\n"
    namespace: dict = {"__name__": "__main__"}
    exec(compile(cell, "<no file>", "exec"), namespace)  # no source file: inspect.getsource fails
    got = notebook.collect(namespace, ["", "x = 1", cell], ["sigmoid", "forward"])
    assert got.defined == ["sigmoid"]
    assert "import numpy as np" in got.code and "SCALE = 2.0" in got.code
    assert "def helper(z):" in got.code and "def sigmoid(z):" in got.code
    assert "# %% [cell 2]\n\n\n\n\n\n\n\n\ndef sigmoid" in got.code  # at its own line of cell In [2]
    scope: dict = {}
    exec(got.code, scope)
    assert scope["sigmoid"](0.0) == pytest.approx(0.5)


def test_objects_that_cannot_be_sent_are_named() -> None:
    import numpy as np

    def forward(x, W1, b1, W2, b2):
        return TABLE @ x, x  # noqa: F821 - a name of the notebook, not of this test

    forward.__module__ = "__main__"  # as if defined in a cell
    namespace = {"forward": forward, "TABLE": np.eye(2), "np": np}
    got = notebook.collect(namespace, [], ["forward"])
    assert any("forward uses TABLE, a ndarray" in n for n in got.notes)


def test_without_a_sandbox_a_clear_message_says_how_to_grade(tmp_path) -> None:
    script = tmp_path / "student.py"
    script.write_text(textwrap.dedent('''
        import sys
        import numpy as np
        import grader

        def sigmoid(z):
            return 1 / (1 + np.exp(-z))

        sys.executable = "/nonexistent/python3"  # the sandbox's worker cannot be started
        r = grader.check("tutorial-4")
        print(r)
        print(r._repr_html_())
    '''))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the sandbox cannot start here, so the code was not run" in done.stdout
    assert "grade notebook.ipynb --exercise tutorial-4" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_import_grader_stays_cheap() -> None:
    code = ("import json, sys, grader; print(json.dumps(sorted(m for m in sys.modules "
            "if m.startswith('grader') or m in ('numpy', 'IPython'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout) == ["grader", "grader._about"]  # its version and default, nothing heavy
    assert callable(grader.check)


def test_html_report_escapes_everything() -> None:
    from grader.results import Results, TestResult

    r = Results("ex<1>", 0.0, 1.0, (TestResult("q", "q: <script>alert(1)</script>", 0.0, 1.0, "wrong",
                                               "got <b>&amp;</b>"),), ("warn <i>",), "<img src=x onerror=alert(1)>")
    page = report.results_html(r)
    assert "<script>" not in page and "<img" not in page and "<i>" not in page and "<b>&amp;" not in page
    assert "&lt;script&gt;" in page
