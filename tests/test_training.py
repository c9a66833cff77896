"""grader.training on layers too large for the small-matrix kernels, against NumPy written here.

The solver takes three ways through its linear algebra (einsum over many variants of tiny
matrices, 2-D BLAS for one variant, batched BLAS for a few variants of large ones) and writes a
block's gradients straight into its result; these tests check the two BLAS ways, the in-place
update and the blocked gradients against a plain per-variant loop with 2-D matrices.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader import solver, spec, training

SIZES = (20, 24, 3)  # 24 x 20 = 480 entries: past the small-matrix kernels


def _net(activations: tuple[str, str] = ("sigmoid", "sigmoid")) -> spec.Network:
    return spec.Network(sizes=SIZES, activations=activations,
                        W_train=tuple(np.ones((SIZES[l], SIZES[l - 1]), bool) for l in (1, 2)),
                        b_train=tuple(np.ones(SIZES[l], bool) for l in (1, 2)))


def _values(V: int, S: int, seed: int) -> solver.Values:
    rng = np.random.default_rng(seed)
    return solver.Values((rng.normal(0, 0.3, (V, 24, 20)), rng.normal(0, 0.3, (V, 3, 24))),
                         (rng.normal(0, 0.1, (V, 24)), rng.normal(0, 0.1, (V, 3))),
                         rng.random((V, 20, S)), rng.random((V, 3, S)))


def _f(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(z) and f'(z), written out."""
    if name == "sigmoid":
        a = 1 / (1 + np.exp(-z))
        return a, a * (1 - a)
    return np.tanh(z), 1 - np.tanh(z) ** 2


def _by_hand(acts, W1, b1, W2, b2, x, t):
    """dE/dW1, dE/db1, dE/dW2, dE/db2 of E = ½Σ(y − t)², one variant, 2-D matrices."""
    a1, f1 = _f(acts[0], W1 @ x + b1[:, None])
    y, f2 = _f(acts[1], W2 @ a1 + b2[:, None])
    d2 = (y - t) * f2
    d1 = (W2.T @ d2) * f1
    return d1 @ x.T, d1.sum(axis=1), d2 @ a1.T, d2.sum(axis=1)


@pytest.mark.parametrize("V", [1, 3])
@pytest.mark.parametrize("acts", [("sigmoid", "sigmoid"), ("tanh", "sigmoid")])
def test_training_large_layers_matches_a_hand_written_loop(V, acts):
    net, vals = _net(acts), _values(V, 5, seed=V)
    before = [a.copy() for a in vals.W + vals.b + (vals.x, vals.t)]
    lr, epochs = 0.3, 4
    trained = solver.train(net, vals, lr, epochs)
    for v in range(V):
        W1, W2, b1, b2 = (a[v].copy() for a in vals.W + vals.b)
        for _ in range(epochs):
            g = _by_hand(acts, W1, b1, W2, b2, vals.x[v], vals.t[v])
            W1, b1, W2, b2 = W1 - lr * g[0], b1 - lr * g[1], W2 - lr * g[2], b2 - lr * g[3]
        for got, want in zip(trained.W + trained.b, (W1, W2, b1, b2), strict=True):
            np.testing.assert_allclose(got[v], want, rtol=1e-12, atol=1e-14)
    # the caller's values are left as they were; the data come back unchanged
    for a, b in zip(vals.W + vals.b + (vals.x, vals.t), before, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(trained.x, vals.x) and np.array_equal(trained.t, vals.t)


def test_blocked_backprop_of_large_layers_matches_a_hand_written_loop(monkeypatch):
    """Several blocks of a few variants each: the batched-BLAS way writing into the result."""
    monkeypatch.setattr(training, "BLOCK", 4)
    net, vals = _net(), _values(10, 2, seed=5)
    dW, db = solver.backprop(net, vals)
    for v in range(10):
        g = _by_hand(net.activations, vals.W[0][v], vals.b[0][v], vals.W[1][v], vals.b[1][v], vals.x[v], vals.t[v])
        for got, want in zip((dW[0][v], db[0][v], dW[1][v], db[1][v]), g, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_reverse_without_inputs_gives_the_same_deltas_and_no_dE_dx():
    net, vals = _net(), _values(2, 3, seed=9)
    s = solver._State.of(vals)
    fwd = solver.forward(net, s.W, s.b, s.x)
    full = solver.reverse(net, s.W, fwd, s.t, training._E)
    short = solver.reverse(net, s.W, fwd, s.t, training._E, inputs=False)
    assert short.ga[0] is None and full.ga[0].shape == (20, 3, 2)
    for a, b in zip(full.delta[1:] + full.ga[1:], short.delta[1:] + short.ga[1:], strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("epochs", [0, 1])
def test_trained_values_never_share_memory_with_the_callers(epochs):
    """Training starts from views of the caller's arrays (it never writes into them); what it
    returns is its own, even after no epoch at all."""
    net, vals = _net(), _values(1, 2, seed=3)
    trained = solver.train(net, vals, 0.5, epochs)
    for got, given in zip(trained.W + trained.b, vals.W + vals.b, strict=True):
        assert not np.shares_memory(got, given)
        if epochs == 0:
            np.testing.assert_array_equal(got, given)
