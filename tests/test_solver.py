"""The reference solver against independent references.

* Random networks (as JSON specs) against ``tests/oracle.py``: central finite differences of a
  scalar-loop forward pass, a hand-written per-sample back-propagation and training loop.
* The sheet's chain-rule formulas, computed by hand with ``math.exp`` from the bundled specs.
* The published worked example (Matt Mazur, "A Step by Step Backpropagation Example").
* Batched solving (V variants in one call) against solving each variant alone.
* The answer shapes of DESIGN.md "Shapes".
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import oracle
import pytest

from grader import solver, spec

# ---------------------------------------------------------------------------- helpers
FD_SEEDS = range(40)


def compile_(data: dict, source: str = "random.json") -> spec.Exercise:
    return spec.compile_spec(data, source)


def ask(A: str | None, B: str, style: int = 0) -> str:
    if A is None:
        return B
    return f"∂{A}/∂{B}" if style % 3 == 1 else f"d{A}/d{B}"


def with_questions(data: dict, asks: list[tuple[str | None, str]], **extra) -> dict:
    data = dict(data)
    data["questions"] = [{"id": f"q{k}", "ask": ask(A, B, k), **extra} for k, (A, B) in enumerate(asks)]
    return data


def names_of(o: oracle.Oracle, *kinds: str) -> list[str]:
    return [n for n, k in o.names.items() if k[0] in kinds]


def fd_asks(o: oracle.Oracle, rng: np.random.Generator) -> list[tuple[str, str]]:
    """dE/d(every name), d(an output)/d(every parameter), and random neuron pairs."""
    params = names_of(o, "param", "W", "b")
    neurons = names_of(o, "a", "z")
    vectors = names_of(o, "A", "Z")
    asks = [("E", B) for B in params + neurons + vectors]
    y = o.neurons[-1][int(rng.integers(len(o.neurons[-1])))]
    asks += [(y, B) for B in params]
    # an output against every neuron and pre-activation of the layers before it
    last = [n for n in neurons if o.names[n][1] == o.L]
    A = str(rng.choice(last))
    asks += [(A, B) for B in neurons if o.names[B][1] < o.L]
    for _ in range(12):
        asks.append((str(rng.choice(neurons)), str(rng.choice(neurons + vectors + params))))
    return asks


def check_fd(o: oracle.Oracle, asks, answers, where: str) -> int:
    """Assert every answer's shape and its agreement with finite differences; returns entries checked."""
    n = 0
    for k, (A, B) in enumerate(asks):
        got = answers[f"q{k}"]
        est, err = o.fd(A, B)
        assert got.shape == est.shape, f"{where}: d{A}/d{B}: shape {got.shape}, expected {est.shape}"
        ok = oracle.fd_close(got, est, err)
        assert ok.all(), f"{where}: d{A}/d{B}: got {got}, finite differences {est} (± {err})"
        n += got.size
    return n


# ---------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("seed", FD_SEEDS)
def test_derivatives_match_finite_differences(seed, solve_one):
    rng = np.random.default_rng(seed)
    data = oracle.random_network(rng)
    o = oracle.Oracle(data)
    asks = fd_asks(o, rng)
    answers = solve_one(with_questions(data, asks))
    assert check_fd(o, asks, answers, f"seed {seed}") > 0


@pytest.mark.parametrize("loss", oracle.LOSSES)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("samples", [None, 3])
def test_every_loss_and_reduction(loss, reduction, samples, solve_one):
    """Each loss with each reduction, one sample (scalars) and several (lists)."""
    rng = np.random.default_rng(zlib.crc32(f"{loss}/{reduction}/{samples}".encode()))
    data = oracle.random_network(rng, layers=2, loss=loss, reduction=reduction, samples=samples)
    o = oracle.Oracle(data)
    asks = fd_asks(o, rng)
    answers = solve_one(with_questions(data, asks + [(None, "E")]))
    check_fd(o, asks, answers, f"{loss}/{reduction}")
    assert answers[f"q{len(asks)}"] == pytest.approx(o.E(), rel=1e-12)


@pytest.mark.parametrize("activation", oracle.ACTIVATIONS)
def test_every_activation_in_a_hidden_layer(activation, solve_one):
    data = {
        "id": "act",
        "network": {"layers": [
            {"neurons": ["x1", "x2", "x3"]},
            {"neurons": ["h1", "h2", "h3"], "activation": activation, "weights": "W(1)", "net": "z(1)"},
            {"neurons": ["y1", "y2"], "activation": "sigmoid", "weights": "W(2)"},
        ], "parameters": {
            "W(1)": {"value": [[0.5, -0.4, 0.3], [-0.7, 0.2, 0.9], [0.35, 0.6, -0.25]]},
            "W(2)": {"value": [[0.4, -0.5, 0.8], [-0.3, 0.7, 0.45]]},
            "c": {"to": ["h1", "h2", "h3"], "value": 0.15},
        }},
        "inputs": {"x1": [0.9, -0.4], "x2": [0.3, 0.8], "x3": [-0.6, 0.5]},
        "targets": {"y1": [0.2, 0.7], "y2": [0.9, 0.1]},
        "questions": [],
    }
    o = oracle.Oracle(data)
    z = [o.forward(s)[0][1] for s in range(o.S)]
    assert min(abs(v) for zs in z for v in zs) > 0.05  # away from the ReLU kink
    asks = [("E", B) for B in ("W(1)", "c", "z(1)", "h1", "h2", "h3", "x2")] + [("y2", "W(1)"), ("y1", "z(1)"), ("h2", "z(1)")]
    check_fd(o, asks, solve_one(with_questions(data, asks)), activation)


