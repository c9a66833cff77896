"""Reading a submission: a ``.py`` file or an ``.ipynb`` notebook, never run here.

The source is parsed (not executed) so that a syntax error is reported with its file and line
before any sandbox starts, and so that ``EXERCISE = "..."`` can be read statically.
"""

from __future__ import annotations

import ast
import io
import json
import marshal
import os
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import safefs
from .errors import SubmissionError, SubmissionSyntaxError

MAX_BYTES = 1024 * 1024
SUFFIXES = (".py", ".ipynb")

# Joined notebook code starts each cell with this line, so that a line number can be mapped
# back to its cell (the sandbox uses the same pattern for tracebacks).
CELL_MARKER = "# %% [cell {}]"
CELL_MARKER_RE = re.compile(r"^# %% \[cell (\d+)\]$")

# IPython syntax that is not Python: `%magic`, `!shell`, `x = %magic`, `x = !shell`, `obj?`.
_MAGIC = re.compile(r"^\s*(%|!)")
_ASSIGNED_MAGIC = re.compile(r"^\s*[\w.\[\], ]+=\s*(%|!)")
_HELP = re.compile(r"^\s*[\w.]+\?\??\s*$")


@dataclass(frozen=True)
class Source:
    path: Path
    code: str
    notes: tuple[str, ...]
    exercise: str | None
    # ``code`` parsed, for the grader's static checks (the loop check): not parsed again
    tree: ast.Module | None = field(default=None, compare=False, repr=False)
    # ``code`` compiled (the syntax check does it anyway), marshalled: the sandbox child runs
    # it without compiling the source again (see grader.sandbox)
    compiled: bytes | None = field(default=None, compare=False, repr=False)
    # the file lies among other students' files (a batch's file-per-student class folder): the
    # modules beside it are not its own, so none of them is a helper it may import
    alone: bool = False


def load_source(path: str | Path, root: str | Path | None = None, alone: bool = False) -> Source:
    """Read and syntax-check a submission; raises ``SubmissionError("<file>: …")``. The file is
    read without following links (see :mod:`grader.safefs`; ``root``: the folder it is taken from;
    ``alone``: see :attr:`Source.alone`)."""
    path = Path(path)
    if not os.path.lexists(path):
        raise SubmissionError(f"{path}: no such file")
    try:
        data = safefs.read_bytes(path, root, limit=MAX_BYTES)
    except safefs.Refused as exc:
        if exc.reason.startswith("larger than"):
            raise SubmissionError(f"{path}: larger than {MAX_BYTES // 1024} KiB") from None
        raise
    if path.suffix.lower() not in SUFFIXES:
        raise SubmissionError(f"{path}: not a Python file or notebook (expected .py or .ipynb)")
    if path.suffix.lower() == ".ipynb":
        code, notes, cell_of = _notebook_code(path, data)
    else:
        code, notes, cell_of = _decode_py(path, data), (), None
    exercise, tree, compiled = _check_and_read_exercise(path, code, cell_of)
    return Source(path=path, code=code, notes=tuple(notes), exercise=exercise, tree=tree, compiled=compiled,
                  alone=alone)


def _decode_py(path: Path, data: bytes) -> str:
    # PEP 263 cookies and a UTF-8 BOM are honoured, as Python itself would.
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"{path}: not readable as Python source text: {exc}") from None
    return text.removeprefix("\ufeff")


def _notebook_code(path: Path, data: bytes) -> tuple[str, list[str], list[tuple[int, int]]]:
    """Code cells joined in order; returns (code, notes, [(first line, cell number)])."""
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SubmissionError(f"{path}: not a valid notebook: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise SubmissionError(f"{path}: not a valid notebook: the top level is not an object")
    import nbformat  # imported here: only notebooks need it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat warns about missing cell ids; not our business
            nb = nbformat.from_dict(raw)
            if nb.get("nbformat", 0) != 4:
                nb = nbformat.convert(nb, 4)
            nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several unrelated types for a broken notebook
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SubmissionError(f"{path}: not a valid notebook: {detail[:300]}") from None
    parts: list[str] = []
    notes: list[str] = []
    cell_of: list[tuple[int, int]] = []
    line = 1
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        lines = src.splitlines()
        first = next((s for s in lines if s.strip()), "")
        if first.lstrip().startswith("%%"):
            notes.append(f"cell {number}: skipped IPython cell magic {first.strip()!r}")
            continue
        kept = []
        starts = _statement_starts(src)
        for lineno, s in enumerate(lines, start=1):
            m = _MAGIC.match(s) or _ASSIGNED_MAGIC.match(s)
            if (m or _HELP.match(s)) and (starts is None or lineno in starts):
                kind = "IPython help" if not m else ("shell command" if m.group(1) == "!" else "IPython magic")
                notes.append(f"cell {number}: skipped {kind} {s.strip()!r}")
                # `pass` keeps line numbers and keeps an indented block non-empty.
                kept.append(s[: len(s) - len(s.lstrip())] + "pass  # skipped: IPython syntax")
            else:
                kept.append(s)
        block = CELL_MARKER.format(number) + "\n" + "\n".join(kept) + "\n"
        cell_of.append((line, number))
        parts.append(block)
        line += block.count("\n") + 1
    return "\n".join(parts), notes, cell_of


def _statement_starts(src: str) -> set[int] | None:
    """Lines where a logical line starts, so that `% b` continuing an expression or a `!` inside a
    string is not taken for IPython syntax; None when the cell cannot be tokenized."""
    skip = {tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER}
    starts: set[int] = set()
    at_start = True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.NEWLINE:
                at_start = True
            elif tok.type not in skip and at_start:
                starts.add(tok.start[0])
                at_start = False
    except (tokenize.TokenError, SyntaxError):
        return None
    return starts


def _where(path: Path, lineno: int | None, cell_of: list[tuple[int, int]] | None) -> str:
    if lineno is None:
        return str(path)
    if not cell_of:
        return f"{path}:{lineno}"
    start, cell = max((c for c in cell_of if c[0] <= lineno), default=cell_of[0])
    return f"{path}: cell {cell}, line {lineno - start}"


def _check_and_read_exercise(path: Path, code: str, cell_of) -> tuple[str | None, ast.Module, bytes | None]:
    try:
        tree = ast.parse(code, filename=str(path))
        # as the child would compile it (its own flags, asserts kept); named by the file's name
        # alone: the folder it came from is none of the submission's business
        compiled = compile(tree, path.name, "exec", dont_inherit=True, optimize=0)
    except SyntaxError as exc:
        raise SubmissionSyntaxError(f"{_where(path, exc.lineno, cell_of)}: SyntaxError: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        # null bytes, or nesting too deep for the parser
        msg = str(exc) or type(exc).__name__
        raise SubmissionSyntaxError(f"{path}: cannot be compiled: {msg}") from None
    exercise = None
    for node in tree.body:  # top level only; the last assignment wins, as when run
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "EXERCISE" for t in targets):
            is_str = isinstance(value, ast.Constant) and isinstance(value.value, str)
            exercise = value.value if is_str else None
    try:
        data = marshal.dumps(compiled)
    except ValueError:  # an unmarshallable constant: the child compiles the source itself
        data = None
    return exercise, tree, data
