"""Whole-class grading: every submission of a folder, in parallel worker processes.

Layouts (the student id is the file stem or the folder name):

- a file per student: ``DIR/alice.py``, ``DIR/bob.ipynb``, ``DIR/carol.json`` (an answers file);
- a folder per student: ``DIR/alice/`` holding one submission (``submission.py`` first, else the one
  ``.py``, ``.ipynb`` or ``.json`` there; helper modules beside it are allowed); Gradescope's
  export (``submission_123/``) and Moodle's (``Full Name_123_assignsubmission_file_/``) are of
  this kind.

Each result is written atomically to ``OUT/results/<id>.json`` as soon as it is graded, with the
submission's hash; ``--resume`` regrades only what is missing or changed. The gradebook and the
summary are always rebuilt from those files, so an interrupted run resumed ends in the same
bytes as a run that was never interrupted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import statistics
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import report
from .errors import GraderError, UsageError
from .results import Results, TestResult

SUFFIXES = (".py", ".ipynb", ".json")
SKIP = {"__pycache__", ".ipynb_checkpoints", ".git"}


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path


@dataclass(frozen=True)
class BatchSummary:
    graded: int  # graded in this run
    reused: int  # results kept from an earlier run (--resume)
    total: int
    out: Path
    text: str  # the summary, as written to OUT/summary.txt
    workers: str = ""  # with --scheduler: each dask worker's sandbox layers (also OUT/workers.txt)


def _pick(folder: Path) -> Path | None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith(".")
                   and p.name != "submission_metadata.json")  # Gradescope's, not the student's
    for name in ("submission.py", "submission.ipynb", "answers.json"):
        if (folder / name) in files:
            return folder / name
    for suffix in SUFFIXES:
        found = [p for p in files if p.suffix == suffix]
        if len(found) == 1 or (found and suffix != ".py"):
            return found[0]
    py = [p for p in files if p.suffix == ".py"]
    return py[0] if py else None


def discover(folder: str | Path) -> list[Submission]:
    """The submissions of a class folder, sorted by student id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of submissions")
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name in SKIP or entry.name.startswith("."):
            continue
        if entry.is_dir():
            chosen = _pick(entry)
            if chosen is not None:
                found[entry.name] = Submission(entry.name, chosen)
        elif entry.suffix in SUFFIXES and entry.name != "submission_metadata.json":
            student = entry.stem
            kept = found.get(student)
            # alice.py and alice.json: keep the code (it may hold ANSWERS too), then the notebook
            if kept is None or SUFFIXES.index(entry.suffix) < SUFFIXES.index(kept.path.suffix):
                found[student] = Submission(student, entry)
    return [found[k] for k in sorted(found)]


def _digest(path: Path, alone: bool = False) -> str:
    """The submission's bytes and, in a folder of its own, those of the modules beside it that it
    may import. A file-per-student submission (``alone``) is graded alone: its classmates' files
    are not part of it."""
    h = hashlib.sha256()
    folder = path.parent if path.suffix in (".py", ".ipynb") and not alone else None
    files = sorted(folder.glob("*.py")) if folder is not None and path.parent.is_dir() else [path]
    for f in [path, *[f for f in files if f != path]]:
        try:
            data = f.read_bytes()
        except OSError as exc:  # an unreadable file is graded (and fails) like any other
            data = f"unreadable: {exc.strerror}".encode()
        h.update(f.name.encode() + b"\0" + data + b"\0")
    return h.hexdigest()


def _failed(exercise: str, message: str, code: bool) -> Results:
    """A submission that could not be graded at all still gets a result (and a row) worth 0 of
    what a submission of its kind can earn."""
    from . import spec

    try:
        ex = spec.load_exercise(exercise)
    except GraderError:
        return Results(exercise, 0.0, 0.0, (TestResult("submission", "submission", 0.0, 0.0, "invalid", message),))
    from .grading import audit

    top = ex.max_score
    if code and ex.functions:
        top = float(sum(f.points + (f.vectorized_points if f.vectorized else 0) for f in ex.functions))
    return Results(ex.id, 0.0, top, (TestResult("submission", "submission", 0.0, top, "invalid", message),),
                   extra=audit(ex, ex.variant_seed))  # names the spec's hash like every result


# ---------------------------------------------------------------------------- workers
_BOX: Any = None


def _init_worker(isolation: str) -> None:
    global _BOX
    from .sandbox import Sandbox

    _BOX = Sandbox(isolation)


