"""Cost of the mistake diagnosis with the full combination search (singles, pairs, triples where
cheap), on the bundled tutorial exercise.

    python bench/bench_diagnosis.py [--repeat 20] [--code 500] [--jobs 2] [--rounds 2]

1. One wrong function result: ``backward`` making two mistakes at once, diagnosed across the
   exercise's case and every hidden case (``diagnose_cases``), and one wrong typed answer (dE/dW(1)
   with two mistakes), each *cold* (the first student of a class: every candidate is built and
   computed, nothing cached), *warm* (every later student: the candidates' values are cached per
   exercise, only the comparisons run), and *fresh* (the first call in a new process, after the
   imports and the exercise's loading: what ``grade FILE`` pays once). A wrong value that nothing
   explains runs every level: the worst case.
2. ``grade batch`` of a class of code submissions where every submission is right, against the
   same class where half make mistakes (each diagnosed), graded in turn ``--rounds`` times; the
   wall-clock ratio of the medians is the check (target ≤ 1.5x), the CPU time of the batch and
   its pool workers is printed beside it. ``--code`` sets the class size.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from grader import mistakes, spec
from grader.mistakes import catalogue, search

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
CLI = [sys.executable, "-c", "from grader.cli import main; import sys; sys.exit(main(sys.argv[1:]))"]
sig = lambda z: 1.0 / (1.0 + np.exp(-z))


def wrong_backward(x, t, W1, b1, W2, b2):
    """σ′ taken of z in the output layer and the hidden δ from the output error: two mistakes."""
    o = sig(W1 @ x + b1)
    z2 = W2 @ o + b2
    y = sig(z2)
    d2 = (y - t) * z2 * (1 - z2)
    d1 = (W2.T @ (y - t)) * o * (1 - o)
    return d1 @ x.T, d1.sum(axis=1, keepdims=True), d2 @ o.T, d2.sum(axis=1, keepdims=True)


def wrong_typed(x, t, W1, b1, W2, b2):
    """dE/dW(1) typed from a hand computation with t − y and σ′ taken of z: a pair no single part explains."""
    o = sig(W1 @ x + b1)
    z2 = W2 @ o + b2
    d2 = (t - sig(z2)) * z2 * (1 - z2)
    return ((W2.T @ d2) * o * (1 - o)) @ x.T


def timed(fn, repeat: int) -> float:
    """Median CPU time of one call (CPU, not wall: the machine is shared, and a diagnosis is one thread)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def inputs() -> tuple:
    """The tutorial, its backward, its plain cases, the wrong backward's returns on them, the
    question dE/dW(1), a wrong typed dW1 and a value nothing explains."""
    ex = spec.load_exercise("tutorial-4")
    fn = next(f for f in ex.functions if f.name == "backward")
    cases = [c for c in fn.cases if not c.group]
    values = [wrong_backward(*[np.asarray(v, float) for _, v in c.inputs]) for c in cases]
    q = next(q for q in ex.questions if q.id == "dW1")
    x, t = np.asarray(ex.x, float), np.asarray(ex.t, float)
    typed = wrong_typed(x, t, *(np.asarray(w, float) for w in (ex.W[0], np.reshape(ex.b[0], (-1, 1)), ex.W[1],
                                                                np.reshape(ex.b[1], (-1, 1)))))
    return ex, fn, cases, values, q, typed, np.asarray(solver_key(ex)["dW1"]) * 1.37


