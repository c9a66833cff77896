"""Cost of running one code submission: the sandbox worker (fork per submission) against a
fresh ``python -c`` per submission, and what each isolation layer adds.

    python bench/bench_sandbox.py [--rounds N]

Each submission is tests/hostile/correct.py (copied to a folder of its own) with 4 calls (sigmoid, forward, backward, train for
10 epochs) on the sheet's 2-2-2 network. Times are wall-clock medians per submission, run back
to back. The headline ratio interleaves fresh processes with sandbox submissions (every layer
on) in one loop, so that both see the same machine load; the load average is printed with it.
The next submission's init and child are forked and isolated while the current one runs, and
a run returns once its results are in (its processes are reaped during the next one), so the
per-layer column shows the isolation work each child does too. The CPU split is read from each
process's own clock (/proc and os.times): on a loaded machine it moves less than wall time does.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.sandbox import Call, Limits, Sandbox  # noqa: E402
from grader.submission import load_source  # noqa: E402

# The submission sits in a folder of its own, as a single student's file does: beside the other
# tests/hostile cases, whose names (network.py) occur in its text, the grader would parse it on
# every run to look for helper modules, which is not what a submission costs.
_HOME = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
CORRECT = _HOME / "correct.py"
shutil.copyfile(ROOT / "tests" / "hostile" / "correct.py", CORRECT)
atexit.register(shutil.rmtree, _HOME, True)
X = np.array([[0.05], [0.10]])
T = np.array([[0.01], [0.99]])
W1 = np.array([[0.15, 0.20], [0.25, 0.30]])
B1 = np.array([[0.35], [0.35]])
W2 = np.array([[0.40, 0.45], [0.50, 0.55]])
B2 = np.array([[0.60], [0.60]])
CALLS = [Call("sigmoid", (W1,)), Call("forward", (X, W1, B1, W2, B2)), Call("backward", (X, T, W1, B1, W2, B2)),
         Call("train", (X, T, W1, B1, W2, B2, 0.5, 10))]

FRESH = r"""
import sys
import numpy as np
ns = {"__name__": "submission"}
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), ns)
x = np.array([[0.05], [0.10]]); t = np.array([[0.01], [0.99]])
W1 = np.array([[0.15, 0.20], [0.25, 0.30]]); b1 = np.array([[0.35], [0.35]])
W2 = np.array([[0.40, 0.45], [0.50, 0.55]]); b2 = np.array([[0.60], [0.60]])
ns["sigmoid"](W1); ns["forward"](x, W1, b1, W2, b2); ns["backward"](x, t, W1, b1, W2, b2)
ns["train"](x, t, W1, b1, W2, b2, 0.5, 10)
"""

ALL = ("rlimits", "pdeathsig", "dumpable", "userns", "netns", "ipcns", "landlock", "user", "mountns", "cgroup",
       "pidns", "fsview", "seccomp")
LAYERS = [  # (row, layers switched off)
    ("fork only, no isolation", ALL),
    ("+ rlimits, pdeathsig, non-dumpable", tuple(k for k in ALL if k not in ("rlimits", "pdeathsig", "dumpable"))),
    ("+ user, network and IPC namespaces", ("landlock", "user", "mountns", "cgroup", "pidns", "fsview", "seccomp")),
    ("+ landlock", ("user", "mountns", "cgroup", "pidns", "fsview", "seccomp")),
    ("+ unprivileged user, mount namespace", ("cgroup", "pidns", "fsview", "seccomp")),
    ("+ cgroup per submission", ("pidns", "fsview", "seccomp")),
    ("+ PID namespace, filesystem view (pivot_root)", ("seccomp",)),
    ("+ seccomp filter (all layers)", ()),
]


def fresh_process() -> float:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", FRESH, str(CORRECT)], check=True, env=env)
    return time.perf_counter() - start


def headline(rounds: int) -> tuple[list[float], list[float], float, tuple[str, ...], list[float]]:
    """(fresh times, sandbox times with every layer, worker start-up, missing layers, isolation
    ms), interleaved: one fresh process after every 4 sandbox submissions."""
    source = load_source(CORRECT)
    limits = Limits(wall_seconds=10, cpu_seconds=5)
    fresh, times, isolate = [], [], []
    with Sandbox() as box:
        start = time.perf_counter()
        box.start()
        startup = time.perf_counter() - start
        for _ in range(5):  # warm-up
            box.run(source, CALLS, limits)
        for i in range(rounds):
            if i % 4 == 0:
                fresh.append(fresh_process())
            start = time.perf_counter()
            run = box.run(source, CALLS, limits)
            times.append(time.perf_counter() - start)
            isolate.append(box._isolate_ms or 0.0)
            assert [o.status for o in run.outcomes] == ["ok"] * 4, run.outcomes
        return fresh, times, startup, run.missing_layers, isolate


def _proc_cpu(pid: int) -> tuple[float, float]:
    """(own CPU seconds, CPU seconds of its reaped children) of ``pid``, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rfind(")") + 2:].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def cpu_split(rounds: int) -> dict[str, float]:
    """CPU ms per submission (every layer on) of each process: the grader, the supervisor, the
    worker (zygote: it forks every child and init) and the children and inits it reaped."""
    source = load_source(CORRECT)
    limits = Limits(wall_seconds=10, cpu_seconds=5)
    with Sandbox() as box:
        box.start()
        for _ in range(5):
            box.run(source, CALLS, limits)
        box.settle()
        worker = box.worker_pid
        with open(f"/proc/{worker}/task/{worker}/children") as f:
            supervisor = int(f.read().split()[0])  # forked first, before any slot
        before = os.times(), _proc_cpu(worker), _proc_cpu(supervisor)
        for _ in range(rounds):
            box.run(source, CALLS, limits)
        box.settle()  # every child and init of these submissions reaped by the worker
        after = os.times(), _proc_cpu(worker), _proc_cpu(supervisor)
    per = (lambda x: 1000 * x / rounds)
    return {"grader": per(after[0].user + after[0].system - before[0].user - before[0].system),
            "supervisor": per(after[2][0] - before[2][0]),
            "worker (forks every child and init)": per(after[1][0] - before[1][0]),
            "children and inits": per(after[1][1] - before[1][1])}


