"""Whole-class grading: every student of a folder, in parallel worker processes.

Which files are whose is :mod:`grader.discover`; the class-wide outputs are :mod:`grader.gradebook`.
Each result is written atomically to ``OUT/results/<id>.json`` as soon as it is graded, with
what it was graded from (the submission's hash, the exercise's sha256, the grader version and the
student's variant seed); ``--resume`` reuses a result only when all of those are unchanged. The
gradebook and the summary are always rebuilt from those files, so an interrupted run resumed ends
in the same bytes as a run that was never interrupted.

Interrupts: the first SIGINT (Ctrl-C) or SIGTERM stops the workers (SIGTERM, then SIGKILL after
half a second) and raises :class:`KeyboardInterrupt` (exit 130 in the CLI);
every result saved before stays. A second one exits at once. Pool workers ignore SIGINT (a
terminal sends it to the whole foreground group): only this process decides.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import queue
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import gradebook, interrupts, report, safefs
from .batch_worker import WORKER_DIED, _init_worker, _kill_box, grade_one
from .discover import ClassFolder, Submission, discover
from .results import Results

@dataclass(frozen=True)
class BatchSummary:
    graded: int  # graded in this run
    reused: int  # results kept from an earlier run (--resume)
    total: int
    out: Path
    text: str  # the summary, as written to OUT/summary.txt
    workers: str = ""  # with --scheduler: each dask worker's sandbox layers (also OUT/workers.txt)


# ---------------------------------------------------------------------------- what a result depends on
def digest(sub: Submission) -> str:
    """The bytes of every file of the submission (code, answers, helpers) with their names, and
    the names and reasons of the files ignored (the result lists them)."""
    h = hashlib.sha256()
    for f in sub.files:
        try:
            data = safefs.read_bytes(f)
        except (safefs.Refused, OSError) as exc:  # an unreadable file is graded (and fails) like any other
            data = f"unreadable: {getattr(exc, 'reason', None) or exc}".encode()
        h.update(f.name.encode() + b"\0" + data + b"\0")
    for i in sub.ignored:
        h.update(b"ignored\0" + i.name.encode() + b"\0" + i.reason.encode() + b"\0")
    return h.hexdigest()


def resume_key(ex: Any, student: str, per_student: bool) -> dict[str, Any]:
    """The grading conditions a saved result must match to be reused: the exercise's sha256, the
    grader version and the student's variant seed (never the course secret itself)."""
    from . import grading
    from .variants import SECRET_ENV, seed

    variant = seed(ex.raw["id"], student, os.environ[SECRET_ENV]) if per_student else None
    return dict(grading.audit(ex, variant))


