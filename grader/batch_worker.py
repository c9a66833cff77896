"""One grading worker process of a batch (a local pool's, or a dask worker's): a warm sandbox
worker of its own for all its students, and :func:`grade_one`, which never raises for a bad
submission. The batch (:mod:`grader.batch`) and the dask runner (:mod:`grader.distributed`)
both build on it; it builds on neither."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

from . import interrupts, report
from .errors import GraderError


WORKER_DIED = "the grading worker died"  # a result's feedback when it never came back: --resume grades it again

_BOX: Any = None


def _kill_box() -> None:
    """Stop this process's sandbox worker now, whatever it is running."""
    global _BOX
    box, _BOX = _BOX, None
    if box is None:
        return
    pid = box.worker_pid
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    box.close()


def _worker_term(signum: int, frame: Any) -> None:
    _kill_box()
    os._exit(interrupts.EXIT_INTERRUPTED)


def _start_box(isolation: str) -> None:
    """A sandbox worker that ignores SIGINT (inherited over exec): a terminal's Ctrl-C reaches
    every process of the group, and only the batch's own process decides what it means."""
    global _BOX
    from .sandbox import Sandbox

    box = Sandbox(isolation)
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        box.start()
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
    _BOX = box


def _die_with_parent(parent: int) -> None:
    """SIGTERM this pool worker when the batch's process dies. An interrupt that lands while
    the pool is still forking its workers leaves one that the pool does not list yet; without
    this it would wait on the pool's queue for ever (holding the batch's stdout open)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the batch was gone before the line above
        os._exit(interrupts.EXIT_INTERRUPTED)


def _init_worker(isolation: str, parent: int) -> None:
    # a process group of its own: a terminal's Ctrl-C or a SIGTERM to the batch's group reaches
    # the batch alone, which stops the pool (a worker that died of the group's signal first
    # left its students' results as "the grading worker died")
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_term)
    # forked with SIGINT/SIGTERM blocked (a signal during a fork was dropped in an at-fork hook)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, interrupts.SIGNALS)
    _die_with_parent(parent)
    _start_box(isolation)


def grade_one(code: str | None, answers: str | None, exercise: str, isolation: str = "best-effort",
              student: str | None = None, ignored: tuple[tuple[str, str], ...] = (),
              alone: bool = False, key: Any = None) -> dict[str, Any]:
    """Grade one student's parts in this worker (``student``'s variant where the exercise has
    variants; ``alone``: the code file lies among other students' files, so that it imports none
    of them; ``key``: the variant's answer key, solved with the class's, or None); never raises
    for a bad submission."""
    from . import grading

    if code is None and answers is None:
        why = "no submission found" + "".join(f"; ignored {n}: {r}" for n, r in ignored)
        return report.results_data(grading.failed_results(exercise, why, student, status="no_result"))
    try:
        if code is not None and _BOX is None:
            _start_box(isolation)
        r = grading.grade_parts(code, answers, exercise, isolation=isolation, box=_BOX if code is not None else None,
                                student=student, ignored=ignored, alone=alone, variant_key=key)
    except GraderError as exc:
        r = grading.failed_results(exercise, str(exc), student)
    except Exception as exc:  # a bug of ours must not stop the class: record it and go on
        r = grading.failed_results(exercise, f"internal error while grading: {type(exc).__name__}: {exc}", student)
    data = report.results_data(r)
    given = {t.id: t.got for t in r.tests if t.got is not None}  # typed answers, for shared-answer detection
    if given and student is not None:
        data["answers"] = given
    return data