def test_values_of_every_name_match_the_oracle(solve_one):
    for seed in range(12):
        rng = np.random.default_rng(1000 + seed)
        data = oracle.random_network(rng)
        o = oracle.Oracle(data)
        names = list(o.names) + ["E"]
        answers = solve_one(with_questions(data, [(None, n) for n in names]))
        for k, name in enumerate(names):
            want = o.value(name)
            assert answers[f"q{k}"].shape == want.shape, (seed, name)
            np.testing.assert_allclose(answers[f"q{k}"], want, rtol=1e-12, atol=1e-14, err_msg=f"seed {seed}: {name}")


def test_finite_difference_check_has_teeth(solve_one):
    """The check used above rejects an answer that is off by 1e-4 relative, or has its sign flipped."""
    rng = np.random.default_rng(7)
    data = oracle.random_network(rng, layers=3, samples=2)
    o = oracle.Oracle(data)
    asks = fd_asks(o, rng)
    answers = solve_one(with_questions(data, asks))
    big = 0
    for k, (A, B) in enumerate(asks):
        est, err = o.fd(A, B)
        got = answers[f"q{k}"]
        sel = np.abs(est) > 1e-2
        big += int(sel.sum())
        assert not oracle.fd_close(got * (1 + 1e-4), est, err)[sel].any(), (A, B)
        assert not oracle.fd_close(-got, est, err)[sel].any(), (A, B)
    assert big > 20


def test_oracle_backprop_matches_finite_differences():
    """The oracle's own chain rule (used by its training loop) against its finite differences."""
    for seed in range(10):
        o = oracle.Oracle(oracle.random_network(np.random.default_rng(2000 + seed)))
        grads = o.param_grads()
        for name in o.params:
            est, err = o.fd("E", name)
            got = np.array(grads[name]).reshape(est.shape)
            assert oracle.fd_close(got, est, err).all(), (seed, name, got, est)


# ---------------------------------------------------------------------------- independence
def test_derivative_of_something_independent_is_zero(solve_one):
    data = {
        "id": "zero",
        "network": {"layers": [
            {"neurons": ["x1", "x2"], "output": "x"},
            {"neurons": [{"name": "o1", "net": "z1"}, {"name": "o2", "net": "z2"}], "activation": "softmax",
             "weights": "W(1)", "net": "z(1)", "output": "o"},
            {"neurons": ["y1"], "activation": "tanh", "weights": "W(2)", "bias": "b(2)"},
        ], "parameters": {
            "w1": {"from": "x1", "to": "o1", "value": 0.3}, "w2": {"from": "x2", "to": "o2", "value": -0.4},
            "v1": {"from": "o1", "to": "y1", "value": 0.8}, "v2": {"from": "o2", "to": "y1", "value": 0.6},
            "c": {"to": "y1", "value": 0.1},
        }},
        "inputs": {"x1": [0.5, -0.2, 0.9], "x2": [0.1, 0.4, -0.3]},
        "targets": {"y1": [0.3, 0.6, -0.1]},
        "questions": [],
    }
    zero = [("x1", "w1"), ("x1", "o1"), ("x2", "x1"), ("o1", "v1"), ("o1", "c"), ("o1", "b(2)"), ("z1", "W(2)"),
            ("o1", "o2"), ("z1", "o1"), ("z1", "z2"), ("o2", "y1"), ("z1", "net_y1"), ("y1", "E"), ("o1", "E")]
    dependent = [("y1", "w1"), ("o2", "z1"), ("y1", "x"), ("o1", "x2"), ("o1", "w2")]
    asks = zero + [("E", "E")] + dependent
    answers = solve_one(with_questions(data, asks))
    for k, (A, B) in enumerate(zero):
        got = answers[f"q{k}"]
        assert np.all(got == 0.0), f"d{A}/d{B} = {got}"
    assert answers[f"q{len(zero)}"] == 1.0  # dE/dE
    # no edge joins x2 to o1, yet the softmax makes o1 depend on z2, and so on x2 and w2
    got = {f"q{k}": answers[f"q{len(zero) + 1 + k}"] for k in range(len(dependent))}
    check_fd(oracle.Oracle(data), dependent, got, "dependent")
    assert np.all(np.abs(got["q3"]) > 1e-3) and np.all(np.abs(got["q4"]) > 1e-3)
    # the shapes of the zeros: B's shape, per sample
    assert answers["q5"].shape == (1, 3)  # do1/db(2): b(2) is (1,), three samples
    assert answers["q6"].shape == (1, 2, 3)  # dz1/dW(2)


# ---------------------------------------------------------------------------- the sheet, by hand
def sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def edge(data: dict, src: str, dst: str) -> float:
    found = [p["value"] for p in data["network"]["parameters"].values() if p.get("from") == src and p.get("to") == dst]
    assert len(found) == 1, (src, dst)
    return found[0]


def bias(data: dict, neuron: str) -> float:
    found = [p["value"] for p in data["network"]["parameters"].values()
             if "from" not in p and neuron in (p["to"] if isinstance(p["to"], list) else [p["to"]])]
    assert len(found) == 1, neuron
    return found[0]


def name_of(data: dict, src: str, dst: str) -> str:
    return next(n for n, p in data["network"]["parameters"].items() if p.get("from") == src and p.get("to") == dst)


