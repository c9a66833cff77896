"""Reading submissions: .py files and notebooks, checked but never run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from grader.errors import SubmissionError
from grader.submission import MAX_BYTES, Source, load_source


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def notebook(tmp_path: Path, cells, name: str = "submission.ipynb") -> Path:
    nb = new_notebook(cells=cells)
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


# ---------------------------------------------------------------------------- .py files
def test_python_file(tmp_path):
    path = write(tmp_path, "sub.py", "import numpy as np\nEXERCISE = 'tutorial-4-matrix'\n\n\ndef f():\n    return 1\n")
    src = load_source(path)
    assert src == Source(path=path, code=path.read_text(), notes=(), exercise="tutorial-4-matrix")
    with pytest.raises(dataclasses.FrozenInstanceError):
        src.code = ""
    assert load_source(str(path)).path == path


def test_exercise_is_read_without_running_anything(tmp_path):
    marker = tmp_path / "ran"
    path = write(tmp_path, "sub.py", f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit(1)\n"
                                     "EXERCISE = 'first'\nEXERCISE: str = 'second'\n")
    assert load_source(path).exercise == "second"  # the last top-level assignment, as when run
    assert not marker.exists()


@pytest.mark.parametrize("code", [
    "EXERCISE = name_of_something\n",
    "EXERCISE = 3\n",
    "EXERCISE = f'{1}'\n",
    "if True:\n    EXERCISE = 'nested'\n",
    "def f():\n    EXERCISE = 'local'\n",
    "EXERCISE = 'a'\nEXERCISE = None\n",
    "",
])
def test_exercise_only_from_a_top_level_string(tmp_path, code):
    assert load_source(write(tmp_path, "sub.py", code)).exercise is None


def test_empty_file_is_a_submission(tmp_path):
    src = load_source(write(tmp_path, "empty.py", ""))
    assert src.code == "" and src.notes == () and src.exercise is None


def test_byte_order_mark_and_coding_cookie(tmp_path):
    src = load_source(write(tmp_path, "bom.py", b"\xef\xbb\xbfEXERCISE = 'caf\xc3\xa9'\n"))
    assert src.exercise == "café" and not src.code.startswith("\ufeff")
    src = load_source(write(tmp_path, "latin.py", b"# -*- coding: latin-1 -*-\nEXERCISE = 'caf\xe9'\n"))
    assert src.exercise == "café"


def test_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "broken.py", "import numpy as np\n\ndef forward(x:\n    return x\n")
    with pytest.raises(SubmissionError, match=r"broken\.py:3: SyntaxError: ") as info:
        load_source(path)
    assert info.value.exit_code == 2
    # errors found only by the compiler, not the parser, too
    with pytest.raises(SubmissionError, match=r"ret\.py:1: SyntaxError: 'return' outside function"):
        load_source(write(tmp_path, "ret.py", "return 3\n"))


@pytest.mark.parametrize("data, words", [
    (b"x = 1\x00\n", "null bytes"),
    (b"x = '\xff\xfe'\n", "not readable as Python source"),
    (("x = " + "(" * 300 + ")" * 300 + "\n").encode(), "SyntaxError"),
    (("x = " + "-" * 200000 + "1\n").encode(), "cannot be compiled"),
])
def test_hostile_sources_are_rejected_not_crashed(tmp_path, data, words):
    with pytest.raises(SubmissionError, match=words):
        load_source(write(tmp_path, "hostile.py", data))


def test_missing_wrong_kind_and_oversize(tmp_path):
    with pytest.raises(SubmissionError, match=r"nope\.py: no such file"):
        load_source(tmp_path / "nope.py")
    with pytest.raises(SubmissionError, match="not a regular file"):
        load_source(tmp_path)
    with pytest.raises(SubmissionError, match=r"answers\.txt: not a Python file or notebook"):
        load_source(write(tmp_path, "answers.txt", "x = 1\n"))
    big = write(tmp_path, "big.py", "#" * MAX_BYTES + "\n")
    with pytest.raises(SubmissionError, match=r"big\.py: larger than 1024 KiB"):
        load_source(big)
    assert load_source(write(tmp_path, "edge.py", "#" * (MAX_BYTES - 1) + "\n")).code


# ---------------------------------------------------------------------------- notebooks
def test_notebook_code_cells_in_order_with_magics_skipped(tmp_path):
    path = notebook(tmp_path, [
        new_markdown_cell("# Tutorial 4\n%not code"),
        new_code_cell("%matplotlib inline\nimport numpy as np\nEXERCISE = 'tutorial-4-matrix'"),
        new_raw_cell("raw text"),
        new_code_cell("%%timeit\nnp.zeros(3)"),
        new_code_cell("!pip install numpy\nfiles = !ls\nfor i in range(2):\n    %time x = i\n"
                      "y = (1\n     % 2)\ns = '''\n!not a shell line\n'''\nnp.sum?"),
        new_code_cell(["def f(x):\n", "    return x + y\n"]),
    ])
    src = load_source(path)
    assert src.exercise == "tutorial-4-matrix"
    assert src.notes == (
        "cell 2: skipped IPython magic '%matplotlib inline'",
        "cell 4: skipped IPython cell magic '%%timeit'",
        "cell 5: skipped shell command '!pip install numpy'",
        "cell 5: skipped shell command 'files = !ls'",
        "cell 5: skipped IPython magic '%time x = i'",
        "cell 5: skipped IPython help 'np.sum?'",
    )
    assert "% 2)" in src.code and "!not a shell line" in src.code  # Python, not IPython syntax
    assert "np.zeros(3)" not in src.code and "raw text" not in src.code and "Tutorial" not in src.code
    order = [src.code.index(s) for s in ("# %% [cell 2]", "# %% [cell 5]", "# %% [cell 6]", "def f(x)")]
    assert order == sorted(order)
    namespace: dict = {}
    exec(compile(src.code, "nb", "exec"), namespace)  # what remains is plain Python
    assert namespace["f"](1) == 2 and namespace["y"] == 1


def test_notebook_syntax_error_names_the_cell(tmp_path):
    path = notebook(tmp_path, [new_code_cell("import numpy as np"), new_markdown_cell("text"),
                               new_code_cell("x = 1\ny = (2 +\n")])
    with pytest.raises(SubmissionError, match=r"submission\.ipynb: cell 3, line \d: SyntaxError"):
        load_source(path)


@pytest.mark.parametrize("data, words", [
    ('{"cells": [', "not JSON"),
    ("[1, 2, 3]", "top level is not an object"),
    ('{"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a valid notebook"),
    ('{"hello": "world"}', "not a valid notebook"),
    (b"\xff\xfe{}", "not JSON"),
])
def test_broken_notebooks_name_the_file(tmp_path, data, words):
    with pytest.raises(SubmissionError, match=rf"bad\.ipynb: .*{words}"):
        load_source(write(tmp_path, "bad.ipynb", data))


def test_notebook_with_no_code(tmp_path):
    src = load_source(notebook(tmp_path, [new_markdown_cell("only words")]))
    assert src.code == "" and src.exercise is None


def test_older_notebook_format_is_converted(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
          "worksheets": [{"cells": [{"cell_type": "code", "input": "EXERCISE = 'old'", "language": "python",
                                     "outputs": [], "metadata": {}}], "metadata": {}}]}
    src = load_source(write(tmp_path, "old.ipynb", json.dumps(v3)))
    assert src.exercise == "old"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_any_bytes_give_a_source_or_a_submission_error(tmp_path, data):
    for name in ("fuzz.py", "fuzz.ipynb"):
        try:
            src = load_source(write(tmp_path, name, data))
        except SubmissionError as exc:
            assert str(exc).startswith(str(tmp_path / name))
        else:
            assert isinstance(src.code, str)