def grade_one(path: str, exercise: str, isolation: str = "best-effort", student: str | None = None) -> dict[str, Any]:
    """Grade one submission in this worker (``student``'s variant where the exercise has
    variants); never raises for a bad submission."""
    from . import grading

    try:
        if path.endswith(".json"):
            r = grading.grade_answers_file(path, exercise, student=student)
        else:
            global _BOX
            if _BOX is None:
                _init_worker(isolation)
            r = grading.grade_submission(path, exercise, isolation=isolation, box=_BOX, student=student)
    except GraderError as exc:
        r = _failed(exercise, str(exc), not path.endswith(".json"))
    except Exception as exc:  # a bug of ours must not stop the class: record it and go on
        r = _failed(exercise, f"internal error while grading: {type(exc).__name__}: {exc}", not path.endswith(".json"))
    data = report.results_data(r)
    given = {t.id: t.got for t in r.tests if t.got is not None}  # typed answers, for shared-answer detection
    if given and student is not None:
        data["answers"] = given
    return data


# ---------------------------------------------------------------------------- the batch
def run(folder: str | Path, exercise: str, out: str | Path | None = None, jobs: int | None = None,
        resume: bool = False, isolation: str = "best-effort",
        progress: Callable[[int, int], None] | None = None, lms: Any = None,
        scheduler: str | None = None) -> BatchSummary:
    """Grade every submission of ``folder`` against ``exercise``; write results, gradebook, summary.

    ``lms`` (:class:`grader.lms.course.Options`): a roster, LMS gradebooks, late penalties, overrides.
    ``scheduler``: grade on a dask cluster (:mod:`grader.distributed`) instead of local processes."""
    from . import spec
    from .lms.course import Course, Options

    ex = spec.load_exercise(exercise)  # fail early, once, on a bad exercise
    subs = discover(folder)

    # a bad roster, times or overrides file stops the run before anything is graded
    course = Course(lms if lms is not None else Options(), ex, folder, [s.student for s in subs])
    out = Path(out) if out is not None else Path(str(Path(folder).resolve()) + "-grades")
    results_dir = out / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    todo, reused = [], 0
    lone = lambda s: s.path.parent.resolve() == Path(folder).resolve()  # a file per student
    for s in subs:
        target = results_dir / f"{s.student}.json"
        if resume and target.exists():
            try:
                old = json.loads(target.read_text("utf-8"))
                if old.get("submission_sha256") == _digest(s.path, lone(s)):
                    reused += 1
                    continue
            except (OSError, ValueError):
                pass
        todo.append(s)
    jobs = max(1, jobs or os.cpu_count() or 1)
    done = 0
    # each student is graded on their own variant when the exercise has variants and the course
    # secret is set; without the secret everyone gets the exercise as written (the summary says so)
    from .variants import SECRET_ENV

    per_student = "variants" in ex.raw and bool(os.environ.get(SECRET_ENV))
    student_of = (lambda s: s.student) if per_student else (lambda s: None)
    if per_student:  # the matched person's variant (the submission's name without a roster)
        student_of = lambda s: course.student_key(s.student)

    def save(s: Submission, data: dict[str, Any]) -> None:
        nonlocal done
        staged = str(staging / s.student / s.path.name)
        if lone(s) and s.path.suffix != ".json":  # messages name the student's file, not its staged copy
            data = json.loads(json.dumps(data).replace(json.dumps(staged)[1:-1], json.dumps(str(s.path))[1:-1]))
        data = {"student": s.student, "submission": s.path.name, "submission_sha256": _digest(s.path, lone(s)), **data}
        report.write_atomic(results_dir / f"{s.student}.json", report.dumps(data))
        done += 1
        if progress:
            progress(done, len(todo))

    staging = out / ".staging"

    def alone(s: Submission) -> str:
        """A file-per-student submission is graded from a folder of its own, so that it cannot
        ``import`` a classmate's file that lies beside it."""
        if s.path.parent.resolve() != Path(folder).resolve() or s.path.suffix == ".json":
            return str(s.path)
        target = staging / s.student / s.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(s.path, target)
        except OSError:
            return str(s.path)  # unreadable: grading it reports why
        return str(target)

    global _BOX
    workers = ""
    if scheduler is not None:  # on a dask cluster (grader/distributed.py), submissions sent as bytes
        from . import distributed

        try:
            with distributed.Cluster(scheduler, spec.find(exercise), isolation,
                                     distributed.required_layers(isolation)) as cluster:
                for s, data in cluster.grade(todo, student_of, lone, str(spec.find(exercise))):
                    if not isinstance(data, dict):  # not sendable as it is: graded here, as locally
                        data = (grade_one(alone(s), str(exercise), isolation, student_of(s)) if data is None else
                                report.results_data(_failed(str(exercise), data, s.path.suffix != ".json")))
                    save(s, data)
                workers = cluster.workers_text()
        finally:
            if _BOX is not None:
                _BOX.close()
                _BOX = None
        report.write_atomic(out / "workers.txt", workers)
    elif jobs == 1 or len(todo) <= 1:
        try:
            for s in todo:
                save(s, grade_one(alone(s), str(exercise), isolation, student_of(s)))
        finally:  # the worker started here must not outlive the run
            if _BOX is not None:
                _BOX.close()
                _BOX = None
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), initializer=_init_worker,
                                 initargs=(isolation,)) as pool:
            futures = {pool.submit(grade_one, alone(s), str(exercise), isolation, student_of(s)): s for s in todo}
            for fut in as_completed(futures):
                s = futures.pop(fut)  # let each result go once it is saved
                try:
                    data = fut.result()
                except Exception as exc:  # a worker that died (killed by a hostile child, OOM)
                    data = report.results_data(_failed(str(exercise), f"the grading worker died: {type(exc).__name__}",
                                                       s.path.suffix != ".json"))
                save(s, data)
    shutil.rmtree(staging, ignore_errors=True)
    rows = [json.loads((results_dir / f"{s.student}.json").read_text("utf-8")) for s in subs]
    finished = course.finish(ex, subs, rows)
    for data, old in zip(finished.rows, rows, strict=False):  # the result shows overrides, lateness
        if data != old:
            report.write_atomic(results_dir / f"{data['student']}.json", report.dumps(data))
    graded = finished.rows[:len(rows)]  # the summary's statistics are of final scores
    rows, columns, lms_lines = finished.rows, finished.columns, finished.lines
    for name, content in finished.files.items():
        report.write_atomic(out / name, content)
    report.write_atomic(out / "gradebook.csv", gradebook_csv(rows, columns))
    from .grading import audit

    label = report.exercise_label(Results(ex.id, 0.0, 0.0, (), extra=audit(ex)))
    text = summary_text(label, graded) + "".join(line + "\n" for line in lms_lines)
    if "variants" in ex.raw:
        text += ("\nEach student was graded on their own variant.\n" if per_student else
                 f"\nThe exercise has per-student variants, but {SECRET_ENV} is not set: "
                 "everyone was graded on the exercise as written.\n")
    report.write_atomic(out / "summary.txt", text)
    return BatchSummary(len(todo), reused, len(subs), out, text, workers)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for t in r["tests"]:
            if t["id"] not in cols:
                cols.append(t["id"])
    return cols