def test_output_layer_chain_rule_by_hand(bundled_data, solve_one):
    data = bundled_data("tutorial-4-output-layer")
    x, t = data["inputs"], data["targets"]
    o1 = sig(edge(data, "x1", "o1") * x["x1"] + edge(data, "x2", "o1") * x["x2"] + bias(data, "o1"))
    o2 = sig(edge(data, "x1", "o2") * x["x1"] + edge(data, "x2", "o2") * x["x2"] + bias(data, "o2"))
    y1 = sig(edge(data, "o1", "y1") * o1 + edge(data, "o2", "y1") * o2 + bias(data, "y1"))
    y2 = sig(edge(data, "o1", "y2") * o1 + edge(data, "o2", "y2") * o2 + bias(data, "y2"))
    t1, t2 = t["y1"], t["y2"]
    want = {
        "o1": o1, "o2": o2, "y1": y1, "y2": y2,
        "E": 0.5 * ((y1 - t1) ** 2 + (y2 - t2) ** 2),
        "w6.1": y1 - t1, "w6.2": y1 * (1 - y1), "w6.3": o2,
        "w6": (y1 - t1) * y1 * (1 - y1) * o2,
        "w7.1": y2 - t2, "w7.2": y2 * (1 - y2), "w7.3": o1,
        "w7": (y2 - t2) * y2 * (1 - y2) * o1,
        "w8.3": o2,
        "w8": (y2 - t2) * y2 * (1 - y2) * o2,
        "w6_new": edge(data, "o2", "y1") - data["learning_rate"] * (y1 - t1) * y1 * (1 - y1) * o2,
    }
    # the sheet's names are the spec's edges: w6 = o2 -> y1, w7 = o1 -> y2, w8 = o2 -> y2
    assert (name_of(data, "o2", "y1"), name_of(data, "o1", "y2"), name_of(data, "o2", "y2")) == ("w6", "w7", "w8")
    answers = solve_one(data, "tutorial-4-output-layer.json")
    assert set(answers) == set(want)
    for qid, value in want.items():
        assert answers[qid] == pytest.approx(value, rel=1e-12, abs=1e-15), qid


def test_hidden_layer_chain_rule_by_hand(bundled_data, solve_one):
    data = bundled_data("tutorial-4-hidden-layer")
    t = data["targets"]
    outputs, hidden = ["y1", "y2"], ["o1", "o2", "o3"]

    def forward(x: dict) -> tuple[dict, dict]:
        o = {h: sig(sum(edge(data, i, h) * x[i] for i in x if any(p.get("from") == i and p.get("to") == h
                                                                  for p in data["network"]["parameters"].values()))
                    + bias(data, h)) for h in hidden}
        y = {k: sig(sum(edge(data, h, k) * o[h] for h in hidden) + bias(data, k)) for k in outputs}
        return o, y

    answers = solve_one(data, "tutorial-4-hidden-layer.json")
    for w, xi, hi, given in (("w2", "x2", "o1", 0.3), ("w3", "x3", "o2", 0.4), ("w4", "x4", "o3", 0.5)):
        assert name_of(data, xi, hi) == w
        x = dict(data["inputs"], **{xi: given})
        o, y = forward(x)
        dE_do = sum((y[k] - t[k]) * y[k] * (1 - y[k]) * edge(data, hi, k) for k in outputs)
        do_dz = o[hi] * (1 - o[hi])
        assert answers[f"{w}.1"] == pytest.approx(dE_do, rel=1e-12), w
        assert answers[f"{w}.2"] == pytest.approx(do_dz, rel=1e-12), w
        assert answers[w] == pytest.approx(dE_do * do_dz * given, rel=1e-12), w
    assert answers["w2.3"] == 0.3  # dz1/dw2 = x2, given


def test_matrix_form_by_hand(bundled_data, solve_one):
    data = bundled_data("tutorial-4-matrix")
    x = np.array([[data["inputs"]["x1"]], [data["inputs"]["x2"]]])
    t = np.array([[data["targets"]["y1"]], [data["targets"]["y2"]]])
    W1 = np.array([[edge(data, "x1", "o1"), edge(data, "x2", "o1")], [edge(data, "x1", "o2"), edge(data, "x2", "o2")]])
    W2 = np.array([[edge(data, "o1", "y1"), edge(data, "o2", "y1")], [edge(data, "o1", "y2"), edge(data, "o2", "y2")]])
    b1 = np.array([[bias(data, "o1")], [bias(data, "o2")]])
    b2 = np.array([[bias(data, "y1")], [bias(data, "y2")]])
    sigma = np.vectorize(sig)
    z1 = W1 @ x + b1
    o = sigma(z1)
    z2 = W2 @ o + b2
    y = sigma(z2)
    delta2 = (y - t) * y * (1 - y)
    dW2 = delta2 @ o.T
    delta1 = (W2.T @ delta2) * o * (1 - o)
    dW1 = delta1 @ x.T
    eta = data["learning_rate"]
    answers = solve_one(data, "tutorial-4-matrix.json")
    want = {"z2": z2[:, 0], "y": y[:, 0], "E": 0.5 * float(((y - t) ** 2).sum()), "delta2": delta2[:, 0], "dW2": dW2,
            "delta1": delta1[:, 0], "dW1": dW1, "W2_new": W2 - eta * dW2, "W1_new": W1 - eta * dW1}
    for qid, value in want.items():
        assert answers[qid].shape == np.shape(value), qid
        np.testing.assert_allclose(answers[qid], value, rtol=1e-12, atol=1e-16, err_msg=qid)
    # E after 1000 epochs of full-batch descent (biases train here) against the oracle's own loop
    o_ = oracle.Oracle(data)
    o_.train(1000)
    assert answers["E_1000"] == pytest.approx(o_.E(), rel=1e-9)


# ---------------------------------------------------------------------------- the published example
# Matt Mazur, "A Step by Step Backpropagation Example" (2015): inputs i1, i2 -> hidden h1, h2 ->
# outputs o1, o2; w1 i1->h1, w2 i2->h1, w3 i1->h2, w4 i2->h2, w5 h1->o1, w6 h2->o1, w7 h1->o2,
# w8 h2->o2; b1 = 0.35 and b2 = 0.60 shared per layer and not updated; eta = 0.5.
MAZUR_EDGES = {"w1": ("x1", "o1"), "w2": ("x2", "o1"), "w3": ("x1", "o2"), "w4": ("x2", "o2"),
               "w5": ("o1", "y1"), "w6": ("o2", "y1"), "w7": ("o1", "y2"), "w8": ("o2", "y2")}
