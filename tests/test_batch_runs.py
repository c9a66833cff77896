"""Interrupted and resumed batches, on a small class (so that many trials stay cheap).

Interrupts: SIGINT to the whole process group (what a terminal's Ctrl-C does) and SIGTERM (to the
group, or to the batch's process alone, as a CI runner or systemd does), once and twice, at
random moments of a running batch. Each time: exit 130 within 2 s of the first signal, no
hidden folder left in OUT, no process left, and ``--resume`` then ends in the same bytes as a run that was
never interrupted. Resume: changing the spec, the course secret and the grader version in turn
regrades exactly the students whose grading they change.
"""

from __future__ import annotations

import json
import os
import pty
import random
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from batchkit import (
    CLI, ROOT, assert_no_stray_processes, assert_same_outputs, processes_now, batch_environment,
)

import grader
from grader import batch, grading, report

SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
CODE_ONLY = (SOLUTIONS / "submission.py").read_text("utf-8").split("\n\n# The typed questions")[0] + "\n"
SECRET = "test-batch-runs-secret"
LIMIT = 2.0  # seconds from the first signal to the exit
TRIALS = 12  # 12 SIGINT, 6 + 6 SIGTERM (a trial is a batch start, a signal and a resume: ~0.7 s)


@pytest.fixture(scope="module", autouse=True)
def environment():
    """The course secret for the variants, and this process as a subreaper for orphans."""
    with batch_environment(SECRET) as reaper:
        yield reaper


def make_small_class(folder: Path, exercise: str = "tutorial-4") -> Path:
    """Code, answers, both, a folder, an empty folder."""
    folder.mkdir()
    key = lambda student: json.loads(report.key_json(*_key(exercise, student)))  # noqa: E731
    for name in ("ann", "ben", "cid"):
        (folder / f"{name}.py").write_text(CODE_ONLY)
    (folder / "dot.json").write_text(json.dumps(key("dot")))
    (folder / "eve.py").write_text(CODE_ONLY)
    (folder / "eve.json").write_text(json.dumps(key("eve")))
    (folder / "fay").mkdir()
    (folder / "fay" / "submission.py").write_text(CODE_ONLY)
    (folder / "fay" / "answers.json").write_text(json.dumps(key("fay")))
    (folder / "gus").mkdir()
    return folder


