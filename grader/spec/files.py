"""Spec files: reading, loading (with a student's variant), the bundled exercises by id."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

from .. import jsonio
from . import catalog
from ..errors import SpecError, UsageError
from .compiler import compile_spec
from .model import Exercise
from .names import did_you_mean
from .schema import validate


def read_spec(path: str | Path) -> Any:
    path = Path(path)
    try:
        return jsonio.read(path)
    except jsonio.StrictJSONError as exc:
        raise SpecError(f"{path}: {exc}") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load(path: str | Path, student: str | None = None, secret: str | None = None) -> Exercise:
    """Load, validate and compile the spec file at ``path``; for a ``student``, their variant
    (keyed by ``secret``, default ``GRADER_SECRET``) when the spec has ``variants``."""
    return _compile(read_spec(path), str(path), student, secret)


def _compile(data: Any, path: str, student: str | None, secret: str | None, validated: bool = False) -> Exercise:
    """``data`` compiled, or a ``student``'s variant of it; ``validated``: a spec with variants
    already passed the schema (a spec without them is always checked, by :func:`compile_spec`)."""
    if student is None or not isinstance(data, dict) or "variants" not in data:
        return compile_spec(data, path)
    if not validated:
        errors = validate(data, path)  # the variant is drawn from a well-formed spec only
        if errors:
            raise errors[0]
    from .. import variants

    seed = variants.seed(data["id"], student, secret if secret is not None else variants.secret_from_env())
    # a variant replaces numbers by numbers: the schema passed on the spec holds for it
    ex = compile_spec(variants.concrete(data, seed, path), path, validated=True)
    return dataclasses.replace(ex, variant_seed=seed, student=student)


# ---------------------------------------------------------------------------- bundled exercises
def exercises_folder() -> Path:
    """The bundled specs: ``grader.exercises`` when installed, ``exercises/`` in a source tree."""
    found = importlib.util.find_spec("grader.exercises")  # located, not through importlib.resources (its imports)
    if found is not None and found.submodule_search_locations:
        return Path(list(found.submodule_search_locations)[0])
    return Path(__file__).resolve().parents[2] / "exercises"  # a checkout: the package maps exercises/ there


def bundled() -> dict[str, Path]:
    """Bundled exercise ids (and aliases) -> their files."""
    return catalog.ids_in(exercises_folder())


def find(name: str | Path) -> Path:
    """An exercise named by the instructor: a spec path, or an id (in the ``--exercises-dir`` and
    ``GRADER_EXERCISES`` directories, then bundled)."""
    path = Path(name)
    if path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise UsageError(f"{name}: no such exercise file")
        return path
    known = catalog.catalog(exercises_folder())
    if str(name) in known:
        return known[str(name)]
    raise UsageError(f"no exercise {str(name)!r}{did_you_mean(str(name), known)}; "
                     f"known: {', '.join(sorted(known))}")


def find_id(name: object, where: str) -> Path:
    """The spec of an exercise that a submission names: by id only, never by path (see
    :mod:`grader.spec.catalog`)."""
    return catalog.find_id(name, where, exercises_folder())


def load_exercise(name: str | Path, student: str | None = None) -> Exercise:
    """The exercise named by path or bundled id; compiled once per file version and student
    (an Exercise is immutable, its arrays read-only, so a batch worker can share it). The file
    is read and checked against the schema once per version: a class with variants compiles
    each student's own copy of it, not the file again."""
    path = find(name)
    try:
        st = path.stat()
    except OSError:
        return load(path, student)
    secret = os.environ.get("GRADER_SECRET", "") if student is not None else ""
    return _load_cached(str(path.resolve()), st.st_mtime_ns, st.st_size, student, secret)


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, size: int, student: str | None, secret: str) -> Exercise:
    if student is None:
        return load(path)
    data, errors = _checked(path, mtime_ns, size)
    if errors:
        raise errors[0]
    return _compile(data, path, student, secret or None, validated=True)


@functools.lru_cache(maxsize=8)
def _checked(path: str, mtime_ns: int, size: int) -> tuple[Any, list[SpecError]]:
    """A spec file's parsed content and its schema errors, once per version (the content is
    only read: :func:`grader.variants.concrete` copies it)."""
    data = read_spec(path)
    return data, (validate(data, path) if isinstance(data, dict) and "variants" in data else [])
