"""Exercises by id: the bundled ones and those in the instructor's directories.

A submission (``EXERCISE = "..."``) or an answers file (``"exercise": ...``) may name only an
*id*, never a path, so that a student cannot grade themselves against a spec they wrote. Ids
are looked up in the directories of ``--exercises-dir`` and ``GRADER_EXERCISES`` (colon-separated,
searched in order, the first one holding an id wins) and then among the bundled exercises.
Every ``*.json`` file directly in a directory answers to its ``id``, its ``aliases`` and its file
name without ``.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import SubmissionError
from .names import did_you_mean

ENV_DIRS = "GRADER_EXERCISES"


def exercise_dirs() -> list[Path]:
    """The instructor's exercise directories, in the order they are searched."""
    return [Path(p) for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p]


def add_dirs(dirs) -> None:
    """Search ``dirs`` first (``--exercises-dir``); kept in the environment, so that batch
    worker processes search them too."""
    if dirs:
        os.environ[ENV_DIRS] = os.pathsep.join([str(d) for d in dirs] + [str(p) for p in exercise_dirs()])


def ids_in(folder: Path) -> dict[str, Path]:
    """The exercise ids (and aliases, and file stems) of the spec files in one folder."""
    out: dict[str, Path] = {}
    try:
        entries = sorted(folder.iterdir(), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        if not entry.name.endswith(".json") or not entry.is_file():
            continue
        path = Path(str(entry))
        try:
            data = json.loads(entry.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        aliases = data.get("aliases") if isinstance(data.get("aliases"), list) else []
        for key in [data.get("id"), *aliases, path.stem]:
            if isinstance(key, str):
                out.setdefault(key, path)
    return out


def catalog(bundled_folder: Path) -> dict[str, Path]:
    """Every id that can be named: the instructor's directories first, then the bundled ones."""
    out: dict[str, Path] = {}
    for folder in [*exercise_dirs(), bundled_folder]:
        for key, path in ids_in(folder).items():
            out.setdefault(key, path)
    return out


def is_id(name: str) -> bool:
    """An id is a run of characters without whitespace or ``/`` (a name of the spec's namespace),
    and never a path: no directory separator, no ``.json`` suffix, not ``.`` or ``..``."""
    return (bool(name) and not any(c.isspace() for c in name) and "/" not in name and os.sep not in name
            and (os.altsep is None or os.altsep not in name) and not name.lower().endswith(".json")
            and name not in (".", ".."))


def find_id(name: object, where: str, bundled_folder: Path) -> Path:
    """The spec file of the exercise id a submission names; SubmissionError (exit 2) naming
    ``where`` (the file and the place in it) for a path or an unknown id."""
    known = catalog(bundled_folder)
    if not isinstance(name, str) or not is_id(name):
        raise SubmissionError(f"{where}: {name!r} is not an exercise id: a submission may name an exercise "
                              "only by id, never by a path (ask your instructor for the id)")
    if name not in known:
        raise SubmissionError(f"{where}: no exercise with id {name!r}{did_you_mean(name, known)}; "
                              f"known: {', '.join(sorted(known))}")
    return known[name]
