"""Calls in batches (grader/sandbox/_worker/batches.py): every run of consecutive calls of one
function is one command to the child and one reply, and each call still ends as it would alone:
an exception, an exit, a crash, a timeout, garbage on the channel are that call's, and the calls
after a crash start in a fresh child. Counted in round trips, never timed."""

from __future__ import annotations

import struct
import textwrap

import numpy as np
import pytest

from grader import grading, spec
from grader.sandbox import Call, Limits, Sandbox
from grader.sandbox import _worker as W
from grader.sandbox._worker.batches import groups
from grader.submission import load_source

LIMITS = Limits(wall_seconds=4, cpu_seconds=0.5, memory_mb=512, result_bytes=8 << 20)

# f(x) counts its calls in this child (so a fresh child is visible) and misbehaves on cue.
COUNTER = """
import os, sys, time
import numpy as np
N = 0

def f(x):
    global N
    N += 1
    k = int(x)
    if k == {bad}:
        {action}
    return float(N)

def g():
    return 7.0
"""


def student(tmp_path, action: str, bad: int = 3):
    path = tmp_path / "counter.py"
    path.write_text(COUNTER.format(bad=bad, action=textwrap.indent(action, " " * 8).strip()))
    return load_source(path)


def run_f(box, source, n: int = 5, then_g: bool = True):
    calls = [Call("f", (float(k),)) for k in range(1, n + 1)] + ([Call("g", ())] if then_g else [])
    return box.run(source, calls, LIMITS)


def statuses(run):
    return [o.status for o in run.outcomes]


def values(run):
    return [float(o.values[0]) if o.status == "ok" else None for o in run.outcomes]


@pytest.fixture(scope="module")
def box():
    with Sandbox() as sandbox:
        sandbox.start()
        yield sandbox


def test_groups_are_runs_of_one_function():
    calls = [{"function": n} for n in ["a", "a", "b", "a", "c", "c"]]
    assert [[c["function"] for c in g] for g in groups(calls)] == [["a", "a"], ["b"], ["a"], ["c", "c"]]


def test_a_correct_submission_takes_one_round_trip_per_function(box):
    ex = spec.load_exercise("tutorial-4")
    calls, probe = grading.sandbox_calls(ex)
    assert probe is not None and len(calls) > 4 * 4  # cases and the probe's calls of forward
    run = box.run(load_source(grading.Path("solutions/submission.py").resolve()), calls)
    assert run.load_status == "ok" and set(statuses(run)) == {"ok"}
    assert run.round_trips == len(ex.functions) == 4


def test_an_exception_or_exit_in_one_call_is_that_calls_only(box, tmp_path):
    run = run_f(box, student(tmp_path, "raise ValueError('bad input')"))
    assert statuses(run) == ["ok", "ok", "error", "ok", "ok", "ok"]
    assert "ValueError: bad input" in run.outcomes[2].message
    assert values(run) == [1.0, 2.0, None, 4.0, 5.0, 7.0]  # one child all along
    assert run.round_trips == 2
    run = run_f(box, student(tmp_path, "sys.exit(4)"))
    assert statuses(run) == ["ok", "ok", "no_result", "ok", "ok", "ok"]
    assert "sys.exit(4)" in run.outcomes[2].message and run.round_trips == 2


def test_the_queued_commands_are_out_of_reach_of_student_code(box, tmp_path):
    """Every command is written behind the module, but the harness takes them off the pipe before
    any student code runs: a call reading the command channel finds it empty, as it always did."""
    action = ("os.set_blocking(3, False)\ntry:\n    got = os.read(3, 1 << 20)\nexcept BlockingIOError:\n"
              "    got = b''\nif got:\n    return -float(len(got))")
    run = run_f(box, student(tmp_path, action, bad=1))
    assert statuses(run) == ["ok"] * 6 and values(run) == [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]
    assert run.round_trips == 2


def test_a_missing_function_is_missing_in_every_call(box, tmp_path):
    source = student(tmp_path, "pass")
    run = box.run(source, [Call("h", ()), Call("h", ()), Call("g", ())], LIMITS)
    assert statuses(run) == ["missing", "missing", "ok"] and "'h'" in run.outcomes[0].message
    assert run.round_trips == 2


