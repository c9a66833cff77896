"""Library entry points that the CLI calls: one function per command."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import DEFAULT_EXERCISE, compare, mistakes, solver, spec
from .errors import AnswersError, GraderError, SpecError, SubmissionSyntaxError, UsageError
from .results import Results, TestResult
from .spec import Exercise



_ONCE: dict[tuple, tuple[tuple, Any]] = {}


def once(what: str, objs: tuple, compute: Any) -> Any:
    """``compute()``, once per ``what`` and per identity of ``objs`` (cached exercises, their
    functions and cases are immutable): what depends only on the exercise is not recomputed per
    submission. The objects are kept with the value, so an id is never reused while cached."""
    key = (what, *map(id, objs))
    hit = _ONCE.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], objs, strict=True)):
        return hit[1]
    value = compute()
    if len(_ONCE) > 256:  # per-student variants are new objects each: keep only the latest few
        _ONCE.clear()
    _ONCE[key] = (objs, value)
    return value


def _spec_digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def audit(ex: Exercise, variant_seed: int | None = None) -> tuple[tuple[str, Any], ...]:
    """What a regrade needs to reproduce a result: the spec's content hash, the grader version,
    the variant seed."""
    from . import __version__

    digest = once("digest", (ex,), lambda: _spec_digest(ex.path))
    return (("exercise_sha256", digest), ("grader_version", __version__), ("variant_seed", variant_seed))


@dataclass(frozen=True)
class Key:
    exercise: Exercise
    answers: dict  # question id -> float or nested list


def reference(ex: Exercise) -> dict[str, np.ndarray]:
    """The exercise's own answers (one variant, read-only arrays, solved once per cached
    exercise); a question whose answer is not a finite number (an overflow, log 0 in the loss)
    is an error of the spec, never a key to grade against."""
    return dict(once("reference", (ex,), lambda: _reference(ex)))


def _reference(ex: Exercise) -> dict[str, np.ndarray]:
    key = {qid: v[0] for qid, v in solver.solve(ex).items()}
    _read_only(tuple(key.values()))
    for i, q in enumerate(ex.questions):
        if not np.all(np.isfinite(key[q.id])):
            raise SpecError(f"{ex.path}: questions[{i}]: the answer to {q.ask!r} ({q.id}) is not a finite number "
                            "(an overflow, or log(0) in the loss): change the exercise's values")
    return key


def answer_key(name: str | Path, student: str | None = None) -> Key:
    ex = spec.load_exercise(name, student)
    return Key(ex, {qid: solver.to_plain(v) for qid, v in reference(ex).items()})


def validate(names: list[str]) -> list[tuple[str, list[GraderError]]]:
    """Every problem of every spec named (a path or a bundled id); an empty list means valid."""
    out = []
    for name in names:
        try:
            path = spec.find(name)
            errors: list[GraderError] = list(spec.check_spec(spec.read_spec(path), str(path)))
            if not errors:
                reference(spec.load(path))  # every answer must be a finite number
        except GraderError as exc:
            errors = [exc]
        out.append((str(name), errors))
    return out


def grade_path(path: str | Path, exercise: str | None = None, reveal: bool = False,
               isolation: str = "best-effort", student: str | None = None, box: Any = None) -> Results:
    """Grade what ``path`` names: a code file, an answers file, or a folder holding a student's
    submission (Gradescope's ``submission.py`` beside ``answers.json``: both, into one result)."""
    from .discover import folder_submission

    p = Path(path)
    if p.is_dir():
        sub = folder_submission(p, prefix="")
        if sub.path is None:
            raise UsageError(f"{path}: no submission (.py, .ipynb or .json) in this folder")
        return grade_parts(sub.code, sub.answers, exercise, reveal=reveal, isolation=isolation, student=student,
                           ignored=tuple((i.name, i.reason) for i in sub.ignored))
    if p.suffix.lower() in (".py", ".ipynb"):  # ``box``: a sandbox already launched for it
        return grade_parts(p, None, exercise, reveal=reveal, isolation=isolation, student=student, box=box)
    return grade_answers_file(p, exercise, reveal=reveal, student=student)


def submission_file(path: str | Path) -> str:
    """The file ``path`` names as the submission: itself, or the main file of a folder (its code,
    else its answers file)."""
    from .discover import folder_submission

    p = Path(path)
    if p.is_dir():
        sub = folder_submission(p, prefix="")
        if sub.path is None:
            raise UsageError(f"{path}: no submission (.py, .ipynb or .json) in this folder")
        return str(sub.path)
    return str(path)


def grade_answers_file(path: str | Path, exercise: str | None = None, reveal: bool = False,
                       student: str | None = None) -> Results:
    """Grade an answers JSON file (out of the exercise's full maximum: its functions score 0 as
    ``missing``); the exercise comes from ``exercise``, the file, or the default."""
    answers, named = compare.read_answers(path)  # a file that is not an answers file: exit 2
    return grade_parts(None, path, exercise, reveal=reveal, student=student, _typed=(answers, named))


# ---------------------------------------------------------------------------- code submissions
CODE_TOLERANCE = spec.Tolerance("relabs", spec.CODE_RTOL, spec.CODE_ATOL)


def _read_only(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    for arr in arrays:
        if isinstance(arr, np.ndarray):
            arr.setflags(write=False)
    return arrays


def expected_outputs(fn: spec.Function, case: spec.Case) -> tuple[np.ndarray, ...]:
    """What a correct ``fn`` returns on ``case``, computed once per worker for a cached exercise
    (read-only arrays)."""
    return once("expected", (fn, case), lambda: _read_only(solver.function_outputs(fn, case)))


def _case_tests(fn: spec.Function, outcomes: list, source_code: str, reveal: bool) -> list[TestResult]:
    """One test per case (the vectorized pair is one test), scored from the function's points."""
    plain = [c for c in fn.cases if not c.group]
    share = fn.points / len(plain) if plain else 0.0
    tests = []
    by_case = dict(zip((c.id for c in fn.cases), outcomes, strict=True))
    across: list = []  # one diagnosis that fits every case, found at the first wrong case

    def diagnosis(case: spec.Case, values: tuple) -> mistakes.Mistake | None:
        if not across:
            across.append(mistakes.diagnose_cases(
                fn, plain, [by_case[c.id].values if by_case[c.id].status == "ok" else None for c in plain]))
        return across[0] or mistakes.diagnose_function(fn, case, values)
    for case in plain:
        show = reveal or fn.reveal or case.visible
        out = by_case[case.id]
        name = f"{fn.name}: {case.label}"
        vis = "visible" if case.visible else fn.visibility
        if out.status != "ok":
            own = next((c for c in plain if c.id == "exercise"), None)
            line = mistakes.shape_error(case, own, out.message or "") if out.status == "error" else None
            message = f"{line}. {out.message.strip().splitlines()[-1]}" if line else out.message
            tests.append(TestResult(f"{fn.name}/{case.id}", name, 0.0, share, out.status, message,
                                    visibility=vis))
            continue
        expected = expected_outputs(fn, case)
        fraction, feedback = compare.check_outputs(fn, case, out.values, expected, CODE_TOLERANCE, show)
        status = "passed" if fraction == 1 else ("partial" if fraction > 0 else "wrong")
        if status != "passed":
            mistake = diagnosis(case, out.values)
            if mistake is not None:
                feedback = f"{feedback}. Step: {mistake.step}"
        tests.append(TestResult(f"{fn.name}/{case.id}", name, share * fraction, share, status, feedback,
                                revealed=show, visibility=vis))
    pattern = mistakes.hard_coded(fn, plain, [t.status == "passed" for t in tests])
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
            fraction, feedback = compare.check_outputs(fn, case, out.values, expected_outputs(fn, case),
                                                       CODE_TOLERANCE, False)
            if fraction < 1:
                ok = False
                notes.append(f"{case.label}: {feedback}")
        epochs = next((n for n in ("epochs",) if n in fn.args), None)
        loops = compare.find_loops(source_code, fn.name, epochs)
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
        other = mistakes.consistent_loss(probe.net, probe.t, rows)
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
        probe = self_consistency_calls(ex)
        probe_calls = [sandbox.Call(function, args) for function, args in probe.calls] if probe else []
        calls: list = []
        where: list[slice] = []
        probe_at = None
        for fn in ex.functions:
            where.append(slice(len(calls), len(calls) + len(fn.cases)))
            calls += [sandbox.Call(fn.name, tuple(v for _, v in case.inputs)) for case in fn.cases]
            if probe_calls and probe_at is None and fn.name == probe_calls[0].function:
                probe_at = len(calls)
                calls += probe_calls
        if probe_at is None:
            probe_at = len(calls)
            calls += probe_calls
        return tuple(calls), probe, (*where, slice(probe_at, probe_at + len(probe_calls)))

    return once("calls", (ex,), build)


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


def failed_results(exercise: str | Path, message: str, student: str | None = None,
                   status: str = "invalid") -> Results:
    """A submission that could not be graded at all (or was not there: ``no_result``): every
    test of the exercise at 0 with the reason, so that its row has the class's maximum and columns."""
    try:
        ex = spec.load_exercise(exercise, student)
    except GraderError:
        return Results(str(exercise), 0.0, 0.0, (TestResult("submission", "submission", 0.0, 0.0, status, message),))
    tests = _placeholders(ex, status, message) + [
        TestResult(q.id, compare.question_name(q), 0.0, q.points, status, message) for q in ex.questions]
    return _total(ex, tests, (message,), "")


def _total(ex: Exercise, tests: list[TestResult], warnings: tuple[str, ...] | list[str], output: str) -> Results:
    score = round(sum(t.score for t in tests), 6)
    return Results(ex.id, score, full_maximum(ex), tuple(tests), tuple(warnings), output, audit(ex, ex.variant_seed))


def full_maximum(ex: Exercise) -> float:
    """What every submission of ``ex`` is graded out of: its questions and its functions."""
    functions = sum(f.points + (f.vectorized_points if f.vectorized else 0) for f in ex.functions)
    return round(ex.max_score + functions, 6)


def _code_answers(run: Any, where: str) -> tuple[dict | None, str | None]:
    """The ``ANSWERS`` of a code submission, each value parsed on its own: one NaN, set or
    unconvertible object fails its question (``invalid``), not the others. ``(None, reason)``
    when ANSWERS was defined but cannot be read at all; ``(None, None)`` when there is none."""
    if run.answers_json is None:
        note = run.load_message.strip() if run.load_status == "ok" else ""
        return (None, f"{where}: {note}") if note.startswith("ANSWERS") else (None, None)
    try:
        data = json.loads(run.answers_json, parse_constant=lambda c: compare.Invalid(f"{c} is not a finite number"))
    except (ValueError, RecursionError) as exc:
        return None, f"{where}: ANSWERS cannot be read: {exc}"
    try:
        answers, _ = compare.answers_object(data, f"{where}: ANSWERS")
    except AnswersError as exc:
        return None, str(exc)
    marked = lambda v: (compare.Invalid(v["__invalid__"])  # noqa: E731 - the child could not convert it
                        if isinstance(v, dict) and set(v) == {"__invalid__"} and isinstance(v["__invalid__"], str) else v)
    return {k: compare.first_invalid(marked(v)) for k, v in answers.items()}, None


def grade_parts(code: str | Path | None, answers: str | Path | None, exercise: str | None = None,
                reveal: bool = False, isolation: str = "best-effort", box: Any = None, limits: Any = None,
                student: str | None = None, ignored: tuple[tuple[str, str], ...] = (),
                _typed: tuple[dict, str | None] | None = None, source: Any = None) -> Results:
    """Grade one student's code and answers file together, out of the exercise's full maximum.

    The functions are graded from the code (``missing`` without code), the questions from the
    answers file and the code's ``ANSWERS`` (the file wins where both answer a question;
    ``missing`` where neither does). The sandbox worker starts before the exercise is loaded; the
    child gets the inputs of each case only, and the grader compares what comes back. ``source``:
    the code already put together (``grader.check`` builds it from a notebook's cells) instead
    of reading ``code``.
    """
    from . import sandbox, submission

    warnings: list[str] = [f"ignored {name}: {reason}" for name, reason in ignored]
    typed: dict | None = None
    named = None
    typed_error = None
    if answers is not None:
        try:
            typed, named = _typed if _typed is not None else compare.read_answers(answers)
        except AnswersError as exc:
            if code is None:
                raise
            typed_error = str(exc)
            warnings.append(f"the answers file cannot be read: {exc}")
    run = probe = None
    compile_error = None
    if code is not None and source is None:
        try:
            source = submission.load_source(code)
        except SubmissionSyntaxError as exc:  # the student's code does not compile: graded, 0 points
            compile_error = str(exc)
    if source is not None:
        own = box is None
        box = box if box is not None else sandbox.Sandbox(isolation)
        try:
            box.start()  # before any exercise or key is in this process's memory
            warnings += list(source.notes)
            ex = _exercise(exercise, (source.exercise, f"{code}: EXERCISE") if source.exercise else
                           (named, f"{answers}: exercise"), warnings, student)
            calls, probe = sandbox_calls(ex)
            run = box.run(source, calls, limits if limits is not None else sandbox.Limits())
        finally:
            if own:
                box.close()
    else:
        ex = _exercise(exercise, (named, f"{answers}: exercise"), warnings, student)
    if named is not None and named not in (ex.id, *ex.aliases):
        warnings.append(f"{answers}: the file names exercise {named!r} but is graded against {ex.id!r}")
    tests: list[TestResult] = []
    output = ""
    own_answers = None
    if run is not None:
        tests, code_warnings = _function_tests(ex, run, probe, source, reveal)
        warnings += code_warnings
        output = run.output
        own_answers, answers_error = _code_answers(run, str(code))
        if answers_error:
            warnings.append(answers_error)
            typed_error = typed_error or answers_error
    elif compile_error is not None:
        tests = _placeholders(ex, "error", compile_error)
    else:
        tests = _placeholders(ex, "missing", "no code handed in")
    merged = dict(own_answers or {})
    for qid in sorted(set(merged) & set(typed or {})):
        warnings.append(f"question {qid} is answered in {Path(answers).name} and in the code's ANSWERS: "
                        f"graded from {Path(answers).name}")
    merged.update(typed or {})
    if ex.questions and own_answers is None and typed is None and typed_error is None and \
            compile_error is None and (run is None or run.load_status == "ok"):
        warnings.append("no ANSWERS defined and no answers file: the exercise's questions score 0 (missing)")
    key = reference(ex)
    graded = compare.grade_answers(ex, merged, key, reveal=reveal, diagnose=mistakes.diagnose,
                                   diagnose_all=mistakes.diagnose_answers)
    questions = list(graded.tests)
    if typed_error is not None and not merged:  # nothing readable: each question says why
        questions = [dataclasses.replace(t, status="invalid", feedback=typed_error) if t.status == "missing" else t
                     for t in questions]
    warnings += list(graded.warnings)
    return _total(ex, tests + questions, warnings, output)


def _exercise(exercise: str | None, named: tuple[str | None, str], warnings: list[str],
              student: str | None) -> Exercise:
    """``--exercise``, else the one the submission names (``(id, where)``: by id only, never by
    path), else the default (with a warning)."""
    if exercise is None:
        if named[0] is None:
            warnings.append(f"no exercise named: graded against the bundled default {DEFAULT_EXERCISE!r}")
        exercise = spec.find_id(named[0], named[1]) if named[0] is not None else DEFAULT_EXERCISE
    return spec.load_exercise(exercise, student)


def _function_tests(ex: Exercise, run: Any, probe: Probe | None, source: Any,
                    reveal: bool) -> tuple[list[TestResult], list[str]]:
    """The tests of the exercise's functions from what the sandbox brought back."""
    warnings = [f"sandbox: {layer} not available on this machine" for layer in run.missing_layers]
    warnings += list(run.notes)
    if run.load_status != "ok":
        warnings.append(f"the submission could not be loaded ({run.load_status}):\n{run.load_message}")
    tests: list[TestResult] = []
    *where, probe_at = _call_layout(ex)[2]
    for fn, at in zip(ex.functions, where, strict=True):
        tests += _case_tests(fn, list(run.outcomes[at]), source.code, reveal)  # a failed load fails every call
    if probe is not None:
        if run.load_status == "ok":
            backward = run.outcomes[where[probe.backward_index].start + probe.backward_case]
            tests.append(self_consistency(probe, run.outcomes[probe_at], backward))
        else:
            tests.append(TestResult("backward/self-consistency", "backward agrees with your own forward (finite differences)",
                                    0.0, 0.0, "no_result", "the submission could not be loaded"))
    return tests, warnings


def grade_submission(path: str | Path, exercise: str | None = None, reveal: bool = False,
                     isolation: str = "best-effort", box: Any = None, limits: Any = None,
                     student: str | None = None, source: Any = None) -> Results:
    """Grade a ``.py`` or ``.ipynb`` submission: its functions in the sandbox, its ``ANSWERS``
    (questions without an answer score 0 as ``missing``); ``source``: see :func:`grade_parts`."""
    return grade_parts(path, None, exercise, reveal=reveal, isolation=isolation, box=box, limits=limits,
                       student=student, source=source)
