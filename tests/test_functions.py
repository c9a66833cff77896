"""The ``functions`` section: signatures, seeded cases, expected outputs, output checks, loops."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from grader import compare, solver, spec
from grader.spec import functions
from grader.errors import SpecError
from grader.switches import Switches

ROOT = Path(__file__).resolve().parents[1]


def load_module(path: Path):
    spec_ = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ex():
    return spec.load_exercise("tutorial-4")


@pytest.fixture(scope="module")
def reference():
    # our own trusted reference submission, written independently of the solver in matrix form
    return load_module(ROOT / "solutions" / "submission.py")


def test_default_signatures_follow_the_sheet(ex):
    f = {fn.name: fn for fn in ex.functions}
    assert f["forward"].args == ("x", "W1", "b1", "W2", "b2") and f["forward"].returns == ("a1", "a2")
    assert f["forward"].labels == ("o", "y")  # the exercise's own layer names
    assert f["backward"].returns == ("dW1", "db1", "dW2", "db2")
    assert f["train"].args[-2:] == ("lr", "epochs")
    assert f["sigmoid"].activation == "sigmoid"


def test_cases_cover_other_sizes_samples_and_vectorized(ex):
    fwd = next(fn for fn in ex.functions if fn.name == "forward")
    sizes = {c.net.sizes for c in fwd.cases}
    assert {(2, 2, 2), (3, 4, 2), (5, 3, 1), (2, 5, 3)} <= sizes
    samples = {dict(c.inputs)["x"].shape[1] for c in fwd.cases}
    assert {1, 4, 6, 1000} <= samples
    big, one = [c for c in fwd.cases if c.group == "vectorized"]
    np.testing.assert_array_equal(dict(big.inputs)["x"][:, :1], dict(one.inputs)["x"])
    for c in fwd.cases:  # biases are columns
        assert dict(c.inputs)["b1"].shape == (c.net.sizes[1], 1)
    assert [c.visible for c in fwd.cases] == [True] + [False] * (len(fwd.cases) - 1)


def test_cases_are_deterministic_and_seeded(ex):
    again = spec.load_exercise("tutorial-4")
    for a, b in zip(ex.functions, again.functions, strict=True):
        for ca, cb in zip(a.cases, b.cases, strict=True):
            for (ka, va), (kb, vb) in zip(ca.inputs, cb.inputs, strict=True):
                assert ka == kb
                np.testing.assert_array_equal(va, vb)
    data = json.loads((ROOT / "exercises" / "tutorial-4-matrix.json").read_text())
    data["functions"]["forward"]["seed"] = 5
    other = spec.compile_spec(data, "x.json")
    x0 = dict(next(f for f in ex.functions if f.name == "forward").cases[1].inputs)["x"]
    x5 = dict(next(f for f in other.functions if f.name == "forward").cases[1].inputs)["x"]
    assert x0.shape == x5.shape and not np.allclose(x0, x5)


def test_expected_outputs_match_an_independent_implementation(ex, reference):
    for fn in ex.functions:
        impl = getattr(reference, fn.name)
        for case in fn.cases:
            want = impl(*[np.copy(v) if isinstance(v, np.ndarray) else v for _, v in case.inputs])
            want = want if isinstance(want, tuple) else (want,)
            got = solver.function_outputs(fn, case)
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                assert g.shape == np.shape(w), (fn.name, case.id)
                np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13, err_msg=f"{fn.name} {case.id}")


def test_check_outputs_names_return_entry_and_step(ex):
    fn = next(f for f in ex.functions if f.name == "backward")
    case = fn.cases[0]
    exp = solver.function_outputs(fn, case)
    tol = spec.Tolerance("relabs", 1e-6, 1e-9)
    assert compare.check_outputs(fn, case, exp, exp, tol, True) == (1.0, "")
    bad = list(exp)
    bad[2] = exp[2] * 2  # dW2
    frac, msg = compare.check_outputs(fn, case, tuple(bad), exp, tol, reveal=False)
    assert frac == 0.75 and "dW2: 4 of 4 entries wrong, first at [0][0]" in msg and "expected" not in msg
    assert "δ(2)" in msg
    frac, msg = compare.check_outputs(fn, case, tuple(bad), exp, tol, reveal=True)
    assert f"expected {exp[2][0, 0]:.10g}" in msg
    flat = (exp[0], exp[1].ravel(), exp[2], exp[3])
    frac, msg = compare.check_outputs(fn, case, flat, exp, tol, False)
    assert frac == 0.75 and "db1 has shape (2,), expected (2, 1)" in msg
    frac, msg = compare.check_outputs(fn, case, exp[:2], exp, tol, False)
    assert frac == 0 and "returned 2 values; expected 4 (dW1, db1, dW2, db2)" in msg


def test_first_wrong_step_follows_backprop_order():
    names = ("dW1", "db1", "dW2", "db2")
    assert "layer 2" in compare.first_wrong_step(names, [False, False, False, True])
    assert "layer 1" in compare.first_wrong_step(names, [False, True, True, True])
    assert "forward pass of layer 1" in compare.first_wrong_step(("a1", "a2"), [False, False])
    assert compare.first_wrong_step(("W1", "b1"), [False, False]) == ""


def test_find_loops_follows_helpers_and_allows_the_epoch_loop():
    loops = (ROOT / "solutions" / "loops.py").read_text()
    assert any("in _layer" in f for f in compare.find_loops(loops, "forward"))
    assert compare.find_loops((ROOT / "solutions" / "submission.py").read_text(), "train", "epochs") == []
    code = "def train(x, epochs):\n    for _ in range(epochs):\n        for s in x:\n            pass\n"
    assert compare.find_loops(code, "train", "epochs") == ["a for loop at line 3"]
    assert compare.find_loops("def f(:", "f") == []


def test_loop_check_on_the_parsed_submission_is_the_same(tmp_path):
    """The loop check walks the tree that loading the submission parsed, in ast.walk's order:
    the same findings, in the same order, as parsing the source again."""
    from grader import submission

    sources = sorted((ROOT / "solutions").glob("*.py")) + sorted((ROOT / "tests" / "hostile").rglob("*.py"))
    extra = tmp_path / "nested.py"
    extra.write_text("def f(x):\n    while x:\n        y = [a for a in x if any(b for b in a)]\n"
                     "        for k in {i: i for i in y}:\n            g(k)\n    return {s for s in x}\n"
                     "def g(v):\n    for _ in range(3):\n        pass\n")
    checked = 0
    for path in [*sources, extra]:
        try:
            src = submission.load_source(path)
        except Exception:  # noqa: BLE001 - some hostile files do not compile: nothing to check
            continue
        want = [n for n in ast.walk(src.tree) if not isinstance(n, compare._LEAVES)]
        assert compare._walk(src.tree) == want, path
        assert all(not isinstance(n, compare._LEAVES) or not list(ast.iter_child_nodes(n)) or isinstance(n, ast.Name)
                   for n in ast.walk(src.tree)), "a leaf holds nothing but a context"
        for fn in ("f", "sigmoid", "forward", "backward", "train"):
            assert compare.find_loops(src.code, fn, "epochs", src.tree) == compare.find_loops(src.code, fn, "epochs")
        checked += 1
    assert checked >= 5
    found = compare.find_loops(extra.read_text(), "f", None, submission.load_source(extra).tree)
    # breadth first, as ast.walk: the return's set comprehension before the ones nested deeper
    assert found == ["a while loop at line 2", "a for loop at line 4", "a set comprehension at line 6",
                     "a list comprehension at line 3", "a dict comprehension at line 4",
                     "a generator expression at line 3", "a for loop at line 8 (in g)"]


@pytest.mark.parametrize("patch, message", [
    ({"frobnicate": {}}, "functions.frobnicate: 'frobnicate' is not one of"),
    ({"forward": {"returns": ["q"]}}, "functions.forward.returns[0]: 'q' is not an argument"),
    ({"forward": {"args": ["x", "dW1"]}}, "functions.forward.args[1]: 'dW1' is computed by the function"),
    ({"forward": {"sizes": [[2, 3]]}}, "functions.forward.sizes[0]: expected 3 layer sizes"),
    ({"forward": {"range": [1, -1]}}, "functions.forward.range: expected [low, high]"),
    ({"forward": {"hiden": 2}}, "functions.forward.hiden: unknown key 'hiden' (did you mean 'hidden'?)"),
])
def test_bad_function_specs(patch, message):
    data = json.loads((ROOT / "exercises" / "tutorial-4-matrix.json").read_text())
    data["functions"].update(patch)
    with pytest.raises(SpecError) as err:
        spec.compile_spec(data, "x.json")
    assert message in str(err.value)


def test_exercise_names_map_to_the_convention(ex):
    data = json.loads((ROOT / "exercises" / "tutorial-4-matrix.json").read_text())
    data["functions"] = {"grads": {"args": ["x", "t", "W(1)", "b(1)", "W(2)", "b(2)"],
                                   "returns": ["dE/dW(2)", "dE/dz(1)", "y"]}}
    fn = spec.compile_spec(data, "x.json").functions[0]
    assert fn.args == ("x", "t", "W1", "b1", "W2", "b2")
    assert fn.returns == ("dW2", "delta1", "a2") and fn.labels == ("dE/dW(2)", "dE/dz(1)", "y")
    out = solver.function_outputs(fn, fn.cases[0])
    key = solver.answer_key(ex)
    np.testing.assert_allclose(out[0], key["dW2"], rtol=1e-12)
    np.testing.assert_allclose(out[1][:, 0], key["delta1"], rtol=1e-12)
    np.testing.assert_allclose(out[2][:, 0], key["y"], rtol=1e-12)


def test_default_signature_for_deeper_networks():
    assert functions.default_signature("forward", 3) == (["x", "W1", "b1", "W2", "b2", "W3", "b3"], ["a1", "a2", "a3"])
    assert functions.default_signature("unknown", 2) is None


def _softmax_spec(activation: str = "sigmoid", outputs: int = 2, **backward) -> dict:
    return {
        "id": "softmax-degenerate", "title": "softmax output",
        "network": {"layers": [{"neurons": 2, "output": "x"},
                               {"neurons": 3, "activation": activation, "weights": "W(1)", "bias": "b(1)", "output": "h"},
                               {"neurons": outputs, "activation": "softmax", "weights": "W(2)", "bias": "b(2)", "output": "y"}],
                    "parameters": {"W(1)": {"init": {"seed": 1, "scale": 0.5}}, "b(1)": {"value": [0.1, 0.1, 0.1]},
                                   "W(2)": {"init": {"seed": 2, "scale": 0.5}}, "b(2)": {"value": [0.0] * outputs}}},
        "inputs": {"x": [0.5, -0.2]}, "targets": {"y": [1.0] + [0.0] * (outputs - 1)},
        "loss": "cross_entropy",
        "questions": [{"id": "E", "ask": "E"}],
        "functions": {"backward": {"points": 4, **backward}},
    }


def test_no_hidden_case_has_a_gradient_that_is_zero_for_every_input():
    """The default sizes include a 5-3-1 network: with a softmax output, its one neuron outputs 1
    whatever the input, so every gradient is 0 and a backward returning zeros would be right."""
    ex = spec.compile_spec(_softmax_spec(), "softmax.json")
    bwd = ex.functions[0]
    for case in bwd.cases[1:]:
        assert case.net.sizes[-1] >= 2, case.label
        for name, value in zip(bwd.returns, solver.function_outputs(bwd, case), strict=True):
            assert np.abs(value).max() > 1e-6, f"{case.label}: {name} is zero"
    with pytest.raises(SpecError, match=r"functions\.backward\.sizes\[0\]: a softmax layer of one neuron"):
        spec.compile_spec(_softmax_spec(sizes=[[2, 3, 1]]), "softmax.json")


def test_dead_relu_cases_are_redrawn():
    # weights and inputs in [-1, 0.2]: many draws leave a whole ReLU layer dead (all of dW1, db1 zero)
    ex = spec.compile_spec(_softmax_spec("relu", range=[-1.0, 0.2], hidden=6), "relu.json")
    bwd = ex.functions[0]
    for case in bwd.cases[1:]:
        for name, value in zip(bwd.returns, solver.function_outputs(bwd, case), strict=True):
            assert np.abs(value).max() > 1e-6, f"{case.label}: {name} is zero"


def test_a_backward_returning_zeros_scores_nothing(tmp_path):
    from grader import grading

    data = _softmax_spec()
    (tmp_path / "softmax.json").write_text(json.dumps(data))
    sub = tmp_path / "zeros.py"
    sub.write_text("import numpy as np\n\ndef backward(x, t, W1, b1, W2, b2):\n"
                   "    return np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)\n")
    r = grading.grade_submission(sub, str(tmp_path / "softmax.json"))
    cases = [t for t in r.tests if t.id.startswith("backward/") and t.max_score > 0]
    assert len(cases) == 4 and all(t.score == 0 and t.status == "wrong" for t in cases), \
        [(t.id, t.score, t.status) for t in cases]


def test_stacked_variants_of_a_case_match_the_independent_implementation(ex, reference):
    """V students' own values of a case in one solve (function_variants' ``stacked``), each
    against the independent implementation on that student's inputs alone."""
    rng = np.random.default_rng(7)
    V = 5
    for fn in (f for f in ex.functions if f.activation is None):
        case = next(c for c in fn.cases if c.id == spec.EXERCISE_CASE)
        arrays = {k: v for k, v in case.inputs if isinstance(v, np.ndarray)}
        stacked = {k: v[..., None] + rng.uniform(-0.5, 0.5, (*v.shape, V)) for k, v in arrays.items()}
        if "t" in stacked:
            stacked["t"] = np.clip(stacked["t"], 0.05, 0.95)
        got = solver.function_variants(fn, case, stacked=stacked)
        assert len(got) == len(fn.returns)
        for v in range(V):
            given = [stacked[k][..., v].copy() if k in stacked else value for k, value in case.inputs]
            want = getattr(reference, fn.name)(*given)
            want = want if isinstance(want, tuple) else (want,)
            for name, g, w in zip(fn.returns, got, want, strict=True):
                np.testing.assert_allclose(g[..., v], w, rtol=1e-10, atol=1e-13, err_msg=f"{fn.name} {name} {v}")
    with pytest.raises(ValueError, match="stacked"):
        solver.function_variants(fn, case, Switches(case.net, [()] * (V + 1)), stacked=stacked)