@pytest.mark.parametrize("action, status, words", [
    ("os._exit(3)", "no_result", "exit status 3"),
    ("os.kill(os.getpid(), 11)", "crashed", "SIGSEGV"),
    ("os.close(4)", "no_result", "result channel"),
])
def test_a_death_in_one_call_is_attributed_and_the_next_calls_start_fresh(box, tmp_path, action, status, words):
    run = run_f(box, student(tmp_path, action))
    assert statuses(run) == ["ok", "ok", status, "ok", "ok", "ok"], [o.message for o in run.outcomes]
    assert words in run.outcomes[2].message
    # as one call at a time: the first two ran in the child that died, the rest in a new one
    assert values(run) == [1.0, 2.0, None, 1.0, 2.0, 7.0]
    # the batch, the first two again (their reply died with the child), the last two
    assert run.round_trips == 4


def test_a_death_in_the_first_call_needs_no_replay(box, tmp_path):
    run = run_f(box, student(tmp_path, "os._exit(3)", bad=1))
    assert statuses(run) == ["no_result", "ok", "ok", "ok", "ok", "ok"]
    assert values(run) == [None, 1.0, 2.0, 3.0, 4.0, 7.0] and run.round_trips == 3


def test_a_timeout_is_its_calls_and_the_later_calls_are_not_run(box, tmp_path):
    run = run_f(box, student(tmp_path, "while True:\n    pass"))
    assert statuses(run) == ["ok", "ok", "timeout", "timeout", "timeout", "ok"]
    assert "CPU time limit" in run.outcomes[2].message
    assert all(o.message.startswith("not run: an earlier call of f") for o in run.outcomes[3:5])
    assert values(run)[:2] == [1.0, 2.0]


def test_each_call_of_a_batch_has_its_own_cpu_limit(box, tmp_path):
    # three calls of 0.3 s of CPU each under a 0.5 s limit per call: 0.9 s in one batch is fine
    path = tmp_path / "busy.py"
    path.write_text("import time\n\ndef busy():\n    end = time.process_time() + 0.3\n"
                    "    while time.process_time() < end:\n        pass\n    return 1.0\n")
    run = box.run(load_source(path), [Call("busy", ())] * 3, LIMITS)
    assert statuses(run) == ["ok", "ok", "ok"] and run.round_trips == 1


def test_garbage_on_the_result_channel_is_its_calls(box, tmp_path):
    # not attributable from the progress word: the batch runs again one call per command
    run = run_f(box, student(tmp_path, "os.write(4, b'not a frame at all')"))
    assert statuses(run) == ["ok", "ok", "invalid_output", "ok", "ok", "ok"]
    assert "malformed data" in run.outcomes[2].message
    assert values(run) == [1.0, 2.0, None, 1.0, 2.0, 7.0]
    assert run.round_trips > 2


def test_each_call_gets_its_own_copy_of_a_shared_argument(box, tmp_path):
    path = tmp_path / "mutate.py"
    path.write_text("def m(x):\n    x += 1.0\n    return float(x.sum())\n")
    x = np.zeros((2, 2))
    x.setflags(write=False)  # sent once (the same array in every call)
    run = box.run(load_source(path), [Call("m", (x,))] * 3, LIMITS)
    assert values(run) == [4.0, 4.0, 4.0] and run.round_trips == 1


def test_parse_batch_accepts_only_its_own_framing():
    entry = W.ENTRY_HEAD.pack(b"E", 2) + b"{}"
    good = W.BATCH_HEAD.pack(0, 1) + entry
    assert W.parse_batch(good, 0, 1) == [(b"E", b"{}")]
    assert W.parse_batch(good, 1, 2) is None  # not where the reply must start
    assert W.parse_batch(good, 0, 0) is None  # more entries than calls
    assert W.parse_batch(good + b"x", 0, 1) is None  # trailing bytes
    assert W.parse_batch(good[:-1], 0, 1) is None  # cut short
    assert W.parse_batch(W.BATCH_HEAD.pack(0, 1) + W.ENTRY_HEAD.pack(b"Z", 0), 0, 1) is None  # unknown kind
    assert W.parse_batch(W.BATCH_HEAD.pack(0, 1) + W.ENTRY_HEAD.pack(b"R", 2 ** 60), 0, 1) is None
    assert W.parse_batch(struct.pack("<I", 0), 0, 1) is None
