"""Shared-answer detection: the cost of every student's variant key, batched against one spec
compiled and solved per student, and of the pairwise comparison, measured in one run.

    python bench/bench_shared.py [--students 200] [--per-student 20]

The per-student way is timed on ``--per-student`` students and scaled; the ratio of the two
costs per key is printed, so a loaded machine changes both sides alike.
"""

from __future__ import annotations

import argparse
import os
import time

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
    answers = {p: {q: np.asarray(v).tolist() for q, v in keys[p].items()} for p in people}
    t0 = time.perf_counter()
    shared.find(ex, answers, people, keys.__getitem__)
    compare = time.perf_counter() - t0
    per_key = batched / args.students
    print(f"{args.students} students: keys batched {batched:.2f} s ({per_key * 1e3:.1f} ms each), "
          f"one spec per student {one_by_one * 1e3:.1f} ms each: {one_by_one / per_key:.0f}x; "
          f"pairwise comparison {compare:.2f} s")


if __name__ == "__main__":
    main()