MAZUR_UPDATED = {"w1": "0.149780716", "w2": "0.19956143", "w3": "0.24975114", "w4": "0.29950229",
                 "w5": "0.35891648", "w6": "0.408666186", "w7": "0.511301270", "w8": "0.561370121"}


def assert_rounds_to(got: float, published: str, what: str) -> None:
    decimals = len(published.split(".")[1])
    assert abs(got - float(published)) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9), f"{what}: {got!r} is not {published}"


def test_published_worked_example(bundled_data, solve_one):
    data = bundled_data("tutorial-4-output-layer")
    names = {his: name_of(data, *e) for his, e in MAZUR_EDGES.items()}
    qs = [{"id": "E", "ask": "E_total"}, {"id": "dw5", "ask": f"∂E_total/∂{names['w5']}"},
          {"id": "dw1", "ask": f"dE/d{names['w1']}"}, {"id": "dE_dh1", "ask": "dE/do1"},
          {"id": "dh1_dnet", "ask": "do1/dz1"}, {"id": "h1", "ask": "o1"}, {"id": "o1", "ask": "y1"},
          {"id": "dE_do1", "ask": "dE/dy1"}, {"id": "do1_dnet", "ask": "dy1/dz3"}]
    qs += [{"id": f"{his}+", "ask": names[his], "after_epochs": 1} for his in MAZUR_EDGES]
    data["questions"] = qs
    answers = solve_one(data, "tutorial-4-output-layer.json")
    published = {"E": "0.298371109", "dw5": "0.082167041", "dw1": "0.000438568", "dE_dh1": "0.036350306",
                 "dh1_dnet": "0.241300709", "h1": "0.593269992", "o1": "0.75136507", "dE_do1": "0.74136507",
                 "do1_dnet": "0.186815602"}
    published.update({f"{his}+": v for his, v in MAZUR_UPDATED.items()})
    for qid, value in published.items():
        assert_rounds_to(float(answers[qid]), value, qid)


def test_published_updates_in_matrix_form(bundled_data, solve_one):
    """The matrix exercise trains its biases, which does not change W after the first step."""
    answers = solve_one(bundled_data("tutorial-4-matrix"), "tutorial-4-matrix.json")
    W1 = [["w1", "w2"], ["w3", "w4"]]
    W2 = [["w5", "w6"], ["w7", "w8"]]
    for i in range(2):
        for j in range(2):
            assert_rounds_to(float(answers["W1_new"][i, j]), MAZUR_UPDATED[W1[i][j]], W1[i][j])
            assert_rounds_to(float(answers["W2_new"][i, j]), MAZUR_UPDATED[W2[i][j]], W2[i][j])
    assert_rounds_to(float(answers["dW2"][0, 0]), "0.082167041", "dE/dw5")


# ---------------------------------------------------------------------------- batching
def random_values(ex: spec.Exercise, V: int, rng: np.random.Generator) -> solver.Values:
    W = tuple(rng.normal(0, 0.8, (V,) + w.shape) for w in ex.W)
    b = tuple(rng.normal(0, 0.5, (V,) + c.shape) for c in ex.b)
    x = rng.uniform(-1, 1, (V,) + ex.x.shape)
    if ex.net.loss == "cross_entropy":
        t = rng.dirichlet(np.ones(ex.t.shape[0]), size=(V, ex.t.shape[1])).transpose(0, 2, 1)
    else:
        t = rng.uniform(0.05, 0.95, (V,) + ex.t.shape)
    return solver.Values(W, b, x, t)


def one(values: solver.Values, v: int) -> solver.Values:
    return solver.Values(tuple(w[v:v + 1] for w in values.W), tuple(c[v:v + 1] for c in values.b),
                         values.x[v:v + 1], values.t[v:v + 1])


def batch_questions(o: oracle.Oracle, rng: np.random.Generator) -> list[dict]:
    params = names_of(o, "param", "W", "b")
    neurons = names_of(o, "a", "z")
    qs = [{"ask": n} for n in o.names] + [{"ask": "E"}]
    qs += [{"ask": f"dE/d{B}"} for B in params + neurons + names_of(o, "A", "Z")]
    qs += [{"ask": f"d{o.neurons[-1][0]}/d{B}"} for B in params]
    for epochs in (0, 1, 3):
        qs += [{"ask": "E", "after_epochs": epochs}] + [{"ask": B, "after_epochs": epochs} for B in params]
        qs += [{"ask": f"dE/d{params[0]}", "after_epochs": epochs}] if params else []
    if params and o.names[params[0]][0] == "param":
        qs.append({"ask": params[-1], "after_epochs": 2, "given": {params[0]: 0.25}})
    qs.append({"ask": "E", "after_epochs": 2, "given": {o.neurons[0][0]: 0.3}})
    if o.S > 1:
        qs += [{"ask": "E", "sample": o.S - 1, "after_epochs": 1}, {"ask": f"dE/d{neurons[0]}", "sample": 0}]
    return [dict(q, id=f"q{k}") for k, q in enumerate(qs)]


