"""``grader.check`` inside a notebook: grade the functions defined so far, show the report there.

The functions are never run in the notebook's process for grading. Their source — from
``inspect.getsource`` (IPython keeps every cell's code), else from the cells in IPython's
history — and the source of the helper functions they call, the imports they use and the plain
numbers they read are put together into one small module, which the sandbox runs exactly as it
runs a submitted file. The report is :func:`grader.grading.grade_submission`'s, cut to the
functions asked about, and shows as HTML in Jupyter, JupyterLab, VS Code and Colab
(``_repr_html_``) and as the text report elsewhere.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import inspect
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

from .errors import GraderError
from .results import Results

_BUILTINS = frozenset(dir(builtins))
_CONSTANTS = (int, float, complex, bool, str, type(None))


# ---------------------------------------------------------------------------- the report object
class Report:
    """What ``grader.check`` returns: the graded results, or why grading was not possible. Jupyter
    shows it as HTML; ``print`` and a terminal show the text report."""

    def __init__(self, results: Results | None = None, problem: str = "", show_expected: bool = False):
        self.results = results
        self.problem = problem
        self._show = show_expected

    @property
    def score(self) -> float | None:
        return None if self.results is None else self.results.score

    @property
    def max_score(self) -> float | None:
        return None if self.results is None else self.results.max_score

    def __str__(self) -> str:
        from . import report

        if self.results is None:
            return f"grader.check: {self.problem}\n"
        return report.results_text(self.results, self._show)

    def __repr__(self) -> str:
        return str(self).rstrip("\n")

    def _repr_html_(self) -> str:
        import html

        from . import report

        if self.results is None:
            text = html.escape(self.problem)
            return (f'<div class="grader-report grader-problem" style="white-space:pre-wrap;color:#cf222e">'
                    f"<b>grader.check</b>: {text}</div>\n")
        return report.results_html(self.results, self._show)


# ---------------------------------------------------------------------------- where the code is
def _session(depth: int = 2) -> tuple[dict[str, Any], list[str]]:
    """The namespace and the executed cells of the running IPython session, else the caller's
    module globals (and no cells)."""
    ipython = sys.modules.get("IPython")  # imported by every notebook kernel; never imported here
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is not None:
        ns = shell.user_ns
        cells = [c if isinstance(c, str) else "" for c in ns.get("In", [])]
        return ns, cells
    frame = sys._getframe(depth)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("grader"):
        frame = frame.f_back
    return (frame.f_globals if frame is not None else {}), []


def _statement_source(cell: str, node: ast.stmt) -> tuple[str, int]:
    """A top-level statement's text (decorators included) and its first line (0-based) in the cell."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    lines = cell.splitlines()[first:node.end_lineno]
    return "\n".join(lines), first


def _cell_definitions(cells: list[str]) -> dict[str, tuple[str, int, int]]:
    """The latest top-level definition of every name in the history: name -> (source, cell, line)."""
    found: dict[str, tuple[str, int, int]] = {}
    for number, cell in enumerate(cells):
        try:
            tree = ast.parse(cell)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                text, line = _statement_source(cell, node)
                found[node.name] = (text, number, line)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and isinstance(node.value, ast.Lambda):
                text, line = _statement_source(cell, node)
                found[node.targets[0].id] = (text, number, line)
    return found


def _where_in_cells(text: str, cells: list[str]) -> tuple[int, int] | None:
    """The latest cell holding ``text`` and the line it starts at."""
    for number in range(len(cells) - 1, -1, -1):
        at = cells[number].find(text)
        if at >= 0:
            return number, cells[number].count("\n", 0, at)
    return None


