"""Which files of a class folder belong to which student, and what each file is for.

Every file a student handed in is accounted for: it is graded (one code file, one answers file),
used as a helper module (a ``.py`` beside the code that the code imports), or ignored with a
reason that the student's result and the batch summary list. Files are taken only as regular
files, never through a link (:mod:`grader.safefs` says why a file is refused).

Layouts (the student id is the file stem or the folder name):

- a file per student: ``DIR/alice.py``, ``DIR/bob.ipynb``, ``DIR/carol.json``; ``alice.py`` and
  ``alice.json`` side by side are one student's code and answers;
- a folder per student: ``DIR/alice/`` (Gradescope's ``submission_123/``, Moodle's
  ``Full Name_123_assignsubmission_file_/``): its code is ``submission.py``, else
  ``submission.ipynb``, else the one ``.py`` no other file imports (the first by name that defines
  something when there are several), else the one notebook; its answers are ``answers.json``,
  else the first ``.json`` by name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from . import safefs
from .errors import UsageError

CODE = (".py", ".ipynb")
SUFFIXES = (".py", ".ipynb", ".json")
CACHES = {"__pycache__", ".ipynb_checkpoints", ".git"}
METADATA = "submission_metadata.json"  # Gradescope's, beside the submission


@dataclass(frozen=True)
class Ignored:
    name: str  # the file's name relative to the class folder (or the student's folder)
    reason: str


@dataclass(frozen=True)
class Submission:
    """What one student handed in: at most one code file and one answers file."""

    student: str
    code: Path | None = None
    answers: Path | None = None
    helpers: tuple[Path, ...] = ()
    ignored: tuple[Ignored, ...] = ()
    own_folder: bool = False  # in a folder of its own (helpers beside it may be imported)

    @property
    def path(self) -> Path | None:
        """The main file (code first): what the result names as the submission."""
        return self.code or self.answers

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file whose bytes make up the submission (its hash)."""
        return tuple(p for p in (self.code, self.answers, *self.helpers) if p is not None)


@dataclass
class ClassFolder:
    submissions: list[Submission]
    ignored: list[Ignored] = field(default_factory=list)  # files of the class folder that are no one's


def _read_text(path: Path) -> str:
    try:
        return safefs.read_bytes(path, limit=1 << 20).decode("utf-8", "replace")
    except (safefs.Refused, OSError):
        return ""


def _imports(path: Path) -> set[str]:
    """Top-level module names a code file imports (statically)."""
    from .sandbox._files import _imported_names

    text = _read_text(path)
    if path.suffix == ".ipynb":
        from .submission import load_source

        try:
            text = load_source(path).code
        except Exception:  # noqa: BLE001 - a broken notebook imports nothing we can see
            return set()
    return _imported_names(text)