def diagnosis_costs(repeat: int) -> None:
    ex, fn, cases, values, q, typed, unexplained = inputs()
    d = mistakes.diagnose_cases(fn, cases, values)
    print(f"function diagnosis: {d.id if d else None}; typed: {getattr(mistakes.diagnose(ex, q, typed), 'id', None)}")

    def cold(call):
        def run():
            search._CACHE.clear()  # the candidates' values per exercise
            catalogue.clear()  # the candidates themselves per network shape
            call()
        return run
    rows = [
        ("wrong backward, 4 cases, 2 mistakes", lambda: mistakes.diagnose_cases(fn, cases, values), "backward"),
        ("wrong typed dE/dW(1), 2 mistakes", lambda: mistakes.diagnose(ex, q, typed), "typed"),
        ("typed answer nothing explains (every level)", lambda: mistakes.diagnose(ex, q, unexplained), "unexplained"),
    ]
    print(f"{'measurement':46} {'cold':>10} {'warm':>10} {'fresh':>10} {'cold/warm':>10}  (target: cold < 50 ms)")
    for name, call, which in rows:
        c = timed(cold(call), max(3, repeat // 4))
        call()
        w = timed(call, repeat)
        f = statistics.median(fresh(which) for _ in range(3))
        print(f"{name:46} {c * 1e3:8.1f}ms {w * 1e3:8.2f}ms {f * 1e3:8.1f}ms {c / w:9.1f}x")


def fresh(which: str) -> float:
    """The first diagnosis in a new process, imports and loading excluded (seconds)."""
    code = (f"import sys, time; sys.path.insert(0, {str(ROOT / 'bench')!r}); import bench_diagnosis as b; "
            f"t = b.first_call({which!r}); print(t)")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # one thread: CPU time is its time
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.split()[-1])


def first_call(which: str) -> float:
    ex, fn, cases, values, q, typed, unexplained = inputs()
    got = {"backward": values, "typed": typed, "unexplained": unexplained}[which]
    start = time.process_time()
    if which == "backward":
        mistakes.diagnose_cases(fn, cases, got)
    else:
        mistakes.diagnose(ex, q, got)
    return time.process_time() - start


def solver_key(ex: spec.Exercise) -> dict:
    from grader import solver
    return solver.answer_key(ex)


MUTATIONS = [
    ("delta2 = (y - t) * y * (1 - y)", "delta2 = (y - t)"),
    ("delta1 = (W2.T @ delta2) * o * (1 - o)", "delta1 = (W2.T @ delta2)"),
    ("W1 -= lr * dW1", "W1 += lr * dW1"),
    ("db1 = delta1.sum(axis=1, keepdims=True)", "db1 = delta1[:, :1]"),
]


def write_class(folder: Path, n: int, wrong: bool) -> None:
    folder.mkdir(parents=True)
    right = (SOLUTIONS / "submission.py").read_text("utf-8")
    for k in range(n):
        text = right
        if wrong and k % 2:
            text = right.replace(*MUTATIONS[(k // 2) % len(MUTATIONS)])
            assert text != right
        (folder / f"student{k:04d}.py").write_text(text, encoding="utf-8")


def batch_ratio(n: int, jobs: int, rounds: int) -> None:
    """The two classes graded in turn, ``rounds`` times each (a shared machine's load drifts within
    minutes): wall time and the CPU time of the batch and every process it waited for."""
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for label, wrong in (("all right", False), ("half wrong", True)):
            folders[label] = Path(tmp) / label.replace(" ", "-")
            write_class(folders[label], n, wrong)
        walls: dict[str, list[float]] = {label: [] for label in folders}
        cpus: dict[str, list[float]] = {label: [] for label in folders}
        for k in range(rounds):
            for label, folder in folders.items():
                out = Path(tmp) / f"{folder.name}-{k}.csv"
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                proc = subprocess.run([*CLI, "batch", str(folder), "-e", "tutorial-4", "-o", str(out), "--jobs",
                                       str(jobs)], capture_output=True, text=True)
                walls[label].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[label].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                if proc.returncode != 0:
                    raise SystemExit(f"grade batch failed ({proc.returncode}): {proc.stderr[-2000:]}")
        med = {label: (statistics.median(walls[label]), statistics.median(cpus[label])) for label in folders}
        (rw, rc), (hw, hc) = med["all right"], med["half wrong"]
        print(f"grade batch, {n} code submissions, median of {rounds} alternating rounds: all right {rw:.1f}s "
              f"(CPU {rc:.1f}s), half wrong {hw:.1f}s (CPU {hc:.1f}s): ratio {hw / rw:.2f}x wall, {hc / rc:.2f}x CPU "
              "(target <= 1.5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--code", type=int, default=500, help="class size for the batch ratio (0: skip)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of the two classes")
    a = ap.parse_args()
    diagnosis_costs(a.repeat)
    if a.code:
        batch_ratio(a.code, a.jobs, a.rounds)


if __name__ == "__main__":
    main()