def _num(x: float) -> str:
    return format(round(float(x), 4), "g")


def gradebook_csv(rows: list[dict[str, Any]], extra: list[tuple[str, Callable[[dict], str]]] = ()) -> str:
    """Student id, score, max, percent, the ``extra`` columns (roster, lateness, overrides: header
    and a function of the row), then one column per question or case (its points)."""
    cols = _columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "score", "max_score", "percent", *(h for h, _ in extra), *cols])
    for r in rows:
        by_id = {t["id"]: t["score"] for t in r["tests"]}
        w.writerow([r["student"], _num(r["score"]), _num(r["max_score"]), _num(r["percent"]),
                    *(f(r) for _, f in extra), *(_num(by_id[c]) if c in by_id else "" for c in cols)])
    return buf.getvalue()


def _histogram(percents: list[float]) -> Iterator[str]:
    bins = [0] * 10
    for p in percents:
        bins[min(9, int(p // 10))] += 1
    width = max(bins) or 1
    for k, n in enumerate(bins):
        label = f"{k * 10:3d}-{k * 10 + 9 if k < 9 else 100:<3d}%"
        yield f"  {label} {'#' * round(30 * n / width):<30} {n}"


def summary_text(exercise: str, rows: list[dict[str, Any]]) -> str:
    """Count, mean, median, min, max, a text histogram, and the questions most often wrong."""
    percents = [float(r["percent"]) for r in rows]
    lines = [f"Exercise: {exercise}", f"Submissions: {len(rows)}"]
    if percents:
        lines += [
            f"Mean: {statistics.fmean(percents):.1f}%   Median: {statistics.median(percents):.1f}%   "
            f"Min: {min(percents):.1f}%   Max: {max(percents):.1f}%",
            "", "Scores:", *_histogram(percents),
        ]
        wrong: dict[str, int] = {}
        names: dict[str, str] = {}
        for r in rows:
            for t in r["tests"]:
                names.setdefault(t["id"], t["name"])
                if t["status"] != "passed":
                    wrong[t["id"]] = wrong.get(t["id"], 0) + 1
        top = sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        if top:
            lines += ["", "Most often not passed:"]
            lines += [f"  {n:4d} / {len(rows)}  {names[k]}" for k, n in top]
    return "\n".join(lines) + "\n"
