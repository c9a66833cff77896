"""Grading a code submission's functions from what the sandbox brought back: one test per case,
the vectorized pair, and the self-consistency check of backward against the student's own
forward (finite differences); and the calls the sandbox makes for them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import compare, solver, spec
from .exercise_values import _read_only, function_outputs, once
from .results import TestResult
from .spec import Exercise

CODE_TOLERANCE = spec.Tolerance("relabs", spec.CODE_RTOL, spec.CODE_ATOL)


def _mistakes():
    """The diagnosis machinery, imported only when something is wrong."""
    from . import mistakes

    return mistakes


def _case_tests(fn: spec.Function, outcomes: list, source: Any, reveal: bool,
               expected: dict[tuple[str, str], tuple[np.ndarray, ...]], right: frozenset = frozenset()) -> list[TestResult]:
    """One test per case (the vectorized pair is one test), scored from the function's points;
    ``source``: the submission (:class:`grader.submission.Source`); ``expected``: what a correct
    function returns, by (function, case id); ``right``: the (function, case id) pairs already
    found right in every return (:func:`_right_cases`)."""

    def check(case: spec.Case, values: tuple, show: bool) -> tuple[float, str]:
        if (fn.name, case.id) in right:
            return 1.0, ""  # what check_outputs gives a case right in every return
        return compare.check_outputs(fn, case, values, expected[(fn.name, case.id)], CODE_TOLERANCE, show)
    plain = [c for c in fn.cases if not c.group]
    share = fn.points / len(plain) if plain else 0.0
    tests = []
    by_case = dict(zip((c.id for c in fn.cases), outcomes, strict=True))
    across: list = []  # one diagnosis that fits every case, found at the first wrong case

    def diagnosis(case: spec.Case, values: tuple) -> Any:
        if not across:
            across.append(_mistakes().diagnose_cases(
                fn, plain, [by_case[c.id].values if by_case[c.id].status == "ok" else None for c in plain]))
        return across[0] or _mistakes().diagnose_function(fn, case, values)
    for case in plain:
        show = reveal or fn.reveal or case.visible
        out = by_case[case.id]
        name = f"{fn.name}: {case.label}"
        vis = "visible" if case.visible else fn.visibility
        if out.status != "ok":
            own = next((c for c in plain if c.id == "exercise"), None)
            line = _mistakes().shape_error(case, own, out.message or "") if out.status == "error" else None
            message = f"{line}. {out.message.strip().splitlines()[-1]}" if line else out.message
            tests.append(TestResult(f"{fn.name}/{case.id}", name, 0.0, share, out.status, message,
                                    visibility=vis))
            continue
        fraction, feedback = check(case, out.values, show)
        status = "passed" if fraction == 1 else ("partial" if fraction > 0 else "wrong")
        if status != "passed":
            mistake = diagnosis(case, out.values)
            if mistake is not None:
                feedback = f"{feedback}. Step: {mistake.step}"
        tests.append(TestResult(f"{fn.name}/{case.id}", name, share * fraction, share, status, feedback,
                                revealed=show, visibility=vis))
    passed = [t.status == "passed" for t in tests]
    pattern = _mistakes().hard_coded(fn, plain, passed) if any(passed) and not all(passed) else None
    if pattern:  # what the failing cases have in common, on each of them
        tests = [t if t.status == "passed" else dataclasses.replace(t, feedback=f"{t.feedback}. Pattern: {pattern}")
                 for t in tests]
    pair = [c for c in fn.cases if c.group == "vectorized"]
    if pair:
        notes, ok = [], True
        for case in pair:
            out = by_case[case.id]
            if out.status != "ok":
                ok = False
                notes.append(f"{case.label}: {out.status}: {out.message}")
                continue
            fraction, feedback = check(case, out.values, False)
            if fraction < 1:
                ok = False
                notes.append(f"{case.label}: {feedback}")
        epochs = next((n for n in ("epochs",) if n in fn.args), None)
        loops = compare.find_loops(source.code, fn.name, epochs, getattr(source, "tree", None))
        if loops:
            notes.append(f"{fn.name} uses {', '.join(loops)}: the sheet asks for vectorised NumPy "
                         "(matrix products and broadcasting over neurons and samples)")
        status = "passed" if ok and not loops else "wrong"
        score = fn.vectorized_points if status == "passed" else 0.0
        tests.append(TestResult(f"{fn.name}/vectorized", f"{fn.name}: vectorized (1 and 1,000 samples)",
                                score, fn.vectorized_points, status, "; ".join(notes), visibility=fn.visibility))
    return tests


# ---------------------------------------------------------------------------- self-consistency
@dataclass(frozen=True)
class Probe:
    """Finite differences of the student's own forward, to check their backward against."""

    net: spec.Network
    calls: tuple[tuple[str, tuple], ...]  # (function, args): forward at θ ± h·v, one direction v per parameter
    entries: tuple  # (return name of backward, direction v, h) per pair of calls
    t: Any
    out_index: int  # which return of forward is the network's output
    backward_index: int  # position of backward in ex.functions
    backward_case: int  # its exercise case
    returns: tuple  # backward's returns