def sandbox(rounds: int, disable=()) -> tuple[list[float], float, tuple[str, ...], list[float]]:
    source = load_source(CORRECT)
    limits = Limits(wall_seconds=10, cpu_seconds=5)
    with Sandbox(_disable=disable) as box:
        start = time.perf_counter()
        box.start()
        startup = time.perf_counter() - start
        for _ in range(5):  # warm-up
            box.run(source, CALLS, limits)
        times, isolate = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            run = box.run(source, CALLS, limits)
            times.append(time.perf_counter() - start)
            isolate.append(box._isolate_ms or 0.0)
            assert [o.status for o in run.outcomes] == ["ok"] * 4, run.outcomes
        return times, startup, run.missing_layers, isolate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="submissions per sandbox row (default 40)")
    args = parser.parse_args()
    ms = (lambda ts: 1000 * statistics.median(ts))
    load_before = os.getloadavg()[0]
    fresh_times, full, startup, missing, isolate = headline(args.rounds)
    fresh, per = ms(fresh_times), ms(full)
    load_after = os.getloadavg()[0]
    rows = [("fresh `python -c` per submission (imports NumPy)", fresh, "", ""),
            ("sandbox worker, every layer on", per, f"{statistics.median(isolate):.2f}",
             f"{fresh / per:.1f}x cheaper")]
    split = cpu_split(max(args.rounds, 100))
    for label, disable in LAYERS:
        times, _, _, isolate = sandbox(args.rounds, disable)
        rows.append((f"  {label}", ms(times), f"{statistics.median(isolate):.2f}", ""))
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, {os.cpu_count()} CPUs, "
          f"{'root' if os.geteuid() == 0 else 'not root'}; worker start-up {1000 * startup:.0f} ms (once)")
    if missing:
        print(f"layers missing on this machine: {', '.join(missing)}")
    print(f"load average {load_before:.1f} before, {load_after:.1f} after the headline rows (2 cores: above 2, "
          "every number is slowed by other processes; the ratio is measured within one run)")
    print("one submission = correct.py + 4 calls (sigmoid, forward, backward, train 10 epochs)\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'ms/submission':>13}  {'isolation ms':>12}")
    for label, value, iso, note in rows:
        print(f"{label:{width}}  {value:13.1f}  {iso:>12}  {note}")
    met = per <= 10 and fresh / per >= 10
    print(f"\nevery layer on: {per:.1f} ms per submission, {fresh / per:.1f}x cheaper than a fresh process "
          f"(target at most 10 ms and at least 10x: {'met' if met else 'not met'} in this run)")
    total = sum(split.values())
    print(f"\nCPU per submission, every layer on (another {max(args.rounds, 100)} submissions, from the processes' "
          f"own clocks): {total:.1f} ms in all")
    for name, value in split.items():
        print(f"  {name:36s} {value:5.1f} ms")
    print(f"  on {os.cpu_count()} CPUs a submission cannot take less than {total / (os.cpu_count() or 1):.1f} ms of wall "
          "time back to back")
    print("\nisolation ms: time a child spends isolating itself (median). It is spent ahead of time,\n"
          "while the previous submission runs or the grader works, so it is mostly not on the path.")


if __name__ == "__main__":
    main()
