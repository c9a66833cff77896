"""Solver benchmark: prints one table of timings and ratios measured in this run.

    python bench/bench_solver.py [--variants 100000] [--loop 40] [--rounds 9] [--hand-only]

1. The full answer key of the tutorial-4 matrix exercise (10 questions, including E after 1000
   epochs) for V variants in one batched call, against the same key one variant at a time
   (measured on --loop variants and reported per variant).
2. One training epoch (forward, backward, update) of the 2-2-2 network per variant, batched vs
   one at a time; one forward + backward step over all V at once, against one variant at a time
   and against the (V, 2, 2) batched-matmul layout.
3. One epoch (forward, backward, update) of a 784-64-10 sigmoid network on 256 samples.
4. Against hand-written NumPy written here, in the same run: one forward + backward of the 2-2-2
   network over V variants (the solver, blocked, against one contiguous array per parameter in
   cache-sized chunks, the best of four chunk sizes), and the 784-64-10 epoch (the solver's
   ``train``, layout conversions included, against a plain hand-written epoch). Targets: within
   1.3x and 1.1x. Each side starts from its own layout, made once outside the timing, and writes
   new gradient arrays. Each side is timed as the best of several calls in a row, the two sides
   alternating for ``--rounds`` rounds; the ratio is of the best times, and the spread of the
   per-round ratios is printed beside it.

Times are CPU time of this process (``time.process_time``) with BLAS single-threaded, as in the
sandbox worker: on the shared 2-core machine wall time mostly measures who else is running, and a
second BLAS thread waiting for a core swamps a 1 ms epoch. Both sides run under the same rules.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads BLAS

import time  # noqa: E402

import numpy as np  # noqa: E402

from grader import solver, spec, training  # noqa: E402


def variants(ex: spec.Exercise, V: int, seed: int = 0) -> solver.Values:
    rng = np.random.default_rng(seed)
    base = solver.Values.of(ex, V)
    jitter = lambda a: a * rng.uniform(0.5, 1.5, size=a.shape)  # noqa: E731
    return solver.Values(tuple(map(jitter, base.W)), tuple(map(jitter, base.b)), jitter(base.x), base.t)


def one(vals: solver.Values, k: int) -> solver.Values:
    return solver.Values(tuple(w[k:k + 1] for w in vals.W), tuple(c[k:k + 1] for c in vals.b),
                         vals.x[k:k + 1], vals.t[k:k + 1])


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=100_000)
    ap.add_argument("--loop", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=9, help="alternations of solver and hand-written code")
    ap.add_argument("--hand-only", action="store_true", help="only the comparison with hand-written NumPy")
    args = ap.parse_args()
    ex = spec.load_exercise("tutorial-4-matrix")
    V = args.variants
    vals = variants(ex, V)
    net, big = big_network()
    if not args.hand_only:
        timings(ex, vals, net, big, args.loop)
    against_hand(ex, vals, net, big, args.rounds)


def big_network() -> tuple[spec.Network, solver.Values]:
    """A 784-64-10 sigmoid network and one variant of its values on 256 samples."""
    rng = np.random.default_rng(1)
    net = spec.Network(sizes=(784, 64, 10), activations=("sigmoid", "sigmoid"),
                       W_train=(np.ones((64, 784), bool), np.ones((10, 64), bool)),
                       b_train=(np.ones(64, bool), np.ones(10, bool)))
    big = solver.Values((rng.normal(0, 0.05, (1, 64, 784)), rng.normal(0, 0.1, (1, 10, 64))),
                        (np.zeros((1, 64)), np.zeros((1, 10))), rng.random((1, 784, 256)),
                        np.eye(10)[rng.integers(0, 10, 256)].T[None])
    return net, big


def timings(ex: spec.Exercise, vals: solver.Values, net: spec.Network, big: solver.Values, loop: int) -> None:
    """Parts 1–3: batched against one variant at a time, and against the (V, 2, 2) layout."""
    V = vals.V
    rows = []

    batched = best(lambda: solver.solve(ex, vals), repeat=1)
    one_by_one = best(lambda: [solver.solve(ex, one(vals, k)) for k in range(loop)], repeat=1) / loop
    rows.append((f"full key, {V:,} variants (1000 epochs)", batched / V, one_by_one, "per variant"))

    # one training epoch (forward, backward, update) per variant, batched vs one at a time
    epochs = 100
    t_train = best(lambda: solver.train(ex.net, vals, 0.5, epochs), repeat=1) / epochs / V
    t_train1 = best(lambda: [solver.train(ex.net, one(vals, k), 0.5, epochs) for k in range(loop)],
                    repeat=1) / epochs / loop
    rows.append(("training epoch, 2-2-2 (blocked, variant-last)", t_train, t_train1, "per variant"))

    # one forward+backward step over all V at once (no blocking)
    s = solver._State.of(vals)
    E = solver.Ref("E", "E")

    def step(state: solver._State) -> None:
        fwd = solver.forward(ex.net, state.W, state.b, state.x)
        solver.gradients(ex.net, fwd, solver.reverse(ex.net, state.W, fwd, state.t, E))

    t_b = best(lambda: step(s), repeat=5) / V
    singles = [solver._State.of(one(vals, k)) for k in range(200)]
    t_1 = best(lambda: [step(x) for x in singles], repeat=3) / len(singles)
    rows.append(("forward+backward step, 2-2-2", t_b, t_1, "per variant"))

    # (V, 2, 2) batched matmul layout for comparison, as a student or a naive batch would write it
    W1, W2 = vals.W
    b1, b2 = (c[:, :, None] for c in vals.b)
    x, t = vals.x, vals.t

    def matmul_step() -> None:
        o = 1 / (1 + np.exp(-(W1 @ x + b1)))
        y = 1 / (1 + np.exp(-(W2 @ o + b2)))
        d2 = (y - t) * y * (1 - y)
        d1 = (W2.transpose(0, 2, 1) @ d2) * o * (1 - o)
        return d2 @ o.transpose(0, 2, 1), d1 @ x.transpose(0, 2, 1)

    t_mm = best(matmul_step, repeat=5) / V
    rows.append(("  same step, (V,2,2) matmul layout", t_b, t_mm, "per variant"))

    # 784-64-10 on 256 samples
    t_epoch = best(lambda: solver.train(net, big, 0.1, 1), repeat=5)
    t_10 = best(lambda: solver.train(net, big, 0.1, 10), repeat=2) / 10
    rows.append(("784-64-10 epoch, 256 samples", t_10, t_epoch, "1 of 10 vs 1 alone"))

    print(f"{'measurement':44} {'batched':>12} {'baseline':>12} {'ratio':>8}")
    for name, a, b, unit in rows:
        print(f"{name:44} {_t(a):>12} {_t(b):>12} {b / a:>7.1f}x  ({unit})")
    print()


def against_hand(ex: spec.Exercise, vals: solver.Values, net: spec.Network, big: solver.Values,
                 rounds: int) -> None:
    """Part 4: the solver's time over the hand-written one, each the best of several calls in a row
    (its steady state, as in a batch that calls it over and over), the two sides alternating for
    ``rounds`` rounds so that both meet the same load of a shared machine."""
    V = vals.V
    s, P = solver._State.of(vals), hand_layout(vals)
    cases = {
        "forward+backward, 2-2-2, per variant": (
            lambda: best(lambda: training._backprop(ex.net, s), repeat=4),
            lambda: min(best(lambda c=c: hand_222(P, c), repeat=4) for c in (1024, 2048, 4096, 8192)),
            V, 1.3),
        "784-64-10 sigmoid epoch, 256 samples": (
            lambda: best(lambda: solver.train(net, big, 0.1, 1), repeat=12),
            lambda: best(lambda: hand_epoch(big, 0.1), repeat=12), 1, 1.1),
    }
    print(f"{'against hand-written NumPy (CPU time)':44} {'solver':>12} {'by hand':>12} {'ratio':>8}  "
          f"{'per round':>11}  target")
    for name, (mine, by_hand, per, target) in cases.items():
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(mine())
            theirs.append(by_hand())
        a, b = min(ours) / per, min(theirs) / per
        each = sorted(x / y for x, y in zip(ours, theirs, strict=True))
        print(f"{name:44} {_t(a):>12} {_t(b):>12} {a / b:>7.2f}x  {each[0]:.2f}–{each[-1]:.2f}x  "
              f"<= {target}x {'met' if a / b <= target else 'NOT met'}")


def hand_layout(vals: solver.Values) -> dict[str, np.ndarray]:
    """The best hand-written layout: one contiguous (V,) array per parameter entry, input and
    target, made once (as the solver's internal layout is made once, outside the timing)."""
    P = {f"W{l}{i}{j}": np.ascontiguousarray(w[:, i, j]) for l, w in enumerate(vals.W, 1)
         for i in range(2) for j in range(2)}
    P.update({f"b{l}{i}": np.ascontiguousarray(c[:, i]) for l, c in enumerate(vals.b, 1) for i in range(2)})
    P.update({f"x{i}": np.ascontiguousarray(vals.x[:, i, 0]) for i in range(2)})
    P.update({f"t{i}": np.ascontiguousarray(vals.t[:, i, 0]) for i in range(2)})
    return P


def hand_222(P: dict[str, np.ndarray], chunk: int) -> dict[str, np.ndarray]:
    """Forward + backward of the 2-2-2 network written by hand on that layout, in cache-sized
    chunks of variants, into new gradient arrays; E = ½Σ(y − t)², sigmoid layers, one sample."""
    V = len(P["x0"])
    out = {k: np.empty(V) for k in P if k[0] in "Wb"}
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for lo in range(0, V, chunk):
        p = {k: v[lo:lo + chunk] for k, v in P.items()}
        g = {k: v[lo:lo + chunk] for k, v in out.items()}
        x0, x1 = p["x0"], p["x1"]
        o0 = sig(p["W100"] * x0 + p["W101"] * x1 + p["b10"])
        o1 = sig(p["W110"] * x0 + p["W111"] * x1 + p["b11"])
        y0 = sig(p["W200"] * o0 + p["W201"] * o1 + p["b20"])
        y1 = sig(p["W210"] * o0 + p["W211"] * o1 + p["b21"])
        d0 = (y0 - p["t0"]) * y0 * (1 - y0)
        d1 = (y1 - p["t1"]) * y1 * (1 - y1)
        h0 = (p["W200"] * d0 + p["W210"] * d1) * o0 * (1 - o0)
        h1 = (p["W201"] * d0 + p["W211"] * d1) * o1 * (1 - o1)
        for k, (a, b) in {"W200": (d0, o0), "W201": (d0, o1), "W210": (d1, o0), "W211": (d1, o1),
                          "W100": (h0, x0), "W101": (h0, x1), "W110": (h1, x0), "W111": (h1, x1)}.items():
            np.multiply(a, b, out=g[k])
        g["b20"][:], g["b21"][:], g["b10"][:], g["b11"][:] = d0, d1, h0, h1
    return out


def hand_epoch(big: solver.Values, lr: float) -> tuple[np.ndarray, ...]:
    """One full-batch epoch of a sigmoid 784-64-10 network as one would write it by hand."""
    W1, W2 = big.W[0][0].copy(), big.W[1][0].copy()
    b1, b2 = big.b[0][0][:, None].copy(), big.b[1][0][:, None].copy()
    x, t = big.x[0], big.t[0]
    a1 = 1 / (1 + np.exp(-(W1 @ x + b1)))
    y = 1 / (1 + np.exp(-(W2 @ a1 + b2)))
    d2 = (y - t) * y * (1 - y)
    d1 = (W2.T @ d2) * a1 * (1 - a1)
    W2 -= lr * (d2 @ a1.T)
    b2 -= lr * d2.sum(axis=1, keepdims=True)
    W1 -= lr * (d1 @ x.T)
    b1 -= lr * d1.sum(axis=1, keepdims=True)
    return W1, b1, W2, b2


def _t(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


if __name__ == "__main__":
    main()
