"""The sandbox's plain data: limits, calls and what came back."""

from __future__ import annotations

from dataclasses import dataclass

# Every status a call (or the import of the submission) can end with.
STATUSES = ("ok", "missing", "error", "timeout", "memory_limit", "crashed", "no_result", "invalid_output")


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 20.0  # per call (and for the import of the submission)
    cpu_seconds: float = 10.0  # per call; judged on the child's CPU time, wall time is the backstop
    memory_mb: int = 1024  # RLIMIT_AS per process; with the cgroup layer also all the submission's processes together
    file_size_mb: int = 16
    open_files: int = 64
    processes: int = 64  # RLIMIT_NPROC where meaningful (a uid or user namespace of its own); cgroup pids.max
    output_bytes: int = 64 * 1024  # captured stdout+stderr kept
    result_bytes: int = 64 * 1024 * 1024  # cap on one returned value

    def __post_init__(self):
        for name in ("wall_seconds", "cpu_seconds", "memory_mb", "file_size_mb", "open_files",
                     "processes", "output_bytes", "result_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Limits.{name} must be a positive number, not {value!r}")


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple  # positional; each a float64 numpy ndarray, a Python float or a Python int
    # its arrays are this submission's alone (a student's variant's exercise case): sent with every
    # request, while the other calls' read-only arrays are kept by the worker (see _calls)
    own: bool = False


@dataclass(frozen=True)
class CallOutcome:
    status: str  # one of STATUSES
    values: tuple = ()  # when ok: plain float64 ndarrays, one per returned item
    message: str = ""  # when not ok: what went wrong, for the student


@dataclass(frozen=True)
class SubmissionRun:
    load_status: str  # "ok" or the status with which running the module code ended
    load_message: str
    defined: tuple[str, ...]  # top-level callables, after running the module code
    answers_json: str | None  # the submission's ANSWERS as JSON text (not parsed here), or None
    outcomes: tuple[CallOutcome, ...]  # one per Call, in order
    output: str  # what the student code printed, escaped and trimmed
    missing_layers: tuple[str, ...]  # isolation layers that could not be applied here
    notes: tuple[str, ...] = ()  # files beside the submission that were refused (a symlink, a FIFO, …)
    round_trips: int = 0  # commands the calls took: one per run of calls of one function, more after a crash