def _defines(path: Path) -> bool:
    """Does a ``.py`` define a function or ANSWERS at its top level (it is a submission)?"""
    try:
        tree = ast.parse(_read_text(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True  # a broken file may well be the submission: grade it and say why it fails
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ANSWERS" for t in node.targets):
            return True
    return False


def _helpers_of(code: Path, py: list[Path]) -> list[Path]:
    """The ``.py`` files beside ``code`` that it imports, transitively."""
    by_module = {p.stem: p for p in py if p != code}
    found: list[Path] = []
    todo = [code]
    while todo:
        for name in sorted(_imports(todo.pop())):
            p = by_module.pop(name, None)
            if p is not None:
                found.append(p)
                todo.append(p)
    return sorted(found)


def folder_submission(folder: Path, student: str | None = None, prefix: str = "",
                      root: Path | None = None) -> Submission:
    """The submission in one student's folder (reached from ``root`` without following links);
    ``prefix`` names ignored files (``alice/notes.txt``)."""
    student = student if student is not None else folder.name
    ignored: list[Ignored] = []
    files: list[Path] = []
    found = safefs.scan(folder, root)
    for p, why in found.refused:
        ignored.append(Ignored(prefix + p.name if p != folder else prefix.rstrip("/") or p.name, why))
    for p in found.dirs:
        if p.name not in CACHES:  # made by tools, not handed in
            ignored.append(Ignored(prefix + p.name, "a folder: only the files directly in the student's folder are read"))
    for p in found.files:
        why = None
        if p.name.startswith("."):
            why = "a hidden file"
        elif p.suffix not in SUFFIXES:
            why = "not a submission file (.py, .ipynb or .json)"
        elif p.name == METADATA:
            why = "Gradescope's submission metadata"
        if why is not None:
            ignored.append(Ignored(prefix + p.name, why))
        else:
            files.append(p)
    py = [p for p in files if p.suffix == ".py"]
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    jsons = [p for p in files if p.suffix == ".json"]
    imported = set()
    for p in py + notebooks:
        imported |= _imports(p)
    mains = [p for p in py if p.stem not in imported]
    code = next((p for p in files if p.name in ("submission.py", "submission.ipynb")), None)
    if code is None:
        code = next((p for p in mains if _defines(p)), None) or (mains or notebooks or py or [None])[0]
    helpers = _helpers_of(code, py) if code is not None else []
    for p in py + notebooks:
        if p == code or p in helpers:
            continue
        if code is not None and (p.suffix == ".ipynb" or (p in mains and _defines(p))):
            why = f"another code file: only {prefix}{code.name} is graded (name the one to grade submission.py)"
        else:
            why = f"a module that {prefix}{code.name if code else 'the submission'} does not import"
        ignored.append(Ignored(prefix + p.name, why))
    answers = next((p for p in jsons if p.name == "answers.json"), None) or (jsons or [None])[0]
    for p in jsons:
        if p != answers:
            ignored.append(Ignored(prefix + p.name, f"another answers file: only {prefix}{answers.name} is graded"))
    return Submission(student, code, answers, tuple(helpers), tuple(sorted(ignored, key=lambda i: i.name)),
                      own_folder=True)


def discover(folder: str | Path) -> ClassFolder:
    """Every student of a class folder (sorted by id), and the files that are no student's."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of submissions")
    subs: dict[str, Submission] = {}
    loose: dict[str, list[Path]] = {}
    refused: dict[str, list[Ignored]] = {}
    stray: list[Ignored] = []
    found = safefs.scan(folder)
    for entry in found.dirs:
        if entry.name not in CACHES and not entry.name.startswith("."):
            subs[entry.name] = folder_submission(entry, entry.name, entry.name + "/", root=folder)
    for entry, why in found.refused:
        if entry.suffix in SUFFIXES and not entry.name.startswith(".") and entry.name != METADATA:
            refused.setdefault(entry.stem, []).append(Ignored(entry.name, why))  # alice.py as a link: alice's row says why
        else:
            stray.append(Ignored(entry.name, why))
    for entry in found.files:
        if entry.name.startswith("."):
            stray.append(Ignored(entry.name, "a hidden file"))
        elif entry.name == METADATA or entry.suffix not in SUFFIXES:
            stray.append(Ignored(entry.name, "not a submission file (.py, .ipynb or .json)"))
        else:
            loose.setdefault(entry.stem, []).append(entry)
    for student in sorted(set(loose) | set(refused)):
        if student in subs:  # alice/ and alice.py: the folder is the submission
            stray += [Ignored(p.name, f"the folder {student}/ is this student's submission") for p in loose.get(student, [])]
            stray += refused.get(student, [])
            continue
        paths = sorted(loose.get(student, []), key=lambda p: SUFFIXES.index(p.suffix))
        code = next((p for p in paths if p.suffix in CODE), None)
        answers = next((p for p in paths if p.suffix == ".json"), None)
        ignored = list(refused.get(student, []))
        ignored += [Ignored(p.name, f"another code file: only {code.name} is graded")
                    for p in paths if p.suffix in CODE and p != code]
        subs[student] = Submission(student, code, answers, (), tuple(sorted(ignored, key=lambda i: i.name)))
    return ClassFolder([subs[k] for k in sorted(subs)], sorted(stray, key=lambda i: i.name))