def _direction(shape: tuple[int, ...]) -> np.ndarray:
    """A fixed direction with entries of alternating sign and distinct sizes in [0.5, 1.5), so
    that no usual slip (one entry off, a transposed matrix, a column missing) cancels out in
    ∑ dθ·v: one pair of calls checks a whole parameter instead of one pair per entry."""
    k = np.arange(int(np.prod(shape)), dtype=float)
    return ((0.5 + (k * 0.6180339887498949) % 1.0) * np.where(k % 2 == 0, 1.0, -1.0)).reshape(shape)


def self_consistency_calls(ex: Exercise) -> Probe | None:
    """Calls of ``forward`` at θ ± h·v around the exercise's own case (one direction v per weight
    matrix and bias), when the exercise asks for both ``forward`` and ``backward`` in the
    convention (their gradients are comparable). Computed once per (cached) exercise."""
    return once("probe", (ex,), lambda: _probe(ex))


def _probe(ex: Exercise) -> Probe | None:
    fns = {f.name: f for f in ex.functions}
    fwd, bwd = fns.get("forward"), fns.get("backward")
    if fwd is None or bwd is None:
        return None
    L = ex.net.L
    case_k = next((k for k, c in enumerate(bwd.cases) if c.id == "exercise"), None)
    if case_k is None or f"a{L}" not in fwd.returns:
        return None
    case = bwd.cases[case_k]
    given = dict(case.inputs)
    if not {"x", "t"} <= set(given) or not set(fwd.args) <= set(given):
        return None
    calls, entries = [], []
    for ret in bwd.returns:
        kind = ret.rstrip("0123456789")
        if kind not in ("dW", "db"):
            continue
        name = ret[1:]  # dW1 -> W1
        base = np.asarray(given[name], dtype=float)
        v = _direction(base.shape)
        h = 1e-6 * max(1.0, float(np.max(np.abs(base), initial=0.0)))
        for sign in (1, -1):
            moved = _read_only((base + sign * h * v,))[0]  # sent as the same bytes every submission
            calls.append(("forward", tuple(moved if a == name else given[a] for a in fwd.args)))
        entries.append((ret, v, h))
    if not entries:
        return None
    return Probe(case.net, tuple(calls), tuple(entries), np.asarray(given["t"], float),
                 fwd.returns.index(f"a{L}"), list(fns).index("backward"), case_k, bwd.returns)


def self_consistency(probe: Probe, outcomes: Any, backward: Any) -> TestResult:
    """Does the student's backward agree with finite differences of the student's own forward?
    Each parameter is checked along its direction v: (E(θ + h v) − E(θ − h v)) / 2h = ∑ dθ·v.
    Reported apart (0 points): a student whose forward is wrong still learns whether the backward
    matches it."""
    name = "backward agrees with your own forward (finite differences)"

    def test(status: str, feedback: str) -> TestResult:
        return TestResult("backward/self-consistency", name, 0.0, 0.0, status, feedback)
    if backward.status != "ok":
        return test("no_result", "backward gave no result on the exercise's values")
    got = dict(zip(probe.returns, backward.values, strict=False))
    worst, rows = [], []
    for k, (ret, v, h) in enumerate(probe.entries):
        plus, minus = outcomes[2 * k], outcomes[2 * k + 1]
        if plus.status != "ok" or minus.status != "ok":
            return test("no_result", f"forward gave no result when the weights moved ({plus.status})")
        try:
            e = [float(solver.loss(probe.net, np.asarray(o.values[probe.out_index], float)[..., None],
                                   probe.t[..., None])[0]) for o in (plus, minus)]
        except (IndexError, ValueError):
            return test("invalid_output", "forward's output cannot be compared with the targets")
        fd = (e[0] - e[1]) / (2 * h)
        value = got.get(ret)
        if value is None:
            continue
        value = np.asarray(value, dtype=float)
        if value.shape != v.shape:
            return test("wrong", f"{ret} does not have the shape of its parameter")
        mine = float(np.sum(value * v))
        rows.append((plus.values[probe.out_index], minus.values[probe.out_index], h, mine))
        if abs(mine - fd) > 1e-5 * float(np.sum(np.abs(v))) + 1e-4 * abs(fd):
            worst.append(ret)
    if worst:
        other = _mistakes().consistent_loss(probe.net, probe.t, rows)
        return test("wrong", f"your backward disagrees with finite differences of your own forward in "
                    f"{', '.join(worst)}: " + (other or "the gradient does not match your forward pass"))
    return test("passed", "your backward matches finite differences of your own forward")


