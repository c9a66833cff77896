"""Shared-answer detection: the cost of every student's variant key, batched against one spec
compiled and solved per student, and of the pairwise comparison, measured in one run.

    python bench/bench_shared.py [--students 200] [--per-student 20]

The per-student way is timed on ``--per-student`` students and scaled; the ratio of the two
costs per key is printed, so a loaded machine changes both sides alike. The comparison is also
run on a class four times as large: its CPU time grows with the square of the class (every
student against every variant), its memory (traced, the peak) with the class, not its square.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np

from grader import grading, spec
from grader.lms import shared

EXERCISE = "tutorial-4-matrix"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--per-student", type=int, default=20)
    args = ap.parse_args()
    os.environ["GRADER_SECRET"] = "bench-shared-secret"
    ex = spec.load_exercise(EXERCISE)
    people = [f"s{i}" for i in range(args.students)]
    t0 = time.perf_counter()
    keys = shared.variant_keys(ex, people, os.environ["GRADER_SECRET"])
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in people[:args.per_student]:
        grading.reference(spec.load_exercise(EXERCISE, p))
    one_by_one = (time.perf_counter() - t0) / args.per_student
    compare, peak = _comparison(ex, people, keys)
    per_key = batched / args.students
    print(f"{args.students} students: keys batched {batched:.2f} s ({per_key * 1e3:.1f} ms each), "
          f"one spec per student {one_by_one * 1e3:.1f} ms each: {one_by_one / per_key:.0f}x; "
          f"pairwise comparison {compare:.2f} s")
    large = [f"s{i}" for i in range(4 * args.students)]
    large_compare, large_peak = _comparison(ex, large, shared.variant_keys(ex, large, os.environ["GRADER_SECRET"]))
    print(f"pairwise comparison, {len(people)} vs {len(large)} students: CPU {compare:.2f} vs {large_compare:.2f} s "
          f"({large_compare / compare:.1f}x), peak traced memory {peak / 1e6:.1f} vs {large_peak / 1e6:.1f} MB "
          f"({large_peak / peak:.1f}x)")


def _comparison(ex, people: list[str], keys: dict) -> tuple[float, int]:
    """CPU seconds of the comparison of everyone's answers (each copied from the next student),
    and the peak of the memory it allocates (a second run, traced)."""
    answers = {p: {q: np.asarray(v).tolist() for q, v in keys[people[(k + 1) % len(people)]].items()}
               for k, p in enumerate(people)}
    t0 = time.process_time()
    found = shared.find(ex, answers, people, keys.__getitem__)
    cpu = time.process_time() - t0
    if len(found) < len(people):
        raise SystemExit(f"only {len(found)} of {len(people)} copied answer sets found")
    tracemalloc.start()
    shared.find(ex, answers, people, keys.__getitem__)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return cpu, peak


if __name__ == "__main__":
    main()
