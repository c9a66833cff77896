"""What a submission brings beside itself (helper modules, read through :mod:`grader.safefs`)
and what its child must never see (the grader package, bundled exercises, keys)."""

from __future__ import annotations

import ast
import importlib.util
import keyword
import os
import re
import sys
from pathlib import Path

from .. import safefs
from ..submission import MAX_BYTES, Source

MAX_HELPERS, MAX_HELPER_BYTES = 32, 4 * MAX_BYTES


def secret_paths() -> tuple[list[str], list[str]]:
    """(deny, hide): what a child must never read (the grader package, bundled exercises, keys),
    and a source checkout holding them, hidden unless the interpreter lives inside it."""
    pkg = Path(__file__).resolve().parent.parent  # the grader package
    deny, hide = {pkg}, set()
    try:
        spec = importlib.util.find_spec("grader.exercises")
        for loc in (spec.submodule_search_locations or []) if spec else []:
            deny.add(Path(loc).resolve())
    except (ImportError, ValueError):
        pass
    root = pkg.parent
    if root.name not in ("site-packages", "dist-packages"):
        hide.add(root)
    try:
        bases = {root, Path.cwd().resolve()}
    except OSError:  # the current directory was removed
        bases = {root}
    for base in bases:
        for name in ("exercises", "solutions"):
            if (base / name).is_dir():
                deny.add((base / name).resolve())
    return sorted(map(str, deny)), sorted(map(str, hide))


def _module_name(stem: str) -> str:
    ok = stem.isidentifier() and not keyword.iskeyword(stem) and stem not in sys.builtin_module_names
    ok = ok and stem not in getattr(sys, "stdlib_module_names", ()) and stem not in ("numpy", "grader")
    return stem if ok else "submission"


_WORD = re.compile(r"\w+")


def _imported_names(code: str) -> set[str]:
    """Top-level module names a source imports (statically), for copying helpers beside it."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names = set()
    # imports are statements: only a call of import_module or __import__ needs every expression
    calls = "import_module" in code or "__import__" in code
    for node in (ast.walk(tree) if calls else _statements(tree.body)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module:
                names.add(node.module.split(".")[0])
            if node.level:
                names.update(a.name for a in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("import_module", "__import__"):
                names.add(node.args[0].value.lstrip(".").split(".")[0])
    return names


def _statements(body: list):
    """Every statement in ``body`` and in the blocks nested in it (functions, classes, loops,
    ``try``, ``with``, ``match``), without walking expressions."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                yield from _statements(inner)


def helper_files(source: Source) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The ``.py`` files beside the submission that it imports (transitively), and a note for
    each one refused (a symlink, a FIFO, …: read through :mod:`grader.safefs`, never followed).
    Only imported ones: a folder may hold other students' submissions too; none for a source
    that lies among them (:attr:`~grader.submission.Source.alone`)."""
    if source.alone:
        return [], []
    folder = source.path.parent
    try:  # most submissions sit alone, or import nothing beside them: no need to parse anything
        with os.scandir(folder) as entries:
            stems = {e.name[:-3] for e in entries if e.name.endswith(".py") and e.name != source.path.name}
    except OSError:
        return [], []
    if not stems or stems.isdisjoint(_WORD.findall(source.code)):  # a static import names its module
        return [], []
    found: dict[str, bytes] = {}
    refused: list[str] = []
    todo, total = [source.code], 0
    while todo:
        for name in sorted(_imported_names(todo.pop())):
            path = folder / f"{name}.py"
            if name in found or not name.isidentifier() or path.name == source.path.name \
                    or not os.path.lexists(path) or any(r.startswith(path.name + ":") for r in refused):
                continue
            try:
                data = safefs.read_bytes(path, folder, limit=MAX_BYTES)
            except safefs.Refused as exc:
                refused.append(f"{path.name}: not used: {exc.reason}")
                continue
            if len(found) >= MAX_HELPERS or total + len(data) > MAX_HELPER_BYTES:
                return sorted((f"{n}.py", d) for n, d in found.items()), refused
            found[name] = data
            total += len(data)
            todo.append(data.decode("utf-8", "replace"))
    return sorted((f"{n}.py", d) for n, d in found.items()), refused

