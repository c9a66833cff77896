"""Late penalties: a deadline, a percentage per day late, a grace period and a cap.

Lateness is counted from the deadline. A submission at most ``grace`` after the deadline is on
time; a later one loses ``penalty`` percent of its score for each day or part of a day late
(lateness 1 s to 24 h: one day; 24 h 1 s: two days), at most 100 %; one more than ``cap`` after
the deadline scores 0. Times are compared as instants, so the deadline's and the submission's
time zones may differ; a time without a zone is refused (it would mean a different instant on
the grading machine and on the LMS).
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import UsageError
from .tables import read_table

DAY = 86400.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, what: str = "duration") -> float:
    """Seconds in ``15m``, ``2d``, ``1h30m``, ``90s``, ``1w`` (``0`` is zero)."""
    t = str(text).strip().lower()
    if t == "0":
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw])", t)
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smhdw])", "", t).strip():
        raise UsageError(f"{what} {text!r}: expected a duration such as 15m, 2h, 2d or 1h30m "
                         "(s, m, h, d, w)")
    return float(sum(float(n) * _UNITS[u] for n, u in parts))


def iso_text(text: str) -> str:
    """An ISO 8601 time as every supported Python's ``datetime.fromisoformat`` reads it (3.10
    reads far less than 3.11): ``Z`` as ``+00:00``, an offset with its colon and no space before
    it, a space for the ``T``, and the fraction of a second as six digits."""
    t = str(text).strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    t = re.sub(r"\s+([+-]\d\d:?\d\d)$", r"\1", t)  # Ruby's "13:47:15.123456000 -08:00" (Gradescope's YAML)
    # Python keeps microseconds (Gradescope's YAML has nanoseconds), and 3.10 reads only 3 or 6
    # digits (JavaScript's toISOString() writes 3; "…:00.5" has 1); a comma is ISO's separator too
    t = re.sub(r"(\d\d:\d\d:\d\d)[.,](\d+)", lambda m: f"{m.group(1)}.{(m.group(2) + '00000')[:6]}", t)
    t = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", t)  # +0100 -> +01:00
    return t.replace(" ", "T", 1) if "T" not in t and " " in t else t


def parse_time(text: str, what: str = "time") -> datetime:
    """An ISO 8601 instant with a time zone (``2026-03-01T23:59:00+01:00``, ``…Z``)."""
    try:
        when = datetime.fromisoformat(iso_text(text))
    except ValueError:
        raise UsageError(f"{what} {text!r}: not an ISO 8601 time (e.g. 2026-03-01T23:59:00+01:00)") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise UsageError(f"{what} {text!r}: give its time zone (+01:00, -05:00 or Z for UTC)")
    return when


@dataclass(frozen=True)
class Policy:
    deadline: datetime
    penalty_per_day: float  # percent
    grace: float = 0.0  # seconds
    cap: float | None = None  # seconds after the deadline; later scores 0

    @classmethod
    def from_options(cls, deadline: str, penalty: float | None, grace: str | None, cap: str | None) -> Policy:
        if penalty is None:
            raise UsageError("--deadline needs --late-penalty PCT_PER_DAY (0 only records lateness)")
        if not 0 <= float(penalty) <= 100:
            raise UsageError(f"--late-penalty {penalty}: a percentage per day, from 0 to 100")
        g = parse_duration(grace, "--grace") if grace else 0.0
        c = parse_duration(cap, "--late-cap") if cap else None
        if c is not None and c < g:
            raise UsageError(f"--late-cap {cap} is shorter than --grace {grace}")
        return cls(parse_time(deadline, "--deadline"), float(penalty), g, c)

    def as_dict(self) -> dict[str, object]:
        return {"deadline": self.deadline.isoformat(), "penalty_per_day": self.penalty_per_day,
                "grace_seconds": self.grace, "cap_seconds": self.cap}


@dataclass(frozen=True)
class Lateness:
    submitted_at: str | None
    source: str  # gradescope, times file, git, mtime, none
    seconds: float  # after the deadline (0 when on time)
    days: int  # days charged
    penalty_percent: float
    past_cap: bool

    def final(self, raw: float) -> float:
        if self.past_cap:
            return 0.0
        return round(raw * (1 - self.penalty_percent / 100.0), 6)


def lateness(policy: Policy, submitted: datetime | None, source: str) -> Lateness:
    if submitted is None:
        return Lateness(None, "none", 0.0, 0, 0.0, False)
    late = (submitted - policy.deadline).total_seconds()
    at = submitted.isoformat()
    if late <= policy.grace:
        return Lateness(at, source, max(0.0, late), 0, 0.0, False)
    days = math.ceil(late / DAY - 1e-12)
    past = policy.cap is not None and late > policy.cap
    return Lateness(at, source, late, days, min(100.0, days * policy.penalty_per_day), past)


def describe(seconds: float) -> str:
    """``1d 2h 5m`` (whole minutes; seconds only under a minute)."""
    if seconds <= 0:
        return "on time"
    if seconds < 60:
        return f"{int(seconds)}s"
    minutes = int(seconds // 60)
    d, rest = divmod(minutes, 1440)
    h, m = divmod(rest, 60)
    return " ".join(f"{n}{u}" for n, u in ((d, "d"), (h, "h"), (m, "m")) if n) or "0m"


# ---------------------------------------------------------------------------- submission times
def read_times(path: str | Path) -> dict[str, datetime]:
    """``student,submitted_at`` rows (the student by submission name, roster id, email or login)."""
    header, rows = read_table(path, "times file")
    low = [h.lower() for h in header]
    if "student" not in low or "submitted_at" not in low:
        raise UsageError(f"{path}: line 1: expected the columns student,submitted_at")
    out: dict[str, datetime] = {}
    for line, row in rows:
        lower = {k.lower(): v for k, v in row.items()}
        who = lower.get("student", "")
        if not who:
            raise UsageError(f"{path}: line {line}: no student")
        out[who.lower()] = parse_time(lower.get("submitted_at", ""), f"{path}: line {line}: submitted_at")
    return out


def git_time(folder: Path) -> datetime | None:
    """The committer time of HEAD of a student's repository, read without trusting its config
    (no hooks, no fsmonitor, no pager) and without looking at anything else of it."""
    if not (folder / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "--no-pager", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
             "-c", f"safe.directory={folder.resolve()}", "-C", str(folder), "log", "-1", "--format=%cI", "HEAD"],
            capture_output=True, text=True, timeout=20, env={"PATH": "/usr/bin:/bin:/usr/local/bin",
                                                             "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    try:
        return parse_time(out.stdout.strip())
    except UsageError:
        return None


def mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except OSError:
        return None
