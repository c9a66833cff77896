"""Ctrl-C and SIGTERM: the first one interrupts (``KeyboardInterrupt``, exit 130 in the CLI), the
next one exits at once.

A terminal sends SIGINT to the whole foreground process group, and a second Ctrl-C means "now".
Code that owns something to tidy in no time (worker processes to kill, a sandbox worker, a
progress bar to end) registers it with :func:`handled`; on a second signal every registered
tidy-up runs, innermost first, and the process exits with status 130 without unwinding.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

EXIT_INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_count = 0  # signals received since the outermost handled() began
_tidy: list[Callable[[], None]] = []
_old: dict[int, Any] = {}


def _handle(signum: int, frame: Any) -> None:
    global _count
    _count += 1
    if _count > 1:
        exit_now()
    raise KeyboardInterrupt


def exit_now() -> None:
    """Run every registered tidy-up (innermost first) and exit with status 130, now."""
    for tidy in reversed(_tidy):
        try:
            tidy()
        except BaseException:  # noqa: BLE001 - we are leaving whatever happens
            pass
    os._exit(EXIT_INTERRUPTED)


@contextmanager
def handled(tidy: Callable[[], None] | None = None, leaving: bool = False) -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise KeyboardInterrupt once, then exit at once after ``tidy``.
    Nested uses share one count; only the main thread can install signal handlers (elsewhere
    this only registers ``tidy``). ``leaving``: the process exits after the block (the CLI), so a
    signal that comes while it shuts down exits with 130 too, never killed by it."""
    global _count
    outer = not _old and threading.current_thread() is threading.main_thread()
    if outer:
        for sig in SIGNALS:
            _old[sig] = signal.signal(sig, _handle)
        _count = 0
    if tidy is not None:
        _tidy.append(tidy)
    try:
        yield
    finally:
        if tidy is not None:
            _tidy.remove(tidy)
        if outer:
            for sig, old in _old.items():
                # once interrupted, the process is on its way out with 130: a signal that comes
                # while it unwinds or shuts down ends it with 130 too, not killed by the signal
                signal.signal(sig, old if not (_count or leaving) else _exit_at_once)
            _old.clear()


@contextmanager
def deferred() -> Iterator[None]:
    """Within: SIGINT and SIGTERM wait (blocked, pending) until the block is done, so that a
    tidy-up that must finish (stopping the sandbox worker) is never cut short by the first one."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = mask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


def _exit_at_once(signum: int, frame: Any) -> None:
    os._exit(EXIT_INTERRUPTED)


def check() -> None:
    """Raise the interrupt again if one came and was swallowed: a signal that lands while the
    process forks runs its handler inside an at-fork hook (logging's), where Python prints the
    KeyboardInterrupt and drops it. Loops call this between steps."""
    if _count:
        raise KeyboardInterrupt


def received() -> bool:
    """Did a signal interrupt the last (outermost) :func:`handled` block?"""
    return _count > 0
