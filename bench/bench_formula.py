"""Formula answers benchmark: prints timings and ratios measured in this run.

    python bench/bench_formula.py [--repeat 20]

1. Checking a formula answer (∂E/∂w6 of tutorial-4-output-layer, and the 2 × 2 dE/dW(1) of
   tutorial-4-matrix as four formulas) at the exercise's values and 64 variants — the names'
   values in one batched forward pass, the reference in one batched solver call — against
   checking the same 65 points one solver call at a time.
2. A right formula (cold) against a right number (what a formula answer costs over a typed number).
3. The same with the variants, names' values and reference cached per exercise (the next
   student's answer to the same question).
4. A wrong formula with its diagnosis (the mistake models at up to 8 of the variants).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from grader import answer_grade, formula_grade, grading, mistakes, solver, spec


def per_point(ex: spec.Exercise, q: spec.Question, values: solver.Values) -> None:
    """The reference and the names at each of the 65 points, one call each (what batching saves)."""
    for k in range(values.V):
        one = solver.Values(tuple(w[k:k + 1] for w in values.W), tuple(c[k:k + 1] for c in values.b),
                            values.x[k:k + 1], values.t[k:k + 1])
        formula_grade.reference(ex, q, one)
        formula_grade.name_values(ex, q, one)


def timed(fn, repeat: int) -> float:
    fn()  # warm up caches
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    out_ex = spec.load_exercise("tutorial-4-output-layer")
    mat_ex = spec.load_exercise("tutorial-4-matrix")
    w6 = next(q for q in out_ex.questions if q.id == "w6")
    dW1 = next(q for q in mat_ex.questions if q.id == "dW1")
    key_out, key_mat = grading.reference(out_ex), grading.reference(mat_ex)
    right = "(y1 - t1) * y1 * (1 - y1) * o2"
    d = "((y1 - t1) * y1 * (1 - y1) * w{} + (y2 - t2) * y2 * (1 - y2) * w{}) * o{} * (1 - o{}) * x{}"
    matrix = [[d.format(9, 11, 1, 1, 1), d.format(9, 11, 1, 1, 2)], [d.format(10, 12, 2, 2, 1), d.format(10, 12, 2, 2, 2)]]
    rows = []
    for label, ex, q, value, key in (("dE/dw6", out_ex, w6, right, key_out), ("dE/dW(1)", mat_ex, dW1, matrix, key_mat)):
        values = formula_grade.variant_values(ex)
        def cold(ex=ex, q=q, value=value):
            formula_grade._CACHE.clear()
            formula_grade.check(ex, q, value)

        batched = timed(cold, args.repeat)
        warm = timed(lambda ex=ex, q=q, value=value: formula_grade.check(ex, q, value), args.repeat)
        looped = timed(lambda ex=ex, q=q, values=values: per_point(ex, q, values), max(1, args.repeat // 4))
        number = timed(lambda q=q, key=key, ex=ex: answer_grade.grade_question(q, solver.to_plain(key[q.id]), key[q.id],
                                                                      False, ex), args.repeat)
        assert formula_grade.check(ex, q, value).status == "passed"
        rows.append((f"{label}: right formula, 65 points batched", batched, None))
        rows.append((f"{label}: the same, variants and reference cached (the next student)", warm, None))
        rows.append((f"{label}: the same 65 points one call each (solver and names only)", looped, looped / batched))
        rows.append((f"{label}: right number", number, batched / number))
    wrong = dataclasses.replace(w6)
    slow = timed(lambda: formula_grade.check(out_ex, wrong, "(y1 - t1) * o2", mistakes.diagnose), max(1, args.repeat // 4))
    rows.append(("dE/dw6: wrong formula, diagnosed (f' left out)", slow, None))
    print(f"{'what':<72} {'ms':>9}  ratio")
    for what, t, ratio in rows:
        extra = "" if ratio is None else (f"{ratio:6.1f}x slower than batched" if "one call each" in what
                                          else f"{ratio:6.1f}x: formula over number")
        print(f"{what:<72} {t * 1e3:9.2f}  {extra}")


if __name__ == "__main__":
    main()