def reusable(target: Path, sub: Submission, key: dict[str, Any]) -> bool:
    try:
        old = json.loads(target.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    extra = old.get("extra_data") if isinstance(old, dict) else None
    died = any(isinstance(t, dict) and str(t.get("feedback", "")).startswith(WORKER_DIED)
               for t in old.get("tests", ())) if isinstance(old, dict) else False
    return (isinstance(extra, dict) and old.get("submission_sha256") == digest(sub) and not died
            and all(extra.get(k) == v for k, v in key.items()))


# ---------------------------------------------------------------------------- rows
def files_data(sub: Submission, root: Path) -> dict[str, Any]:
    """What each file of the student was used for, named relative to the class folder."""
    rel = lambda p: p.relative_to(root).as_posix() if p is not None else None  # noqa: E731
    return {"code": rel(sub.code), "answers": rel(sub.answers), "helpers": [rel(p) for p in sub.helpers],
            "ignored": [{"file": i.name, "reason": i.reason} for i in sub.ignored]}


def result_record(sub: Submission, root: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The saved per-student result: who, from which files, then the results object."""
    return {"student": sub.student, "submission": sub.path.name if sub.path else None,
            "files": files_data(sub, root), "submission_sha256": digest(sub), **data}


IN_FLIGHT = 4  # submissions per pool worker handed to the pool ahead of their turn
MAX_SHARED = 100_000  # distinct test entries kept for sharing (a class of wrong answers is all distinct)


def read_rows(results_dir: Path, subs: list[Submission]) -> list[dict[str, Any]]:
    """Every student's saved result, for the class-wide outputs. A test entry equal to one read
    before (the same id, name, score, status and feedback: every correct student's) is that same
    dict, so the class's rows take a few KB each rather than one dict per test per student. The
    outputs build new dicts where they change one (``lms.adjust``), never editing one in place."""
    shared: dict[tuple, dict[str, Any]] = {}

    def entry(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if not any(k == "status" for k, _ in pairs) or not all(isinstance(v, (str, int, float, bool, type(None)))
                                                               for _, v in pairs):
            return dict(pairs)
        # the type and repr too: 1, 1.0 and True (or 0.0 and -0.0) are equal keys, but are not
        # written alike
        key = tuple((k, v) if type(v) is str else (k, type(v).__name__, repr(v)) for k, v in pairs)
        found = shared.get(key)
        if found is None:
            found = dict(pairs)
            if len(shared) < MAX_SHARED:
                shared[key] = found
        return found

    return [json.loads((results_dir / f"{s.student}.json").read_text("utf-8"), object_pairs_hook=entry) for s in subs]


# ---------------------------------------------------------------------------- interrupts
def _processes(pool: ProcessPoolExecutor | None) -> list[Any]:
    return list((getattr(pool, "_processes", None) or {}).values())  # no public way to reach them


def _stop_pool(pool: ProcessPoolExecutor | None, grace: float = 0.5) -> None:
    """Stop the pool's workers: SIGTERM (each closes its sandbox), SIGKILL after ``grace``."""
    if pool is None:
        return
    procs = _processes(pool)
    for p in procs:
        if p.is_alive():
            try:
                p.terminate()
            except OSError:
                pass
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(max(0.0, deadline + 0.5 - time.monotonic()))
    pool.shutdown(wait=False, cancel_futures=True)  # its threads end on their own: we do not wait


# ---------------------------------------------------------------------------- the batch
def _tidy(results_dir: Path, students: set[str]) -> list[str]:
    """Remove temp files of a killed write; move the results of students who are no longer in
    the folder to ``results/removed/`` (and back out of it for those who came back)."""
    removed_dir = results_dir / "removed"
    for p in results_dir.glob(".*"):
        if p.is_file():
            p.unlink(missing_ok=True)
    for p in sorted(results_dir.glob("*.json")):
        if p.stem not in students:
            removed_dir.mkdir(exist_ok=True)
            os.replace(p, removed_dir / p.name)
    if removed_dir.is_dir():
        for p in removed_dir.glob("*.json"):
            if p.stem in students:
                p.unlink()
    return sorted(p.stem for p in removed_dir.glob("*.json")) if removed_dir.is_dir() else []


def run(folder: str | Path, exercise: str, out: str | Path | None = None, jobs: int | None = None,
        resume: bool = False, isolation: str = "best-effort",
        progress: Callable[[int, int], None] | None = None, lms: Any = None,
        scheduler: str | None = None) -> BatchSummary:
    """Grade every student of ``folder`` against ``exercise``; write results, gradebook, summary.

    ``progress(done, total)`` is called after each result saved. ``lms``
    (:class:`grader.lms.course.Options`): a roster, LMS gradebooks, late penalties, overrides.
    ``scheduler``: grade on a dask cluster (:mod:`grader.distributed`) instead of local processes."""
    from . import spec
    from .lms.course import Course, Options
    from .variants import SECRET_ENV

    pool: ProcessPoolExecutor | None = None

    def tidy() -> None:  # a second Ctrl-C: leave now, tidy what can be tidied in no time
        for p in _processes(pool):
            try:
                os.kill(p.pid, signal.SIGKILL)
            except OSError:
                pass
        _kill_box()

    with interrupts.handled(tidy):  # from the start: an interrupt while the exercise loads is one too
        ex = spec.load_exercise(exercise)  # fail early, once, on a bad exercise
        # the workers get its file, not the id: an id is looked up by reading every spec of the
        # exercise directories, which would be done again for each submission
        ex_file = str(spec.find(exercise))
        root = Path(folder)
        found: ClassFolder = discover(root)
        subs = found.submissions
        # a bad roster, times or overrides file stops the run before anything is graded
        course = Course(lms if lms is not None else Options(), ex, folder, [s.student for s in subs])
        out = Path(out) if out is not None else Path(str(root.resolve()) + "-grades")
        results_dir = out / "results"
        results_dir.mkdir(parents=True, exist_ok=True)
        removed = _tidy(results_dir, {s.student for s in subs})
        # each student is graded on their own variant when the exercise has variants and the course
        # secret is set; without the secret everyone gets the exercise as written (the summary says so)
        per_student = "variants" in ex.raw and bool(os.environ.get(SECRET_ENV))
        # the matched person's variant (the submission's name without a roster)
        student_of = (lambda s: course.student_key(s.student)) if per_student else (lambda s: None)
        keys = {s.student: resume_key(ex, student_of(s), per_student) for s in subs}
        todo = [s for s in subs if not (resume and reusable(results_dir / f"{s.student}.json", s, keys[s.student]))]
        reused = len(subs) - len(todo)
        # each student's key, solved with a chunk of classmates' and sent with the submission
        from .variant_keys import ClassKeys

        key_of = ClassKeys(ex_file, [student_of(s) for s in todo]) if per_student else (lambda student: None)
        done = 0

        def save(s: Submission, data: dict[str, Any]) -> None:
            nonlocal done
            report.write_atomic(results_dir / f"{s.student}.json", report.dumps(result_record(s, root, data)))
            done += 1
            if progress:
                progress(done, len(todo))

        def parts(s: Submission) -> tuple:
            """grade_one's arguments. A file-per-student submission is graded ``alone``: the files
            beside it are its classmates', and it cannot ``import`` one of them (nothing is copied:
            a file made and removed per student was most of this process's system time)."""
            code = str(s.code) if s.code is not None else None
            answers = str(s.answers) if s.answers is not None else None
            return (code, answers, ex_file, isolation, student_of(s), tuple((i.name, i.reason) for i in s.ignored),
                    not s.own_folder, key_of(student_of(s)))

        workers = ""
        try:
            if jobs is None:
                jobs = os.cpu_count() or 1
            if scheduler is not None:  # on a dask cluster (grader/distributed.py), submissions sent as bytes
                workers = _on_cluster(scheduler, exercise, isolation, todo, student_of, key_of, parts, save)
                report.write_atomic(out / "workers.txt", workers)
            elif jobs <= 1 or len(todo) <= 1:
                for s in todo:
                    interrupts.check()
                    save(s, grade_one(*parts(s)))
            else:
                pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), initializer=_init_worker,
                                           initargs=(isolation, os.getpid()))
                # each future puts itself here when done: concurrent.futures.wait would visit
                # every pending future on each call, a cost per submission growing with the class
                finished: queue.SimpleQueue = queue.SimpleQueue()
                futures = {}
                waiting = iter(todo)

                def submit(count: int) -> None:
                    # a few per worker in flight, not the whole class: the pool's queue and the
                    # futures stay the same size whatever the class
                    with interrupts.deferred():  # the pool forks its workers at the first: see _init_worker
                        for s in itertools.islice(waiting, count):
                            fut = pool.submit(grade_one, *parts(s))
                            futures[fut] = s
                            fut.add_done_callback(finished.put)

                submit(IN_FLIGHT * jobs)
                while futures:
                    interrupts.check()
                    try:  # short waits: a signal that lands on another thread is handled here within 0.1 s
                        fut = finished.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    s = futures.pop(fut)  # let each result go once it is saved
                    submit(1)
                    try:
                        data = fut.result()
                    except Exception as exc:  # a worker that died (killed by a hostile child, OOM)
                        from .grading import failed_results

                        data = report.results_data(failed_results(
                            str(exercise), f"{WORKER_DIED}: {type(exc).__name__}", student_of(s)))
                    save(s, data)
                pool.shutdown(wait=True)
        except BaseException:
            _stop_pool(pool)
            raise
        finally:
            with interrupts.deferred():  # a signal as the run ends must not leave the worker behind
                _kill_box()  # the worker started here must not outlive the run
        rows = read_rows(results_dir, subs)
        text = _outputs(out, ex, course, subs, rows, found, removed)
        if "variants" in ex.raw:
            text += ("\nEach student was graded on their own variant.\n" if per_student else
                     f"\nThe exercise has per-student variants, but {SECRET_ENV} is not set: "
                     "everyone was graded on the exercise as written.\n")
        report.write_atomic(out / "summary.txt", text)
    return BatchSummary(len(todo), reused, len(subs), out, text, workers)


def _outputs(out: Path, ex: Any, course: Any, subs: list[Submission], rows: list[dict[str, Any]],
             found: ClassFolder, removed: list[str]) -> str:
    """The gradebook (and the LMS's: the course's hook adjusts rows for lateness and overrides,
    adds absent people and columns) and the summary's text."""
    finished = course.finish(ex, subs, rows)
    for data, old in zip(finished.rows, rows, strict=False):  # the result shows overrides, lateness
        if data != old:
            report.write_atomic(out / "results" / f"{data['student']}.json", report.dumps(data))
    graded = finished.rows[:len(rows)]  # the summary's statistics are of final scores
    for name, content in finished.files.items():
        report.write_atomic(out / name, content)
    report.write_atomic(out / "gradebook.csv", gradebook.gradebook_csv(finished.rows, finished.columns))
    from .grading import audit

    label = report.exercise_label(Results(ex.id, 0.0, 0.0, (), extra=audit(ex)))  # the id and its spec's hash
    return (gradebook.summary_text(label, graded, [(i.name, i.reason) for i in found.ignored], removed)
            + "".join(line + "\n" for line in finished.lines))


def _on_cluster(scheduler: str, exercise: str, isolation: str, todo: list[Submission], student_of: Callable,
                key_of: Callable, parts: Callable, save: Callable) -> str:
    """Grade ``todo`` on dask.distributed; what cannot travel as it is (unreadable, a link, no
    file at all) is graded here, as locally. Returns the workers' record (workers.txt)."""
    from . import distributed, spec

    with distributed.Cluster(scheduler, spec.find(exercise), isolation,
                             distributed.required_layers(isolation)) as cluster:
        for s, data in cluster.grade(todo, student_of, str(spec.find(exercise)), key_of):
            if not isinstance(data, dict):
                from .grading import failed_results

                data = (grade_one(*parts(s)) if data is None else
                        report.results_data(failed_results(str(exercise), data, student_of(s))))
            interrupts.check()
            save(s, data)
        return cluster.workers_text()