def _free_names(text: str) -> list[str]:
    """Global names a definition reads (its own parameters and local names excepted), in order."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    bound, loads = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads.append(node.id) if isinstance(node.ctx, ast.Load) else bound.add(node.id))
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    top = tree.body[0] if tree.body else None
    own = getattr(top, "name", None)
    out = []
    for name in loads:
        if name not in out and (name not in bound or name == own) and name not in _BUILTINS and name != own:
            out.append(name)
    return out


@dataclasses.dataclass
class Collected:
    """The module put together for the sandbox, and what could not be included."""

    code: str
    defined: list[str]  # the exercise's functions that are in it
    notes: list[str]


def collect(namespace: dict[str, Any], cells: list[str], wanted: list[str]) -> Collected:
    """The source of the ``wanted`` functions the namespace defines, with the helper functions
    they call, the imports they use and the plain numbers and strings they read."""
    history = _cell_definitions(cells)
    imports: list[str] = []
    blocks: list[str] = []
    notes: list[str] = []
    done: set[str] = set()
    defined = [name for name in wanted if callable(namespace.get(name))]
    todo = [(name, None) for name in defined]
    while todo:
        name, user = todo.pop(0)
        if name in done or name not in namespace:
            continue
        done.add(name)
        obj = namespace[name]
        if isinstance(obj, types.ModuleType):
            imports.append(_import_module(name, obj))
        elif callable(obj) and getattr(obj, "__module__", None) not in (None, "__main__") \
                and not _from_notebook(obj):
            module, attr = obj.__module__, getattr(obj, "__name__", name)
            imports.append(f"from {module} import {attr}" + (f" as {name}" if attr != name else ""))
        elif callable(obj):
            block = _definition(name, obj, cells, history)
            if block is None:
                notes.append(f"the source of {name} was not found (define it in a cell of this notebook)")
                continue
            blocks.append(block)
            todo += [(n, name) for n in _free_names(block.split("\n", 1)[1])]
        elif isinstance(obj, _CONSTANTS) or (isinstance(obj, tuple) and all(isinstance(v, _CONSTANTS) for v in obj)):
            text = f"{name} = {obj!r}"
            if len(text) <= 10_000:
                imports.append(text)
        elif user is not None:
            notes.append(f"{user} uses {name}, a {type(obj).__name__} of the notebook: the sandbox gets only "
                         "functions, imports and plain numbers, so define it inside the function")
    code = "\n".join(imports) + "\n\n" + "\n\n".join(blocks) + "\n"
    return Collected(code, defined, notes)


def _from_notebook(obj: Any) -> bool:
    code = getattr(obj, "__code__", None)
    filename = getattr(code, "co_filename", "")
    return filename.startswith("<ipython-input") or "ipykernel_" in filename or "<cell" in filename


def _import_module(name: str, module: types.ModuleType) -> str:
    real = module.__name__
    if real == name:
        return f"import {real}"
    return f"import {real} as {name}"


def _definition(name: str, obj: Any, cells: list[str], history: dict[str, tuple[str, int, int]]) -> str | None:
    """One definition as a block of the module: a cell marker (so that tracebacks name the cell,
    In [N]) and the lines that put the definition at its own line of that cell."""
    try:
        text = textwrap.dedent(inspect.getsource(obj)).rstrip()
    except (OSError, TypeError):
        text = None
    where = _where_in_cells(text, cells) if text else None
    if text is None and name in history:
        text, number, line = history[name]
        where = (number, line)
    if text is None:
        return None
    if getattr(obj, "__name__", name) != name and not text.lstrip().startswith(name):
        text += f"\n{name} = {obj.__name__}"
    number, line = where if where is not None else (0, 0)
    return f"# %% [cell {number}]\n" + "\n" * line + text


# ---------------------------------------------------------------------------- check
def _sandbox_problem(reason: str, exercise: str) -> str:
    return (f"the sandbox cannot start here, so the code was not run: {reason}.\n"
            f"Grade from the command line instead: save the notebook (say as notebook.ipynb) and run\n"
            f"    grade notebook.ipynb --exercise {exercise}\n"
            "on a Linux machine with the grader installed (pip install backprop-grader), or download it from Colab first.")


def check(exercise: str | None = None, function: str | None = None, *, answers: dict | None = None,
          show_expected: bool = False, isolation: str = "best-effort", _depth: int = 2) -> Report:
    """Grade, from a notebook, the exercise's functions defined so far (or only ``function``), or
    typed ``answers``; the report shows as HTML in the notebook.

    ``exercise`` is an exercise id (``"tutorial-4"``) or a spec path; default: ``EXERCISE`` in
    the notebook, else the bundled default. ``answers`` maps question ids to numbers, lists or
    formulas, as an answers file does. Nothing is graded in the notebook's own process: the
    functions run in the sandbox, as ``grade notebook.ipynb`` runs them.
    """
    from . import grading, spec

    namespace, cells = _session(_depth)
    name = exercise or (namespace.get("EXERCISE") if isinstance(namespace.get("EXERCISE"), str) else None)
    warnings = [] if name else [f"no exercise named: graded against the bundled default {grading.DEFAULT_EXERCISE!r}"]
    name = name or grading.DEFAULT_EXERCISE
    try:
        if answers is not None:
            return Report(_grade_answers(name, answers, warnings, show_expected), show_expected=show_expected)
        ex = spec.load_exercise(name)
        return _grade_functions(ex, name, function, namespace, cells, warnings, show_expected, isolation)
    except GraderError as exc:
        return Report(problem=str(exc))


def _grade_answers(name: str, answers: Any, warnings: list[str], show: bool) -> Results:
    from . import answer_grade, compare, grading, jsonio, mistakes, spec
    from .errors import AnswersError

    try:  # numpy values become plain JSON data first, as an answers file would hold
        plain = jsonio.loads(_json(answers))
    except (TypeError, ValueError, jsonio.StrictJSONError) as exc:
        raise AnswersError(f"answers: cannot be read as an answers file: {exc}") from None
    data, _ = compare.answers_object(plain, "answers")
    ex = spec.load_exercise(name)
    results = answer_grade.grade_answers(ex, data, grading.reference(ex), reveal=show, warnings=tuple(warnings),
                                    diagnose=mistakes.diagnose, diagnose_all=mistakes.diagnose_answers)
    return dataclasses.replace(results, extra=grading.audit(ex, ex.variant_seed))


def _json(value: Any) -> str:
    import json

    def plain(v: Any) -> Any:
        if hasattr(v, "tolist"):  # numpy arrays and scalars
            return v.tolist()
        raise TypeError(f"a {type(v).__name__} is not a number, a list or a formula")
    return json.dumps(value, default=plain, allow_nan=True)


def _grade_functions(ex: Any, name: str, function: str | None, namespace: dict, cells: list[str],
                     warnings: list[str], show: bool, isolation: str) -> Report:
    from . import grading, spec, submission
    from .errors import SandboxUnavailable

    names = [f.name for f in ex.functions]
    if not names:
        return Report(problem=f"exercise {ex.id!r} asks for no functions: grade typed answers with "
                              f"grader.check({name!r}, answers={{...}})")
    if function is not None and function not in names:
        return Report(problem=f"exercise {ex.id!r} has no function {function!r}{spec.did_you_mean(function, names)}; "
                              f"its functions are {', '.join(names)}")
    wanted = [function] if function else names
    got = collect(namespace, cells, wanted)
    if not got.defined:
        which = function or " or ".join(names)
        return Report(problem=f"{which} is not defined in this notebook yet: run the cell that defines it, "
                              "then grader.check again")
    source = submission.Source(Path.cwd() / "notebook.ipynb", got.code, tuple(got.notes), ex.id)
    try:
        results = grading.grade_submission(source.path, exercise=name, reveal=show, isolation=isolation,
                                           source=source)
    except SandboxUnavailable as exc:
        return Report(problem=_sandbox_problem(str(exc), name))
    keep = set(got.defined)
    tests = tuple(t for t in results.tests if t.id.split("/")[0] in keep
                  and (t.id != "backward/self-consistency" or {"forward", "backward"} <= keep))
    skipped = [n for n in names if n not in keep and function is None]
    notes = list(warnings) + [w for w in results.warnings if not w.startswith("no ANSWERS defined")]
    if skipped:
        notes.append(f"not defined yet, so not graded: {', '.join(skipped)}")
    score = round(sum(t.score for t in tests), 6)
    total = round(sum(t.max_score for t in tests), 6)
    return Report(dataclasses.replace(results, score=score, max_score=total, tests=tests, warnings=tuple(notes)),
                  show_expected=show)
