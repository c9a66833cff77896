"""``grade validate``: every problem of a spec in one run.

Schema errors come first. Where they are confined to parts that can be set aside (an unknown
key, a bad optional value, one malformed question or function), those parts are set aside and
the rest is compiled too, so that a typo in one place does not hide a wrong name in another; the
compiler in turn checks every question even when the network has problems.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import jsonio
from ..errors import SpecError
from .compiler import _Compiler
from .schema import located

_REQUIRED = ("id", "network", "questions", "inputs")  # without these nothing further can be checked


def _delete(data: Any, path: list[Any]) -> list[Any] | None:
    """Remove the innermost object key on ``path`` from ``data``; the path removed, or None."""
    for cut in range(len(path), 0, -1):
        key, parent = path[cut - 1], data
        if not isinstance(key, str):
            continue
        try:
            for part in path[:cut - 1]:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(parent, dict) and key in parent:
            if cut == 1 and key in _REQUIRED:
                return None
            del parent[key]
            return path[:cut]
        return None
    return None


def _set_aside(data: Any, source: str, errors: list[tuple[list[Any], SpecError]]
               ) -> tuple[Any, frozenset[int], list[str]] | None:
    """A copy of ``data`` without its schema-invalid parts, the questions left out and the paths
    removed; None where the invalid part is the network, the data or the file's skeleton."""
    if not isinstance(data, dict):
        return None
    data = copy.deepcopy(data)
    skip: set[int] = set()
    removed: list[str] = []
    for _ in range(3):  # removing a key can make its parent invalid (a required key): go up
        for path, _error in errors:
            question = len(path) >= 2 and path[0] == "questions" and isinstance(path[1], int)
            if question and len(path) > 2:  # a bad key inside a question: drop the key, keep the question
                gone = _delete(data, path)
                if gone is not None and len(gone) > 2:
                    removed.append(jsonio.json_path(gone))
                    continue
            if question:
                skip.add(path[1])
                if isinstance(data.get("questions"), list) and path[1] < len(data["questions"]):
                    data["questions"][path[1]] = {"id": f"(set aside {path[1]})", "ask": "E"}
                continue
            if len(path) >= 2 and path[0] == "functions" and isinstance(data.get("functions"), dict):
                data["functions"].pop(path[1], None)
                removed.append(jsonio.json_path(path[:2]))
                continue
            gone = _delete(data, path)
            if gone is None:
                return None
            removed.append(jsonio.json_path(gone))
        errors = located(data, source)
        if not errors:
            return data, frozenset(skip), removed
    return None


def _path_of(error: SpecError, source: str) -> str:
    return str(error)[len(source) + 2:].split(": ", 1)[0]


def _near(path: str, removed: list[str]) -> bool:
    """Whether ``path`` lies inside or above a part that was set aside."""
    return any(path == r or path.startswith((r + ".", r + "[")) or r.startswith((path + ".", path + "["))
               for r in removed)


def _compile_problems(data: Any, source: str, skip: frozenset[int] = frozenset()) -> list[SpecError]:
    compiler = _Compiler(data, source, skip)
    try:
        compiler.compile()
        if "variants" in data:  # a variant must compile too: try one
            from .. import variants

            _Compiler(variants.concrete(data, 0, source), source, skip).compile()
    except SpecError as exc:
        return compiler.errors + ([] if exc in compiler.errors else [exc])
    return []


def check_spec(data: Any, source: str = "<spec>") -> list[SpecError]:
    """Every problem found: the schema errors, then the problems of the parts that can still be
    compiled (every bad question, parameter, layer entry and function)."""
    errors = located(data, source)
    if not errors:
        return _compile_problems(data, source)
    out = [e for _, e in errors]
    rest = _set_aside(data, source, errors)
    if rest is None:
        return out
    pruned, skip, removed = rest
    seen = {str(e) for e in out}
    for e in _compile_problems(pruned, source, skip):
        if str(e) not in seen and not _near(_path_of(e, source), removed):
            out.append(e)
            seen.add(str(e))
    return out
