"""What depends only on an exercise: computed once per process (:func:`once`), and the answer
key and the outputs of a correct solution on every function case also kept on disk, so that a
``grade FILE`` in a fresh process does not solve the exercise again.

On disk: one file per exercise content and grader code in ``$GRADER_CACHE_DIR/values/`` (default
``~/.cache/backprop-grader/values/``, made 0700): named by the SHA-256 of the exercise's parsed
content, the grader version, NumPy's version and the size and mtime of every module of the
installed grader (an edited solver is a new name); a student's variant is never written. Read
back strictly (any doubt: solved again), float64 bytes only, nothing unpickled.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from . import arraycache, solver
from .identity import IdentityCache
from .cachedir import cache_base
from .errors import SpecError
from .spec import Case, Exercise, Function

_ONCE = IdentityCache()


def once(what: str, objs: tuple, compute: Any) -> Any:
    """``compute()``, once per ``what`` and per identity of ``objs`` (cached exercises, their
    functions and cases are immutable): what depends only on the exercise is not recomputed per
    submission."""
    return _ONCE.value((what, *map(id, objs)), objs, compute)


def _read_only(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    for arr in arrays:
        if isinstance(arr, np.ndarray):
            arr.setflags(write=False)
    return arrays


def reference(ex: Exercise) -> dict[str, np.ndarray]:
    """The exercise's own answers (one variant, read-only arrays, solved once per cached
    exercise); a question whose answer is not a finite number (an overflow, log 0 in the loss)
    is an error of the spec, never a key to grade against."""
    return dict(once("reference", (ex,), lambda: _reference(ex)))


def give_reference(ex: Exercise, key: dict[str, np.ndarray],
                   outputs: dict[tuple[str, str], tuple[np.ndarray, ...]] | None = None) -> None:
    """Take ``key`` as :func:`reference` of ``ex``, and ``outputs`` (by function name and case id)
    as :func:`expected_outputs` of those cases (solved with its classmates' variants,
    :mod:`grader.variant_keys`), unless this process holds them for ``ex`` already."""
    once("reference", (ex,), lambda: dict(key))
    for fn in ex.functions if outputs else ():
        for case in fn.cases:
            given = outputs.get((fn.name, case.id))
            if given is not None and len(given) == len(fn.returns):
                _ONCE.value(_expected_key(fn, case), (case,), lambda given=given: given)


def _reference(ex: Exercise) -> dict[str, np.ndarray]:
    stored = _load(ex, "reference")  # (question id, "s" for a NumPy scalar or "a" for an array)
    if stored is not None and {name[0] for name in stored} == {q.id for q in ex.questions} \
            and len(stored) == len(ex.questions):
        return {qid: arr[()] if kind == "s" else arr for (qid, kind), arr in stored.items()}
    key = {qid: v[0] for qid, v in solver.solve(ex).items()}
    _read_only(tuple(key.values()))
    for i, q in enumerate(ex.questions):
        if not np.all(np.isfinite(key[q.id])):
            raise SpecError(f"{ex.path}: questions[{i}]: the answer to {q.ask!r} ({q.id}) is not a finite number "
                            "(an overflow, or log(0) in the loss): change the exercise's values")
    if all(isinstance(v, (np.ndarray, np.float64)) for v in key.values()):
        _store(ex, "reference", {(qid, "a" if isinstance(v, np.ndarray) else "s"): np.asarray(v)
                                 for qid, v in key.items()})
    return key


def expected_outputs(fn: Function, case: Case) -> tuple[np.ndarray, ...]:
    """What a correct ``fn`` returns on ``case``, computed once per worker for a case (read-only
    arrays), and once per content of the case: each student's variant of an exercise compiles
    new functions around the same random cases, and only its ``exercise`` cases hold the
    student's values (those come with a class's key, :func:`give_reference`)."""
    return _ONCE.value(_expected_key(fn, case), (case,), lambda: _by_content(fn, case))


def _expected_key(fn: Function, case: Case) -> tuple:
    # by the case's identity and what the outputs read of the function (not the function itself:
    # each student's variant compiles new functions around the same random cases)
    return ("expected", fn.activation, fn.returns, id(case))


# digest of what the outputs depend on -> them (no objects to hold): a class on variants fills
# _ONCE with each student's entries and empties it every few dozen students; the random cases'
# outputs (train's take 3 ms each) are found here again, not trained again
_CONTENT = IdentityCache(1024)


def _by_content(fn: Function, case: Case) -> tuple[np.ndarray, ...]:
    # everything solver.function_outputs reads: the function's activation and returns, the
    # case's network and inputs (equal content pickles alike; a difference is only a miss)
    key = hashlib.sha256(pickle.dumps((fn.activation, fn.returns, case.net, case.inputs), protocol=5)).digest()
    return _CONTENT.value((key,), (), lambda: _read_only(solver.function_outputs(fn, case)))


def function_outputs(ex: Exercise) -> dict[tuple[str, str], tuple[np.ndarray, ...]]:
    """:func:`expected_outputs` of every case of every function of ``ex`` (from disk when
    known), by (function name, case id)."""
    return once("expected-all", (ex,), lambda: _function_outputs(ex))


def _function_outputs(ex: Exercise) -> dict[tuple[str, str], tuple[np.ndarray, ...]]:
    cases = [(fn, case) for fn in ex.functions for case in fn.cases]
    stored = _load(ex, "functions")
    if stored is not None:
        out: dict[tuple[str, str], list] = {(fn.name, case.id): [] for fn, case in cases}
        for (fname, cid, k), arr in sorted(stored.items(), key=lambda kv: (kv[0][0], kv[0][1], int(kv[0][2]))):
            if (fname, cid) in out and int(k) == len(out[(fname, cid)]):
                out[(fname, cid)].append(arr)
        if all(len(out[(fn.name, case.id)]) == len(fn.returns) for fn, case in cases):
            return {k: tuple(v) for k, v in out.items()}
    out = {(fn.name, case.id): expected_outputs(fn, case) for fn, case in cases}
    _store(ex, "functions", {(name, cid, str(k)): arr for (name, cid), arrs in out.items()
                             for k, arr in enumerate(arrs)})
    return out


# ---------------------------------------------------------------------------- on disk
_code_signature = arraycache.code_signature


def _file(ex: Exercise, what: str) -> Path | None:
    if ex.variant_seed is not None or ex.student is not None:  # a student's variant stays in memory
        return None
    try:
        text = json.dumps(ex.raw, sort_keys=True, ensure_ascii=False, allow_nan=False)
        h = hashlib.sha256(f"{what}\0{_code_signature()}\0".encode() + text.encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, OSError):
        return None
    return cache_base() / "values" / f"{h.hexdigest()}.bin"


def _load(ex: Exercise, what: str) -> dict[tuple[str, ...], np.ndarray] | None:
    """The arrays stored for ``ex`` (read-only), or None when there is no valid file."""
    return arraycache.read(_file(ex, what))


def _store(ex: Exercise, what: str, arrays: dict[tuple[str, ...], np.ndarray]) -> None:
    arraycache.write(_file(ex, what), arrays)