@pytest.mark.parametrize("seed", range(8))
def test_batched_equals_one_at_a_time(seed):
    rng = np.random.default_rng(3000 + seed)
    data = oracle.random_network(rng, samples=[None, 3][seed % 2])
    data["training"] = {"mode": ["batch", "online"][seed // 2 % 2]}
    data["questions"] = batch_questions(oracle.Oracle(data), rng)
    ex = compile_(data)
    V = 9  # enough for the small-matrix kernels
    values = random_values(ex, V, rng)
    together = solver.solve(ex, values)
    for v in range(V):
        alone = solver.solve(ex, one(values, v))
        for qid, arr in together.items():
            assert arr.shape[0] == V
            np.testing.assert_allclose(arr[v], alone[qid][0], rtol=1e-12, atol=1e-14, err_msg=f"variant {v}: {qid}")


def test_batched_bundled_exercises_and_train():
    rng = np.random.default_rng(11)
    for name in ("tutorial-4-output-layer", "tutorial-4-hidden-layer", "tutorial-4-matrix"):
        ex = spec.load_exercise(name)
        values = random_values(ex, 10, rng)
        together = solver.solve(ex, values)
        trained = solver.train(ex.net, values, 0.5, 7, "batch")
        for v in range(10):
            alone = solver.solve(ex, one(values, v))
            for qid in together:
                np.testing.assert_allclose(together[qid][v], alone[qid][0], rtol=1e-12, atol=1e-14, err_msg=qid)
            single = solver.train(ex.net, one(values, v), 0.5, 7, "batch")
            for a, b in zip(trained.W + trained.b, single.W + single.b, strict=True):
                np.testing.assert_allclose(a[v], b[0], rtol=1e-12, atol=1e-14)
        # the exercise's own values repeated are the exercise's answers
        same = solver.solve(ex, solver.Values.of(ex, 3))
        base = solver.solve(ex)
        for qid in base:
            assert np.array_equal(same[qid], np.repeat(base[qid], 3, axis=0)), qid


# ---------------------------------------------------------------------------- training
def trained_oracle(data: dict, epochs: int, given: dict | None = None) -> oracle.Oracle:
    o = oracle.Oracle(data)
    o.apply_given(given or {})
    o.train(epochs)
    return o


@pytest.mark.parametrize("mode", ["batch", "online"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_training_matches_the_oracle_loop(mode, reduction, solve_one):
    for seed in range(6):
        rng = np.random.default_rng(4000 + seed)
        data = oracle.random_network(rng, samples=[3, None, 4][seed % 3], reduction=reduction)
        data["training"] = {"mode": mode}
        data["learning_rate"] = 0.2
        o = oracle.Oracle(data)
        params = names_of(o, "param", "W", "b")
        asks = [(None, B) for B in params] + [(None, "E")] + [("E", B) for B in params]
        for epochs in (0, 1, 4):
            answers = solve_one(with_questions(data, asks, after_epochs=epochs))
            ref = trained_oracle(data, epochs)
            for k, (A, B) in enumerate(asks):
                got = answers[f"q{k}"]
                if A is None:
                    want = ref.value(B)
                    assert np.isfinite(want).all()
                    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"seed {seed}: {B} @ {epochs}")
                else:
                    est, err = ref.fd(A, B)
                    assert oracle.fd_close(got, est, err).all(), (seed, epochs, B)


def test_online_and_batch_differ_but_agree_for_one_sample(solve_one):
    rng = np.random.default_rng(5)
    data = oracle.random_network(rng, layers=2, samples=3, loss="half_sse", matrices=True)
    data["network"]["parameters"] = {k: {kk: vv for kk, vv in p.items() if kk != "fixed"}
                                     for k, p in data["network"]["parameters"].items()}
    data["questions"] = [{"id": "W", "ask": "W(1)", "after_epochs": 2}]
    online = solve_one(dict(data, training={"mode": "online"}))["W"]
    batch = solve_one(dict(data, training={"mode": "batch"}))["W"]
    assert np.abs(online - batch).max() > 1e-6
    np.testing.assert_allclose(online, trained_oracle(dict(data, training={"mode": "online"}), 2).value("W(1)"), rtol=1e-10)
    # with one sample both modes take the same steps
    single = dict(data, inputs={k: v[0] for k, v in data["inputs"].items()} if "x" not in data["inputs"]
                  else {"x": [row[0] for row in data["inputs"]["x"]]},
                  targets={k: v[0] if isinstance(v, list) else v for k, v in data["targets"].items()})
    assert np.array_equal(solve_one(dict(single, training={"mode": "online"}))["W"],
                          solve_one(dict(single, training={"mode": "batch"}))["W"])


def online_spec(reduction: str) -> dict:
    return {
        "id": "online", "network": {"layers": [{"neurons": ["x1"]}, {"neurons": ["y1"], "activation": "sigmoid"}],
                                    "parameters": {"w1": {"from": "x1", "to": "y1", "value": 0.5}}},
        "inputs": {"x1": [1.0, -1.0]}, "targets": {"y1": [1.0, 0.0]},
        "loss": {"name": "half_sse", "reduction": reduction}, "learning_rate": 0.5,
        "training": {"mode": "online"}, "questions": [{"id": "w", "ask": "w1", "after_epochs": 1}],
    }


def test_online_mean_steps_on_each_samples_own_loss(solve_one):
    """Online + mean is a batch of one per step (PyTorch DataLoader(batch_size=1), Keras
    batch_size=1): the mean over one sample is that sample's loss, so no 1/S (README)."""
    # by hand: y = σ(w x); ∂(½(y − t)²)/∂w = (y − t)·y(1 − y)·x, one step per sample, η = 0.5
    w = 0.5
    for x, t in ((1.0, 1.0), (-1.0, 0.0)):
        y = sig(w * x)
        w -= 0.5 * (y - t) * y * (1 - y) * x
    assert w == pytest.approx(0.5870194208853922, abs=1e-15)  # the value the issue quotes
    assert solve_one(online_spec("mean"))["w"] == pytest.approx(w, rel=1e-14)
    # the old rule (each online step divided by S) gave 0.5439352999755499: not that
    assert abs(solve_one(online_spec("mean"))["w"] - 0.5439352999755499) > 1e-3
    # the reduction does not scale online steps; it does scale batch steps
    assert solve_one(online_spec("sum"))["w"] == solve_one(online_spec("mean"))["w"]
    batch = {"mode": "batch"}
    assert solve_one(dict(online_spec("sum"), training=batch))["w"] != solve_one(dict(online_spec("mean"), training=batch))["w"]


def test_online_mean_matches_the_oracle_per_sample_loop(solve_one):
    o = oracle.Oracle(online_spec("mean"))
    o.train(1)
    assert solve_one(online_spec("mean"))["w"] == pytest.approx(o.value("w1"), rel=1e-13)


def tied_fixed_spec() -> dict:
    return {
        "id": "tied",
        "network": {"layers": [
            {"neurons": ["x1", "x2"]},
            {"neurons": ["h1", "h2", "h3"], "activation": "tanh", "weights": "W(1)", "bias": "b(1)"},
            {"neurons": ["y1", "y2"], "activation": "sigmoid", "weights": "W(2)", "bias": "b(2)"},
        ], "parameters": {
            "w1": {"from": "x1", "to": "h1", "value": 0.4}, "w2": {"from": "x2", "to": "h1", "value": -0.3},
            "w3": {"from": "x1", "to": "h2", "value": 0.7},
            "w4": {"from": "x2", "to": "h3", "value": 0.5, "fixed": True},
            "W(2)": {"value": [[0.3, -0.6, 0.9], [0.5, 0.2, -0.4]]},
            "c": {"to": ["h1", "h2", "h3"], "value": 0.1},
            "d": {"to": ["y1", "y2"], "value": -0.2, "fixed": True},
        }},
        "inputs": {"x1": [0.5, -0.8, 0.3], "x2": [0.9, 0.2, -0.6]},
        "targets": {"y1": [0.1, 0.8, 0.4], "y2": [0.9, 0.3, 0.5]},
        "learning_rate": 0.5,
        "questions": [],
    }


def test_tied_fixed_and_missing_parameters_in_training(solve_one):
    data = tied_fixed_spec()
    qs = [("c", 3), ("b(1)", 3), ("d", 3), ("b(2)", 3), ("w4", 3), ("W(1)", 3), ("W(2)", 3), ("E", 3)]
    data["questions"] = [{"id": f"{a}@{n}", "ask": a, "after_epochs": n} for a, n in qs]
    data["questions"] += [{"id": "dE/dd", "ask": "dE/dd"}, {"id": "dE/dw4", "ask": "dE/dw4"}, {"id": "dE/dc", "ask": "dE/dc"},
                          {"id": "dE/db(1)", "ask": "dE/db(1)"}]
    answers = solve_one(data)
    ref = trained_oracle(data, 3)
    for a, _ in qs:
        np.testing.assert_allclose(answers[f"{a}@3"], ref.value(a), rtol=1e-10, atol=1e-13, err_msg=a)
    # the tied bias moved, once, by its summed gradient, and all its uses moved together
    assert answers["c@3"] != 0.1
    assert np.all(answers["b(1)@3"] == answers["c@3"])
    # fixed parameters never move but still have a gradient
    assert answers["d@3"] == -0.2 and np.all(answers["b(2)@3"] == -0.2) and answers["w4@3"] == 0.5
    o = oracle.Oracle(data)
    for name in ("d", "w4", "c"):
        est, err = o.fd("E", name)
        assert abs(est) > 1e-3 and oracle.fd_close(answers[f"dE/d{name}"], est, err), name
    # the tied gradient is the sum of the per-neuron ones
    assert answers["dE/dc"] == pytest.approx(answers["dE/db(1)"].sum(), rel=1e-13)
    # missing edges stay at zero: x2 -> h2, x1 -> h3
    W1 = answers["W(1)@3"]
    assert W1[1, 1] == 0.0 and W1[2, 0] == 0.0 and W1[2, 1] == 0.5


@pytest.mark.parametrize("mode", ["batch", "online"])
def test_fixed_whole_matrix_and_vector_never_move(mode, solve_one):
    data = tied_fixed_spec()
    data["training"] = {"mode": mode}
    params = data["network"]["parameters"]
    params["W(2)"]["fixed"] = True
    del params["d"]
    params["b(2)"] = {"value": [0.3, -0.1], "fixed": True}
    data["questions"] = [{"id": "W2", "ask": "W(2)", "after_epochs": 4}, {"id": "b2", "ask": "b(2)", "after_epochs": 4},
                         {"id": "W1", "ask": "W(1)", "after_epochs": 4}, {"id": "gW2", "ask": "dE/dW(2)", "after_epochs": 4},
                         {"id": "gb2", "ask": "dE/db(2)"}]
    answers = solve_one(data)
    assert answers["W2"].tolist() == params["W(2)"]["value"] and answers["b2"].tolist() == [0.3, -0.1]
    assert np.abs(answers["gW2"]).min() > 1e-4 and np.abs(answers["gb2"]).min() > 1e-4
    ref = trained_oracle(data, 4)
    np.testing.assert_allclose(answers["W1"], ref.value("W(1)"), rtol=1e-10)
    est, err = ref.fd("E", "W(2)")
    assert oracle.fd_close(answers["gW2"], est, err).all()


def test_one_step_by_hand_with_tied_bias(solve_one):
    """θ ← θ − η ∂E/∂θ for a tied bias: its new value is c − η Σ_k ∂E/∂b_k."""
    data = tied_fixed_spec()
    data["questions"] = [{"id": "g", "ask": "dE/db(1)"}, {"id": "c1", "ask": "c", "after_epochs": 1},
                         {"id": "W2", "ask": "W(2)"}, {"id": "gW2", "ask": "dE/dW(2)"},
                         {"id": "W2new", "ask": "W(2)", "after_epochs": 1}]
    answers = solve_one(data)
    assert answers["c1"] == pytest.approx(0.1 - 0.5 * answers["g"].sum(), rel=1e-13)
    np.testing.assert_allclose(answers["W2new"], answers["W2"] - 0.5 * answers["gW2"], rtol=1e-13)


def test_given_changes_the_start_before_training(solve_one):
    data = tied_fixed_spec()
    data["questions"] = [
        {"id": "plain", "ask": "W(2)", "after_epochs": 2},
        {"id": "given_param", "ask": "W(2)", "after_epochs": 2, "given": {"w1": -0.9}},
        {"id": "given_input", "ask": "W(2)", "after_epochs": 2, "given": {"x2": [0.0, 0.1, 0.2]}},
        {"id": "given_target", "ask": "E", "after_epochs": 2, "given": {"y1": 0.5}},
        {"id": "given_whole", "ask": "E", "after_epochs": 2, "given": {"W(2)": [[0.1, 0.1, 0.1], [0.2, 0.2, 0.2]]}},
        {"id": "given_now", "ask": "w1", "given": {"w1": -0.9}},
        {"id": "plain_again", "ask": "w1"},
    ]
    answers = solve_one(data)
    np.testing.assert_allclose(answers["plain"], trained_oracle(data, 2).value("W(2)"), rtol=1e-10)
    for qid, given in (("given_param", {"w1": -0.9}), ("given_input", {"x2": [0.0, 0.1, 0.2]})):
        want = trained_oracle(data, 2, given).value("W(2)")
        np.testing.assert_allclose(answers[qid], want, rtol=1e-10, err_msg=qid)
        assert np.abs(answers[qid] - answers["plain"]).max() > 1e-6, qid
    assert answers["given_target"] == pytest.approx(trained_oracle(data, 2, {"y1": 0.5}).E(), rel=1e-10)
    whole = {"W(2)": [[0.1, 0.1, 0.1], [0.2, 0.2, 0.2]]}
    assert answers["given_whole"] == pytest.approx(trained_oracle(data, 2, whole).E(), rel=1e-10)
    # given holds for its own question only
    assert answers["given_now"] == -0.9 and answers["plain_again"] == 0.4


def test_after_zero_epochs_is_the_start(solve_one):
    data = tied_fixed_spec()
    asks = ["E", "W(1)", "b(1)", "c", "dE/dW(2)", "dE/dh2", "y1"]
    data["questions"] = [{"id": f"a{k}", "ask": a} for k, a in enumerate(asks)]
    data["questions"] += [{"id": f"z{k}", "ask": a, "after_epochs": 0} for k, a in enumerate(asks)]
    answers = solve_one(data)
    for k in range(len(asks)):
        assert np.array_equal(answers[f"a{k}"], answers[f"z{k}"]), asks[k]


def test_sample_asks_about_one_sample_after_training_on_all(solve_one):
    data = tied_fixed_spec()
    data["loss"] = {"name": "half_sse", "reduction": "mean"}
    asks = [(None, "E"), (None, "y1"), (None, "b(1)"), ("E", "c"), ("E", "h2"), ("y2", "W(1)"), ("E", "x1")]
    data["questions"] = [{"id": f"s{k}", "ask": ask(A, B), "sample": 1, "after_epochs": 2} for k, (A, B) in enumerate(asks)]
    data["questions"] += [{"id": f"n{k}", "ask": ask(A, B), "sample": 1} for k, (A, B) in enumerate(asks)]
    answers = solve_one(data)
    trained = trained_oracle(data, 2).restrict(1)
    start = oracle.Oracle(data).restrict(1)
    for k, (A, B) in enumerate(asks):
        for prefix, ref in (("s", trained), ("n", start)):
            got = answers[f"{prefix}{k}"]
            if A is None:
                want = ref.value(B)
                assert got.shape == want.shape
                np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=f"{prefix} {B}")
            else:
                est, err = ref.fd(A, B)
                assert got.shape == est.shape and oracle.fd_close(got, est, err).all(), (prefix, A, B)
    # sample 1 alone is not the mean over every sample
    full = trained_oracle(data, 2)
    assert abs(answers["s0"] - full.E()) > 1e-6
    assert answers["s1"] == pytest.approx(full.value("y1")[1], rel=1e-12)


# ---------------------------------------------------------------------------- shapes
def shapes_spec(inputs: dict, targets: dict) -> dict:
    data = tied_fixed_spec()
    data["inputs"], data["targets"] = inputs, targets
    data["questions"] = [{"id": a, "ask": a} for a in (
        "E", "y1", "net_y1", "w1", "c", "W(1)", "b(1)", "dE/dW(1)", "dE/db(2)", "dE/dc", "dE/dh1", "dE/dx2", "dy1/dw1",
        "dy1/dW(2)", "dy2/db(1)", "dh1/dx1", "dy1/dE")]
    data["network"]["layers"][1]["net"] = "z(1)"
    data["network"]["layers"][2]["output"] = "y"
    data["questions"] += [{"id": a, "ask": a} for a in ("z(1)", "y", "dE/dz(1)", "dy1/dz(1)", "dE/dy")]
    data["questions"] += [{"id": "sample:" + a, "ask": a, "sample": 0} for a in ("y1", "dE/dz(1)", "dy1/dW(2)")]
    return data


def test_shapes_one_sample_scalars_several_samples_lists(solve_one):
    fixed = {"E": (), "w1": (), "c": (), "W(1)": (3, 2), "b(1)": (3,), "dE/dW(1)": (3, 2), "dE/db(2)": (2,), "dE/dc": ()}
    per_sample = {"y1": (), "net_y1": (), "dE/dh1": (), "dE/dx2": (), "dy1/dw1": (), "dy1/dW(2)": (2, 3),
                  "dy2/db(1)": (3,), "dh1/dx1": (), "dy1/dE": (), "z(1)": (3,), "y": (2,), "dE/dz(1)": (3,),
                  "dy1/dz(1)": (3,), "dE/dy": (2,)}
    one_sample = {"sample:y1": (), "sample:dE/dz(1)": (3,), "sample:dy1/dW(2)": (2, 3)}
    cases = [
        ({"x1": 0.5, "x2": 0.9}, {"y1": 0.1, "y2": 0.9}, None),  # scalars: no sample axis
        ({"x1": [0.5, -0.8, 0.3], "x2": [0.9, 0.2, -0.6]}, {"y1": [0.1, 0.8, 0.4], "y2": 0.9}, 3),
        ({"x1": [0.5], "x2": [0.9]}, {"y1": [0.1], "y2": [0.9]}, 1),  # a list of one: a sample axis of 1
        ({"x1": [0.5, -0.8], "x2": 0.9}, {"y1": 0.1, "y2": 0.9}, 2),  # scalars broadcast to every sample
    ]
    for inputs, targets, S in cases:
        answers = solve_one(shapes_spec(inputs, targets))
        for qid, shape in fixed.items():
            assert answers[qid].shape == shape, (S, qid)
        for qid, shape in per_sample.items():
            assert answers[qid].shape == (shape if S is None else shape + (S,)), (S, qid)
        for qid, shape in one_sample.items():
            assert answers[qid].shape == shape, (S, qid)


def test_answer_key_plain_values_have_the_layer_shapes():
    ex = spec.compile_spec(shapes_spec({"x1": [0.5, -0.8, 0.3], "x2": [0.9, 0.2, -0.6]},
                                       {"y1": [0.1, 0.8, 0.4], "y2": [0.9, 0.3, 0.5]}), "shapes.json")
    key = solver.answer_key(ex)
    assert isinstance(key["E"], float) and isinstance(key["w1"], float)
    W1 = key["W(1)"]
    assert isinstance(W1, list) and len(W1) == 3 and all(isinstance(r, list) and len(r) == 2 for r in W1)
    assert W1[0] == [0.4, -0.3] and W1[1] == [0.7, 0.0] and W1[2] == [0.0, 0.5]  # rows = the layer's neurons
    assert isinstance(key["b(1)"], list) and len(key["b(1)"]) == 3
    assert isinstance(key["y1"], list) and len(key["y1"]) == 3  # a per-sample value is a list
    assert len(key["dE/dz(1)"]) == 3 and all(len(r) == 3 for r in key["dE/dz(1)"])  # neurons x samples
    assert all(isinstance(v, float) for v in key["dE/dh1"])


def test_shapes_of_the_bundled_matrix_exercise(solve_one, bundled_data):
    answers = solve_one(bundled_data("tutorial-4-matrix"))
    shapes = {"z2": (2,), "y": (2,), "E": (), "delta2": (2,), "dW2": (2, 2), "delta1": (2,), "dW1": (2, 2),
              "W2_new": (2, 2), "W1_new": (2, 2), "E_1000": ()}
    assert {k: v.shape for k, v in answers.items()} == shapes
    # several samples: delta gets a column per sample, as in the sheet's matrix form
    data = bundled_data("tutorial-4-matrix")
    data["inputs"] = {"x": [[0.05, 0.5], [0.10, -0.2]]}
    data["targets"] = {"y1": [0.01, 0.3], "y2": [0.99, 0.6]}
    answers = solve_one(data)
    assert answers["delta2"].shape == (2, 2) and answers["y"].shape == (2, 2) and answers["dW2"].shape == (2, 2)
    o = oracle.Oracle(data)
    est, err = o.fd("E", "z(2)")
    assert oracle.fd_close(answers["delta2"], est, err).all()
    # dE/dW(2) = δ(2) oᵀ summed over the samples
    delta2 = answers["delta2"]
    outs = o.value("o")
    np.testing.assert_allclose(answers["dW2"], delta2 @ outs.T, rtol=1e-13)


def test_backprop_in_blocks_matches_finite_differences_of_a_hand_written_forward():
    r"""``solver.backprop`` over more variants than one block (``solver.BLOCK``): every variant's dE/dW and
    dE/db equal central differences of E = ½Σ(y − t)² through a sigmoid forward written here."""
    ex = spec.load_exercise("tutorial-4-matrix")
    rng = np.random.default_rng(7)
    V = solver.BLOCK + 1000
    base = solver.Values.of(ex, V)
    jitter = lambda a: a * rng.uniform(0.5, 1.5, size=a.shape)  # noqa: E731
    vals = solver.Values(tuple(map(jitter, base.W)), tuple(map(jitter, base.b)), jitter(base.x), base.t)
    dW, db = solver.backprop(ex.net, vals)
    assert [g.shape for g in dW] == [w.shape for w in vals.W] and [g.shape for g in db] == [c.shape for c in vals.b]

    def E(W1, b1, W2, b2, x, t):
        o = 1 / (1 + np.exp(-(W1 @ x + b1[:, None])))
        y = 1 / (1 + np.exp(-(W2 @ o + b2[:, None])))
        return 0.5 * float(np.sum((y - t) ** 2))

    h = 1e-6
    for k in (0, solver.BLOCK - 1, solver.BLOCK, V - 1):  # either side of the block boundary
        params = [vals.W[0][k].copy(), vals.b[0][k].copy(), vals.W[1][k].copy(), vals.b[1][k].copy()]
        got = [dW[0][k], db[0][k], dW[1][k], db[1][k]]
        for p, g in zip(params, got, strict=True):
            for idx in np.ndindex(*p.shape):
                p[idx] += h
                up = E(*params, vals.x[k], vals.t[k])
                p[idx] -= 2 * h
                down = E(*params, vals.x[k], vals.t[k])
                p[idx] += h
                assert g[idx] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-9)