def _key(exercise: str, student: str):
    k = grading.answer_key(exercise, student)
    return k.exercise, k.answers


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The class, and the uninterrupted run with how long a warm run lasts once OUT/results
    existed (the first run fills caches that make later ones faster, so it is not the measure)."""
    folder = make_small_class(tmp_path_factory.mktemp("small") / "class")
    durations = []
    for name in ("small-cold", "small-ref"):
        out = tmp_path_factory.mktemp(name) / "grades"
        proc, started = _start(folder, out)
        rc = proc.wait(timeout=120)
        durations.append(time.monotonic() - started)
        assert rc == 0, proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    return folder, out, min(durations)


def _start(folder: Path, out: Path, **kw) -> tuple[subprocess.Popen, float]:
    """Start a batch in a session of its own; return once it is running (OUT/results exists)."""
    proc = subprocess.Popen([*CLI, "batch", str(folder), "-e", "tutorial-4", "-o", str(out), "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True, **kw)
    deadline = time.monotonic() + 60
    while not (out / "results").is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return proc, time.monotonic()


def _signal(proc: subprocess.Popen, sig: int, group: bool) -> None:
    try:
        (os.killpg if group else os.kill)(proc.pid, sig)
    except ProcessLookupError:
        pass


@pytest.mark.parametrize("sig, group", [(signal.SIGINT, True), (signal.SIGTERM, True), (signal.SIGTERM, False)],
                         ids=["SIGINT-group", "SIGTERM-group", "SIGTERM-process"])
def test_interrupt_at_random_moments(small, tmp_path, sig, group):
    folder, ref, duration = small
    rng = random.Random(f"{sig}-{group}")
    trials = TRIALS if sig == signal.SIGINT else TRIALS // 2  # SIGTERM: half to the group, half to the process
    before = processes_now()
    finished_first = 0
    for k in range(trials):
        out = tmp_path / f"t{k}"
        twice = k % 2 == 1
        proc, started = _start(folder, out)
        # within the first 80 % of a warm run: a loaded machine stretches the run, not the moments
        time.sleep(rng.uniform(0.0, min(0.8 * duration, 2.0)))
        first = time.monotonic()
        if proc.poll() is not None:  # it was done before the moment came
            finished_first += 1
            assert proc.returncode == 0
        else:
            _signal(proc, sig, group)
            if twice:
                time.sleep(rng.uniform(0.0, 0.3))
                _signal(proc, sig, group)
            try:
                proc.wait(timeout=LIMIT + 10)
            finally:
                elapsed = time.monotonic() - first
            err = proc.stderr.read()
            assert proc.returncode in (130, 0), f"trial {k}: exit {proc.returncode} ({err})"
            if proc.returncode == 0:  # the signal came as the last result was written
                finished_first += 1
            else:
                assert elapsed <= LIMIT, f"trial {k} ({'twice' if twice else 'once'}): exit after {elapsed:.2f} s"
        proc.stdout.close()
        proc.stderr.close()
        assert not [p for p in out.rglob(".*") if p.is_dir()], f"trial {k}: a hidden folder left in OUT"
        assert_no_stray_processes(before)
        summary = batch.run(folder, "tutorial-4", out, jobs=1, resume=True)
        assert summary.total == 7
        assert_same_outputs(out, ref)
        shutil.rmtree(out)
    assert finished_first <= trials // 2, f"{finished_first} of {trials} batches ended before the signal"


def test_ctrl_c_on_a_terminal_ends_the_bar_and_shows_the_cursor(small, tmp_path):
    folder = small[0]
    master, slave = pty.openpty()
    out = tmp_path / "tty"
    proc = subprocess.Popen([*CLI, "batch", str(folder), "-e", "tutorial-4", "-o", str(out), "--jobs", "2"],
                            stdin=slave, stdout=subprocess.DEVNULL, stderr=slave, cwd=ROOT, start_new_session=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while b"/7" not in seen and time.monotonic() < deadline and proc.poll() is None:  # the bar shows n/N
        if select.select([master], [], [], 0.05)[0]:
            seen += os.read(master, 65536)
    assert b"/7" in seen, seen
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=LIMIT + 10)
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 130
    tail = seen[seen.rfind(b"/7"):]
    assert b"\x1b[?25h" in tail, tail  # the cursor is shown again
    after = tail[tail.rfind(b"\x1b[?25h"):]
    assert after.startswith(b"\x1b[?25h\r\n") or after.startswith(b"\x1b[?25h\n"), after  # and the bar's line ended
    assert b"Interrupted." in after


# ---------------------------------------------------------------------------- resume keys
def test_resume_regrades_exactly_what_a_change_affects(tmp_path, monkeypatch):
    """Two classes: one on an exercise with per-student variants, one on an exercise without.
    A changed spec regrades its class; a changed secret regrades the class with variants only
    (the other's grades do not depend on it); a new grader version regrades both."""
    varied, plain = tmp_path / "varied.json", tmp_path / "plain.json"
    shutil.copyfile(EXERCISES / "tutorial-4-matrix.json", varied)
    shutil.copyfile(EXERCISES / "tutorial-4-hidden-layer.json", plain)  # no variants
    classes = {}
    for name, ex in (("varied", varied), ("plain", plain)):
        folder = tmp_path / name
        folder.mkdir()
        for student in ("ann", "ben", "cid"):
            k = grading.answer_key(str(ex), student)
            (folder / f"{student}.json").write_text(report.key_json(k.exercise, k.answers))
        (folder / "dan.py").write_text(CODE_ONLY)
        (folder / "eve").mkdir()
        classes[name] = (folder, str(ex), tmp_path / f"{name}-grades")
    everyone = {"ann", "ben", "cid", "dan", "eve"}

    def resume(name: str) -> set[str]:
        folder, ex, out = classes[name]
        results = out / "results"
        old = {p.stem: p.read_bytes() for p in results.glob("*.json")} if results.is_dir() else {}
        summary = batch.run(folder, ex, out, jobs=1, resume=True)
        new = {p.stem: p.read_bytes() for p in results.glob("*.json")}
        assert set(new) == everyone and summary.reused == len(everyone) - summary.graded
        regraded = {s for s in new if new[s] != old.get(s)}  # what it depends on is in the result
        assert len(regraded) == summary.graded
        return regraded

    assert resume("varied") == everyone and resume("plain") == everyone  # the first run
    assert resume("varied") == set() and resume("plain") == set()  # nothing changed

    data = json.loads(varied.read_text())
    data["questions"][0]["points"] = 3  # the spec changes: its class is regraded, out of the new maximum
    varied.write_text(json.dumps(data, indent=2))
    assert resume("varied") == everyone and resume("plain") == set()
    folder, _, out = classes["varied"]
    assert json.loads((out / "results" / "ann.json").read_text())["max_score"] == 28

    monkeypatch.setenv("GRADER_SECRET", "another-secret")  # new variants for everyone of varied
    assert resume("varied") == everyone and resume("plain") == set()
    seeds = json.loads((out / "results" / "ann.json").read_text())["extra_data"]["variant_seed"]
    assert seeds is not None and "another-secret" not in (out / "results" / "ann.json").read_text()

    monkeypatch.setattr(grader._about, "__version__", "99.0")
    assert resume("varied") == everyone and resume("plain") == everyone
    assert resume("varied") == set() and resume("plain") == set()

    # a result the grading worker never finished (it died: OOM, an interrupt) is graded again
    folder, _, out = classes["plain"]
    saved = json.loads((out / "results" / "dan.json").read_text())
    saved["tests"][0]["feedback"] = f"{batch.WORKER_DIED}: BrokenProcessPool"
    (out / "results" / "dan.json").write_text(json.dumps(saved))
    assert resume("plain") == {"dan"}
