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
import stat
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
    """The exercise ids (and aliases, and file stems) of the spec files in one folder. Read again
    only when a spec file in it changed: a batch looks its exercise up once per student, and
    reading and parsing every spec each time cost more than grading a correct submission's
    typed answers."""
    try:
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if e.name.endswith(".json")), key=lambda e: e.name)
            # the folder and each spec as they are now (a rewritten file has a new ctime)
            signature = tuple((e.name, *_version(e)) for e in entries)
    except OSError:
        return {}
    key = str(folder)
    held = _IDS.get(key)
    if held is not None and held[0] == signature:
        return dict(held[1])
    out = _read_ids(folder, [e.name for e, version in zip(entries, signature, strict=True) if version[1] is not None])
    if len(_IDS) >= 16:
        _IDS.clear()
    _IDS[key] = (signature, out)
    return dict(out)


_IDS: dict[str, tuple[tuple, dict[str, Path]]] = {}  # folder -> (its specs' versions, their ids)


def _version(entry: os.DirEntry) -> tuple:
    """(inode, mtime, ctime, size) of a regular file (following a link, as reading it does), or
    (None, ...) for anything else."""
    try:
        st = entry.stat()
    except OSError:
        return (None, None, None, None)
    if not stat.S_ISREG(st.st_mode):
        return (None, None, None, None)
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def _read_ids(folder: Path, names: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name in names:
        path = folder / name
        try:
            data = json.loads(path.read_text("utf-8"))
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