def test_every_variant_of_a_spec_shares_its_random_cases(ex):
    """A function's random cases are drawn once per process and set of facts: compiled again (a
    student's variant), they are the very same objects; other facts (another seed) draw others."""
    data = json.loads((ROOT / "exercises" / "tutorial-4-matrix.json").read_text())
    a, b = spec.compile_spec(data, "a.json"), spec.compile_spec(json.loads(json.dumps(data)), "b.json")
    for fa, fb in zip(a.functions, b.functions, strict=True):
        assert [c for c in fa.cases if c.id != spec.EXERCISE_CASE] == \
            [c for c in fb.cases if c.id != spec.EXERCISE_CASE]
        assert all(ca is cb for ca, cb in zip(fa.cases[1:], fb.cases[1:], strict=True))
    data["functions"]["backward"]["seed"] = 11
    c = spec.compile_spec(data, "c.json")
    fwd = [next(f for f in e.functions if f.name == "forward") for e in (a, c)]
    bwd = [next(f for f in e.functions if f.name == "backward") for e in (a, c)]
    assert fwd[0].cases[1] is fwd[1].cases[1] and bwd[0].cases[1] is not bwd[1].cases[1]


def test_a_draw_that_fails_is_not_remembered():
    calls = []

    def failing():
        calls.append("fail")
        raise SpecError("x.json: functions.backward: no case")

    def drawing():
        calls.append("draw")
        return ("case",)
    facts = json.dumps({"test": "a draw that fails"})
    with pytest.raises(SpecError):
        functions._same_draw(facts, failing)
    assert functions._same_draw(facts, drawing) == ("case",) and functions._same_draw(facts, failing) == ("case",)
    assert functions._same_draw(None, drawing) == ("case",)  # facts JSON cannot write: drawn each time
    assert calls == ["fail", "draw", "draw"]
