"""Solver benchmark: prints one table of timings and ratios measured in this run.

    python bench/bench_solver.py [--variants 100000] [--loop 40]

1. The full answer key of the tutorial-4 matrix exercise (10 questions, including E after 1000
   epochs) for V variants in one batched call, against the same key one variant at a time
   (measured on --loop variants and reported per variant).
2. One training epoch (forward, backward, update) of the 2-2-2 network per variant, batched vs
   one at a time; one forward + backward step over all V at once, against one variant at a time
   and against the (V, 2, 2) batched-matmul layout.
3. One epoch (forward, backward, update) of a 784-64-10 sigmoid network on 256 samples.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from grader import solver, spec


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
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=100_000)
    ap.add_argument("--loop", type=int, default=40)
    args = ap.parse_args()
    ex = spec.load_exercise("tutorial-4-matrix")
    V = args.variants
    vals = variants(ex, V)
    rows = []

    batched = best(lambda: solver.solve(ex, vals), repeat=1)
    loop = best(lambda: [solver.solve(ex, one(vals, k)) for k in range(args.loop)], repeat=1) / args.loop
    rows.append((f"full key, {V:,} variants (1000 epochs)", batched / V, loop, "per variant"))

    # one training epoch (forward, backward, update) per variant, batched vs one at a time
    epochs = 100
    t_train = best(lambda: solver.train(ex.net, vals, 0.5, epochs), repeat=1) / epochs / V
    t_train1 = best(lambda: [solver.train(ex.net, one(vals, k), 0.5, epochs) for k in range(args.loop)],
                    repeat=1) / epochs / args.loop
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
    rng = np.random.default_rng(1)
    net = spec.Network(sizes=(784, 64, 10), activations=("sigmoid", "sigmoid"),
                       W_train=(np.ones((64, 784), bool), np.ones((10, 64), bool)),
                       b_train=(np.ones(64, bool), np.ones(10, bool)))
    big = solver.Values((rng.normal(0, 0.05, (1, 64, 784)), rng.normal(0, 0.1, (1, 10, 64))),
                        (np.zeros((1, 64)), np.zeros((1, 10))), rng.random((1, 784, 256)),
                        np.eye(10)[rng.integers(0, 10, 256)].T[None])
    t_epoch = best(lambda: solver.train(net, big, 0.1, 1), repeat=5)
    t_10 = best(lambda: solver.train(net, big, 0.1, 10), repeat=2) / 10
    rows.append(("784-64-10 epoch, 256 samples", t_10, t_epoch, "1 of 10 vs 1 alone"))

    print(f"{'measurement':44} {'batched':>12} {'baseline':>12} {'ratio':>8}")
    for name, a, b, unit in rows:
        print(f"{name:44} {_t(a):>12} {_t(b):>12} {b / a:>7.1f}x  ({unit})")


def _t(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


if __name__ == "__main__":
    main()