def sandbox_calls(ex: Exercise) -> tuple[tuple[Any, ...], Probe | None]:
    """Every call a code submission gets (each function's cases; the self-consistency probe's
    calls of ``forward`` right after forward's own cases, so that every call of one function
    is one round trip to the sandbox), and the probe; built once per (cached) exercise."""
    calls, probe, _ = _call_layout(ex)
    return calls, probe


def _call_layout(ex: Exercise) -> tuple[tuple[Any, ...], Probe | None, tuple[slice, ...]]:
    """(calls, probe, where the outcomes of each function's cases and then of the probe are)."""
    from . import sandbox

    def build() -> tuple[tuple[Any, ...], Probe | None, tuple[slice, ...]]:
        # a student's variant: its exercise cases (and the probe, made from one) hold the student's
        # values; the random cases are every student's, and the sandbox worker keeps them
        own = ex.variant_seed is not None
        probe = self_consistency_calls(ex)
        probe_calls = [sandbox.Call(function, args, own) for function, args in probe.calls] if probe else []
        calls: list = []
        where: list[slice] = []
        probe_at = None
        for fn in ex.functions:
            where.append(slice(len(calls), len(calls) + len(fn.cases)))
            calls += [sandbox.Call(fn.name, tuple(v for _, v in case.inputs), own and case.id == spec.EXERCISE_CASE)
                      for case in fn.cases]
            if probe_calls and probe_at is None and fn.name == probe_calls[0].function:
                probe_at = len(calls)
                calls += probe_calls
        if probe_at is None:
            probe_at = len(calls)
            calls += probe_calls
        return tuple(calls), probe, (*where, slice(probe_at, probe_at + len(probe_calls)))

    return once("calls", (ex,), build)


def _right_cases(ex: Exercise, outcomes: tuple, where: list[slice]) -> frozenset:
    """The (function, case id) pairs whose every return is right, found for all the cases of a
    submission in one pass (:func:`compare.all_within`) instead of one comparison per return."""
    layout = once("expected-layout", (ex,), lambda: compare.expected_layout(
        [v for fn in ex.functions for v in (function_outputs(ex)[(fn.name, c.id)] for c in fn.cases)],
        CODE_TOLERANCE))
    if layout is None:
        return frozenset()
    keys = [(fn.name, c.id) for fn in ex.functions for c in fn.cases]
    values = [o.values if o.status == "ok" else None
              for fn, at in zip(ex.functions, where, strict=True) for o in outcomes[at]]
    return frozenset(k for k, ok in zip(keys, compare.all_within(layout, values), strict=True) if ok)


def _placeholders(ex: Exercise, status: str, message: str) -> list[TestResult]:
    """Every function test of ``ex`` at 0 with one status: code that was not handed in
    (``missing``) or does not compile (``error``)."""
    tests = []
    for fn in ex.functions:
        plain = [c for c in fn.cases if not c.group]
        share = fn.points / len(plain) if plain else 0.0
        tests += [TestResult(f"{fn.name}/{c.id}", f"{fn.name}: {c.label}", 0.0, share, status, message,
                             visibility="visible" if c.visible else fn.visibility) for c in plain]
        if fn.vectorized:
            tests.append(TestResult(f"{fn.name}/vectorized", f"{fn.name}: vectorized (1 and 1,000 samples)", 0.0,
                                    fn.vectorized_points, status, message, visibility=fn.visibility))
    if self_consistency_calls(ex) is not None:
        tests.append(TestResult("backward/self-consistency", "backward agrees with your own forward (finite differences)",
                                0.0, 0.0, status, message))
    return tests


def _function_tests(ex: Exercise, run: Any, probe: Probe | None, source: Any,
                    reveal: bool) -> tuple[list[TestResult], list[str]]:
    """The tests of the exercise's functions from what the sandbox brought back."""
    warnings = [f"sandbox: {layer} not available on this machine" for layer in run.missing_layers]
    warnings += list(run.notes)
    if run.load_status != "ok":
        warnings.append(f"the submission could not be loaded ({run.load_status}):\n{run.load_message}")
    tests: list[TestResult] = []
    *where, probe_at = _call_layout(ex)[2]
    expected = function_outputs(ex) if run.load_status == "ok" else {}
    right = _right_cases(ex, run.outcomes, where) if run.load_status == "ok" else frozenset()
    for fn, at in zip(ex.functions, where, strict=True):
        # a failed load fails every call
        tests += _case_tests(fn, list(run.outcomes[at]), source, reveal, expected, right)
    if probe is not None:
        if run.load_status == "ok":
            backward = run.outcomes[where[probe.backward_index].start + probe.backward_case]
            tests.append(self_consistency(probe, run.outcomes[probe_at], backward))
        else:
            tests.append(TestResult("backward/self-consistency", "backward agrees with your own forward (finite differences)",
                                    0.0, 0.0, "no_result", "the submission could not be loaded"))
    return tests, warnings


