"""Helpers the batch tests share: running ``grade batch`` as a subprocess, comparing its outputs
byte for byte, and finding processes a batch left behind (this process as a child subreaper)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from grader.cli import main; import sys; sys.exit(main(sys.argv[1:], exiting=True))"]
GRADED = re.compile(r"^Graded (\d+), kept (\d+) of (\d+);", re.M)
NOBODY = 65534
PR_SET_CHILD_SUBREAPER = 36


def subreaper(on: bool) -> bool:
    """Make this process adopt orphans of the batches it starts (Linux), so they can be found."""
    if sys.platform != "linux":
        return False
    return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0


@contextlib.contextmanager
def batch_environment(secret: str):
    """The course secret set (per-student variants), and this process a subreaper for orphans."""
    old = os.environ.get("GRADER_SECRET")
    os.environ["GRADER_SECRET"] = secret
    reaper = subreaper(True)
    try:
        yield reaper
    finally:
        if reaper:
            subreaper(False)
        if old is None:
            os.environ.pop("GRADER_SECRET", None)
        else:
            os.environ["GRADER_SECRET"] = old


def grade_batch(folder: Path, out: Path, *extra: str, exercise: str = "tutorial-4", jobs: int = 2,
                env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "batch", str(folder), "-e", exercise, "-o", str(out), "--jobs", str(jobs), *extra],
                          capture_output=True, text=True, timeout=180, cwd=ROOT, env=env)


def graded_kept(output: str) -> tuple[int, int, int]:
    m = GRADED.search(output)
    assert m, f"no 'Graded N, kept M of T' line in:\n{output}"
    return int(m[1]), int(m[2]), int(m[3])


def outputs(out: Path) -> dict[str, bytes]:
    """Every file the batch wrote that is meant to stay (temp files of a killed write aside)."""
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file() and not p.name.startswith(".")}
    assert "gradebook.csv" in files and "summary.txt" in files
    return files


def assert_same_outputs(got: Path, want: Path) -> None:
    a, b = outputs(got), outputs(want)
    assert sorted(a) == sorted(b), f"different files: {sorted(set(a) ^ set(b))}"
    differ = [name for name in a if a[name] != b[name]]
    result = next((n for n in differ if n.startswith("results/")), differ[0] if differ else None)
    assert not differ, f"{len(differ)} files differ from the reference run, e.g. {differ[:5]}: " + \
        _first_difference(a[differ[0]], b[differ[0]]) + f"; {result}: {a[result][:1500]!r}"
    assert not [p for p in got.rglob(".*") if p.is_dir()], "a hidden folder was left in OUT"


def _first_difference(a: bytes, b: bytes) -> str:
    k = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at byte {k}: {a[max(0, k - 60):k + 60]!r} != {b[max(0, k - 60):k + 60]!r}"


def process_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, uid, state) of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                data = Path(f"/proc/{name}/stat").read_bytes()
                uid = os.stat(f"/proc/{name}").st_uid
            except OSError:
                continue
            fields = data[data.rfind(b")") + 2:].split()
            out[int(name)] = (int(fields[1]), uid, fields[0].decode())
    return out


def _descendants(pid: int) -> dict[int, tuple[int, int, str]]:
    table = process_table()
    found, todo = {}, [pid]
    while todo:
        here = todo.pop()
        for child, row in table.items():
            if row[0] == here and child not in found:
                found[child] = row
                todo.append(child)
    return found


def _describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmd = "?"
    return f"{pid} {cmd[:120]}"


def _is_new(pid: int, left: dict, before: set[int]) -> bool:
    """Neither ``pid`` nor an ancestor of it below this process was there before."""
    while pid in left:
        if pid in before:
            return False
        pid = left[pid][0]
    return True


def assert_no_stray_processes(before: set[int], grace: float = 5.0) -> None:
    """No new process below this one (a subreaper: orphans of the batch land here), none as
    nobody. Processes that were already there (``before``), and theirs, belong to someone else."""
    deadline = time.monotonic() + grace
    while True:
        left = _descendants(os.getpid())
        for pid, (ppid, _, state) in left.items():
            if state == "Z" and ppid == os.getpid() and pid not in before:  # an orphan that ended here
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        live = {p: r for p, r in left.items() if r[2] != "Z" and _is_new(p, left, before)}
        if not live or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not live, "processes left after the batch: " + "; ".join(
        f"{_describe(p)} (uid {uid})" for p, (_, uid, _s) in live.items())
    assert NOBODY not in {uid for _, uid, _s in live.values()}


def processes_now() -> set[int]:
    return set(_descendants(os.getpid()))


