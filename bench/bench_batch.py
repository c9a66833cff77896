"""Whole-class grading: wall time and peak memory of ``grade batch``, and its cost per code
submission against a fresh ``grade submission.py`` process per submission.

    python bench/bench_batch.py [--jobs 2] [--code 500] [--answers 1000] [--fresh 20] [--grade-file 9] [--no-dask]
                                [--all-correct] [--typed-numbers] [--variants] [--repeat 3]
    python bench/bench_batch.py --grade-file-only [--grade-file 9]

Per code submission, in one run: ``grade batch --jobs 2``, ``grade batch --scheduler local:2``
(a LocalCluster of as many processes; its start-up is included) and the sandbox floor (the same
submissions and calls through one bare sandbox worker, nothing graded), in wall and CPU time
(the whole process tree's), each as a ratio to the floor; and the student's own code alone (the
same submissions, each module's code compiled and run and then every call the grader makes, in
one warm plain Python process with NumPy, nothing sandboxed or graded: the CPU time of that loop),
with each row's CPU over it (what grading adds to the student's own work). At steady state: the
batch's CPU per submission between the small and the large class (its start-up cancels out). Then
one ``grade FILE`` (the README's first command, as the ``grade`` script runs it) from process start
to the report's first line and to its exit, several runs after one with an empty cache folder:
min, median, CPU and the load average (``--grade-file-only`` runs just this part).

Classes are generated in a temporary folder: code submissions mix the correct solution, the partly
correct one and small mutations of the correct one (a missing ``* y * (1 - y)``, gradient
ascent…), each ending in a comment with the student's number, so that no two files are the same
bytes (as in a real class: nothing keyed by a source's text is reused); answers files mix the key,
the sample answers and spoilt keys. The default exercise has per-student variants; without
``--variants`` the course secret is unset and everyone is graded on the exercise as written (so
the key earns full marks). With ``--variants`` each student gets their own variant, and the shared
answers files are then wrong everywhere: every answer is diagnosed, the worst case for answers
files. Every ``grade batch`` runs as a new process, under a small wrapper process whose
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the largest resident set of any one process of that
run (the grader, its pool workers, their sandbox workers and the children they fork); the sum over
the whole process tree (RSS, and PSS, which counts pages shared by forked processes once) is
sampled from /proc (RSS ten times a second, PSS twice: more often, the sampling slows the batch).
The sampling still takes CPU from the batch and stalls its page faults, so each code class is
graded once sampled, for its memory, and ``--repeat`` times (3) not sampled, for its times: the
run of median CPU is reported, and the spread of all (this machine's speed drifts from one
minute to the next, by a third between runs a few minutes apart). Memory
that does not grow with the class is the check: the same kind of class at two sizes, and the
ratio of their peaks.

A line under the title gives what this machine charges, in the same minutes, for what a
fork-per-submission sandbox does most: a page fault (a first write to a fresh page; a page copied
on write after a fork costs about as much) and the fork and the exit of a process with NumPy
loaded, so that runs on different machines, or in a slow stretch of one, can be read side by side;
and the steady state's page faults per submission by each process's role (counts, which do not
drift with the machine's speed as times do).

``--all-correct`` makes every code submission the correct solution (each a distinct copy);
``--typed-numbers`` writes that solution's typed answers as the numbers it computes, so that its
module trains nothing as it loads and the student's own cost is the grader's calls alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISE = "tutorial-4"
CLI = [sys.executable, "-c", "from grader.cli import main; import sys; sys.exit(main(sys.argv[1:]))"]
WRAPPER = r"""
import ctypes, json, os, resource, subprocess, sys, time
# A subreaper: a descendant orphaned by its parent's exit (a pool worker's sandbox worker) is reaped
# here, so that its CPU time and peak memory are counted too.
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
            time.sleep(0.01)
    except ChildProcessError:
        break
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-2000:],
                  "maxrss_kb": use.ru_maxrss, "cpu": use.ru_utime + use.ru_stime}))
"""
# The sandbox floor: the same submissions through one bare sandbox worker (the same calls as
# grading makes, nothing graded), in a process of its own so that its CPU time is counted alike.
# Each is read as grade batch reads a file among its classmates' (alone: no helper modules, so
# no listing of the class's folder per submission, which cost the floor about 0.5 ms each).
FLOOR = r"""
import sys
from pathlib import Path
from grader import grading, sandbox, spec, submission
box = sandbox.Sandbox()
box.start()
calls, _ = grading.sandbox_calls(spec.load_exercise(sys.argv[1]))
files = sorted(Path(sys.argv[2]).glob("*.py"))
for f in files:
    box.run(submission.load_source(f, alone=True), calls)
box.close()
print("Graded", len(files), ",")
"""
# The student's own code alone: each submission's module code compiled and run, then every call
# the grader makes (each with its own copies of the arguments, as the sandbox child gives them),
# in this one warm process, unsandboxed (the bench's own generated class), nothing graded. The
# CPU time of that loop only: the process start, NumPy's import and the calls' making are not
# the student's.
OWN = r"""
import contextlib, io, json, sys, time, types
from pathlib import Path
import numpy as np
from grader import grading, spec
calls, _ = grading.sandbox_calls(spec.load_exercise(sys.argv[1]))
files = sorted(Path(sys.argv[2]).glob("*.py"))
sources = [(f.stem, str(f), f.read_text("utf-8")) for f in files]
def run(name, path, text):
    module = types.ModuleType(name)
    module.__file__ = path
    try:
        exec(compile(text, path, "exec", dont_inherit=True), module.__dict__)
    except Exception:
        return
    for call in calls:
        fn = module.__dict__.get(call.function)
        if callable(fn):
            try:
                fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in call.args])
            except Exception:
                pass
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for item in sources[:4]:  # warm: one of each kind of the class
        run(*item)
    cpu, wall = time.process_time(), time.perf_counter()
    for item in sources:
        run(*item)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(json.dumps({"n": len(sources), "cpu": cpu, "wall": wall}))
"""
CORRECT = (SOLUTIONS / "submission.py").read_text("utf-8")
# --typed-numbers: the same solution with its typed answers written as the numbers it computes, as
# many students hand them in. Its module code then trains nothing at import (the sample trains 1,000
# epochs there for E_1000), so the student's own cost is the grader's calls alone.
TYPED_NUMBERS = r"""
import json, sys
import numpy as np
ns = {"__name__": "submission"}
exec(compile(sys.stdin.read(), "submission.py", "exec"), ns)
print(json.dumps({k: np.asarray(v).tolist() for k, v in ns["ANSWERS"].items()}))
"""


def typed_numbers(text: str) -> str:
    """``text`` (the sample solution) with its ANSWERS computed once, by running ``text`` in a
    process of its own, and written as numbers."""
    head, marker, _ = text.partition("# The typed questions")
    if not marker:
        raise SystemExit("the sample solution has no '# The typed questions' block to replace")
    proc = subprocess.run([sys.executable, "-c", TYPED_NUMBERS], input=text, capture_output=True, text=True,
                          check=True)
    return head + _answers_block(json.loads(proc.stdout))


TYPED_BLOCK = "# The typed questions, answered with numbers computed once"


def _answers_block(answers: dict) -> str:
    lines = "".join(f"    {k!r}: {v!r},\n" for k, v in answers.items())
    return f"{TYPED_BLOCK}\nANSWERS = {{\n{lines}}}\n"
MUTATIONS = [
    ("delta2 = (y - t) * y * (1 - y)", "delta2 = (y - t)"),
    ("delta1 = (W2.T @ delta2) * o * (1 - o)", "delta1 = (W2.T @ delta2)"),
    ("W1 -= lr * dW1", "W1 += lr * dW1"),
    ("db1 = delta1.sum(axis=1, keepdims=True)", "db1 = delta1[:, :1]"),
]


# ---------------------------------------------------------------------------- classes
def own_variant(text: str, student: str) -> str:
    """``text`` with its ANSWERS block (as :func:`typed_numbers` writes it) replaced by the key
    of ``student``'s own variant (the course secret is set): a correct submission of theirs."""
    from grader import grading

    head, marker, _ = text.partition(TYPED_BLOCK)
    if not marker:
        return text  # answers computed by the module itself: right for every variant
    return head + _answers_block(grading.answer_key(EXERCISE, student).answers)


def code_class(folder: Path, n: int, all_correct: bool = False, correct: str = CORRECT) -> Path:
    """``n`` code submissions: a quarter mutations, a quarter partly correct, half correct (all
    correct with ``all_correct``: the target is per correct submission; with per-student variants,
    typed numbers are each student's own)."""
    folder.mkdir(parents=True)
    partly = (SOLUTIONS / "partly-correct.py").read_text("utf-8")
    variants = bool(os.environ.get("GRADER_SECRET"))
    for k in range(n):
        if all_correct:
            text = own_variant(correct, f"s{k:05d}") if variants else correct
        elif k % 4 == 0:
            text = correct.replace(*MUTATIONS[(k // 4) % len(MUTATIONS)])
        elif k % 4 == 1:
            text = partly
        else:
            text = correct
        (folder / f"s{k:05d}.py").write_text(f"{text}\n# student {k}\n", encoding="utf-8")
    return folder


def answers_class(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    key = json.loads((SOLUTIONS / "tutorial-4-matrix.key.json").read_text("utf-8"))
    sample = (SOLUTIONS / "sample-answers.json").read_text("utf-8")
    spoilt = json.loads(json.dumps(key))
    first = next(iter(spoilt["answers"]))
    spoilt["answers"][first] = 123.0 if not isinstance(spoilt["answers"][first], list) else [[0.0]]
    texts = [json.dumps(key, indent=1), sample, json.dumps(spoilt, indent=1)]
    for k in range(n):
        (folder / f"s{k:05d}.json").write_text(texts[k % 3], encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------- measuring
# How often the tree's memory is sampled. Reading /proc/PID/smaps_rollup walks a process's page
# tables under its mmap lock, so sampling it every 10 ms kept about one CPU busy and stalled the
# sandbox children's page faults: the 500-submission batch took 23 s and 70 ms of CPU a
# submission under it, against 15 s and 59 ms without. RSS is read from statm instead (counters),
# ten times a second, and PSS twice a second.
SAMPLE_SECONDS = 0.1  # RSS (statm); PSS every PSS_EVERY-th sample
PSS_EVERY = 5
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
TICK = os.sysconf("SC_CLK_TCK")
# Where the CPU of a batch goes, by the place of a process in the tree under the wrapper: the
# batch's own process, its pool workers, their sandbox workers (the zygotes), each one's
# supervisor (its oldest child), and the children and inits it has reaped (its cutime).
ROLES = ("the batch's process", "pool workers", "zygotes", "supervisors", "children and inits (reaped)")


def _scan() -> dict[int, list[bytes]]:
    """Every process's ``/proc/PID/stat`` fields after its name (state, ppid, ...)."""
    procs = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                data = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            procs[int(name)] = data[data.rfind(b")") + 2:].split()
    return procs


def _children(procs: dict[int, list[bytes]]) -> dict[int, list[int]]:
    """Each parent's children, from a :func:`_scan`."""
    children: dict[int, list[int]] = {}
    for pid, fields in procs.items():
        children.setdefault(int(fields[1]), []).append(pid)
    return children


def _tree_memory_kb(root: int, children: dict[int, list[int]], with_pss: bool = True) -> tuple[int, int, int]:
    """Sums of RSS and of PSS (shared pages divided among their sharers: forked workers share
    NumPy) over ``root`` and every process below it; and the RSS of the command itself (the
    wrapper's child: the grader's own process, where the class's rows are gathered). RSS comes
    from ``statm`` (counters, cheap); PSS, only ``with_pss``, from ``smaps_rollup``, which walks
    each process's page tables."""
    rss = pss = own = 0
    command = min(children.get(root, [0]))
    todo = [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            kb = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
            rss += kb
            own += kb if pid == command else 0
            if with_pss:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return rss, pss, own


# /proc/PID/stat fields after the name: (own, reaped children's) of each tally
_CPU = ((11, 12), (13, 14))  # utime + stime, cutime + cstime (clock ticks)
_FAULTS = ((7,), (8,))  # minflt, cminflt: page faults that read nothing from disk (copies on write among them)


def _tree_by_role(root: int, procs: dict[int, list[bytes]], children: dict[int, list[int]],
                  fields: tuple[tuple[int, ...], tuple[int, ...]], scale: float = 1.0) -> dict[str, float]:
    """A counter so far of each of :data:`ROLES` in a ``grade batch --jobs`` tree under ``root``
    (the wrapper): the sum of ``fields`` (the process's own, and those of the children it reaped)
    times ``scale``."""
    mine, reaped = fields
    own = lambda pid: sum(int(procs[pid][f]) for f in mine) * scale  # noqa: E731
    out = dict.fromkeys(ROLES, 0.0)
    for command in children.get(root, []):
        out[ROLES[0]] += own(command)
        for pool in children.get(command, []):
            out[ROLES[1]] += own(pool)
            for zygote in children.get(pool, []):
                out[ROLES[2]] += own(zygote)
                out[ROLES[4]] += sum(int(procs[zygote][f]) for f in reaped) * scale
                kids = children.get(zygote, [])
                if kids:
                    out[ROLES[3]] += own(min(kids, key=lambda k: int(procs[k][19])))  # the oldest: starttime
    return out


def _tree_cpu(root: int, procs: dict[int, list[bytes]], children: dict[int, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each role (:func:`_tree_by_role`)."""
    return _tree_by_role(root, procs, children, _CPU, 1 / TICK)


def _tree_faults(root: int, procs: dict[int, list[bytes]], children: dict[int, list[int]]) -> dict[str, float]:
    """Page faults so far of each role: a count that does not drift with the machine's speed, and
    on a fork per submission mostly the pages copied on write."""
    return _tree_by_role(root, procs, children, _FAULTS)


def _graded(out: Path) -> int:
    try:
        with os.scandir(out / "results") as entries:
            return sum(1 for e in entries if e.name.endswith(".json"))
    except OSError:
        return 0


def run_batch(folder: Path, out: Path, jobs: int, scheduler: str | None = None, floor: bool = False,
              sample: bool = True) -> dict:
    """One ``grade batch`` (``--scheduler`` when given; the bare sandbox with ``floor``) in a new
    process: wall seconds, CPU seconds of the whole tree, the largest process (ru_maxrss of the
    wrapper's children), the peak of the whole tree (sampled, unless not ``sample``: reading every
    process's memory takes a CPU from the batch and stalls its page faults, so the times are
    taken from runs that are not sampled), graded count."""
    how = ["--scheduler", scheduler] if scheduler else ["--jobs", str(jobs)]
    cmd = [sys.executable, "-c", WRAPPER, *CLI, "batch", str(folder), "-e", EXERCISE, "-o", str(out), *how]
    if floor:
        cmd = [sys.executable, "-c", WRAPPER, sys.executable, "-c", FLOOR, EXERCISE, str(folder)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak_rss = peak_pss = peak_own = 0
    samples = 0
    by_role: list[tuple[int, dict[str, float]]] = []  # (results written, CPU per role) at each sample
    faults: list[tuple[int, dict[str, float]]] = []  # (results written, page faults per role)
    while sample and proc.poll() is None:
        procs = _scan()
        children = _children(procs)
        rss, pss, own = _tree_memory_kb(proc.pid, children, with_pss=samples % PSS_EVERY == PSS_EVERY // 2)
        if not floor and scheduler is None:
            done = _graded(out)
            by_role.append((done, _tree_cpu(proc.pid, procs, children)))
            faults.append((done, _tree_faults(proc.pid, procs, children)))
        samples += 1
        peak_rss, peak_pss, peak_own = max(peak_rss, rss), max(peak_pss, pss), max(peak_own, own)
        try:
            proc.wait(timeout=SAMPLE_SECONDS)  # returns as soon as the batch ends: its wall time stays exact
        except subprocess.TimeoutExpired:
            pass
    out_text = proc.communicate()[0]
    wall = time.perf_counter() - start
    report = json.loads(out_text)
    if report["rc"] != 0:
        raise SystemExit(f"grade batch failed ({report['rc']}): {report['stderr']}")
    graded = int(report["stdout"].split("Graded ", 1)[1].split(",")[0])
    n = graded if floor else len(list((out / "results").glob("*.json")))
    assert graded == n, (graded, n)
    return {"wall": wall, "cpu": report["cpu"], "maxrss_mb": report["maxrss_kb"] / 1024,
            "tree_rss_mb": peak_rss / 1024, "tree_pss_mb": peak_pss / 1024, "own_mb": peak_own / 1024, "n": n,
            "roles": _steady_roles(by_role, n), "faults": _steady_roles(faults, n)}


def _steady_roles(by_role: list[tuple[int, dict[str, float]]], n: int) -> tuple[int, int, dict[str, float]] | None:
    """A per-role counter (CPU seconds, page faults) per submission between the first sample with a fifth of the class
    written and the last one with at most nine tenths (start-up, and the end, where the pool's
    processes exit and leave the sum, left out): (from, to, per role); None when the run was too
    short to tell."""
    start = next((k for k, (done, _) in enumerate(by_role) if done >= n // 5), None)
    end = max((k for k, (done, _) in enumerate(by_role) if done <= n * 9 // 10), default=None)
    if start is None or end is None or by_role[end][0] - by_role[start][0] < max(10, n // 5):
        return None
    (a, first), (b, last) = by_role[start], by_role[end]
    per = {role: (last[role] - first[role]) / (b - a) for role in ROLES}
    return (a, b, per) if min(per.values()) >= 0 else None


def target_line(jobs: int, n: int, steady_ms: float | None, startup_ms: float, wall_s: float) -> str:
    """The issue's two targets for a class of ``n`` correct submissions: at most 25 ms of CPU each
    at steady state (with start-up when there is no steady state to tell: one class size), and 500
    of them in under 8 s of wall-clock time (``wall_s`` scaled to 500)."""
    cpu, where = (steady_ms, "at steady state") if steady_ms is not None else (startup_ms, "with start-up")
    per500 = wall_s * 500 / n
    return (f"target: at most 25 ms CPU per code submission {where} in grade batch --jobs {jobs}: "
            f"{'met' if cpu <= 25 else 'NOT met'} ({cpu:.1f} ms; {startup_ms:.1f} with start-up); "
            f"500 submissions in under 8 s: {'met' if per500 < 8 else 'NOT met'} ({wall_s:.1f} s for {n})")


def own_code(folder: Path) -> dict:
    """The student's own code alone (:data:`OWN`): wall and CPU seconds of its loop, count."""
    proc = subprocess.run([sys.executable, "-c", OWN, EXERCISE, str(folder)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the student's own code failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fresh_processes(folder: Path, count: int, parallel: int) -> float:
    """Wall seconds to grade ``count`` submissions, each by a new ``grade FILE`` process,
    ``parallel`` at a time."""
    files = sorted(folder.glob("*.py"))[:count]
    start = time.perf_counter()
    running: list[subprocess.Popen] = []
    for f in files:
        while len(running) >= parallel:
            running.pop(0).wait()
        running.append(subprocess.Popen([*CLI, str(f), "-e", EXERCISE, "--format", "json"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in running:
        p.wait()
    return time.perf_counter() - start


GRADE = [sys.executable, "-c", "from grader.__main__ import main; main()"]  # what the grade script runs


MACHINE = r"""
import json, mmap, os, resource, statistics, time
import numpy  # noqa: F401 - forked as a sandbox worker is: a process with NumPy loaded
PAGES = 2000

def touch():  # the first write to each page of a fresh mapping (a page fault each) less a second one
    buf = mmap.mmap(-1, PAGES * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    passes = []
    for _ in range(2):
        t = time.thread_time()
        for i in range(PAGES):
            buf[i * mmap.PAGESIZE] = 1
        passes.append(time.thread_time() - t)
    buf.close()
    return (passes[0] - passes[1]) / PAGES

def fork(n=100):  # a fork and an immediate exit: the parent's CPU and the child's
    t, c = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    d = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.process_time() - t) / n, (d.ru_utime + d.ru_stime - c.ru_utime - c.ru_stime) / n

fork(10)
print(json.dumps({"page_fault": statistics.median(touch() for _ in range(5)),
                  "fork": statistics.median(f[0] for f in (fork() for _ in range(3))),
                  "exit": statistics.median(f[1] for f in (fork() for _ in range(3)))}))
"""


def machine_costs() -> dict:
    """What this machine charges for what a fork-per-submission sandbox does most, in seconds:
    a page fault (the first write to a fresh page; one copied on write after a fork costs about
    as much), and the fork and the exit of a process with NumPy loaded (each side's CPU)."""
    proc = subprocess.run([sys.executable, "-c", MACHINE], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"the machine probe failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def one_grade_file(runs: int) -> dict:
    """``grade solutions/submission.py -e tutorial-4`` (the README's first command) as the ``grade``
    script runs it, ``runs`` times one after the other after a first run with an empty cache
    folder (which fills it): seconds from process start to the report's first line and to the
    exit, CPU seconds of the process and its sandbox worker; the errors of runs that failed (not
    timed). Bytecode is written and read as an installed grader's is (PYTHONDONTWRITEBYTECODE
    would compile every module on every run)."""
    out: dict = {"report": [], "exit": [], "cpu": [], "failed": [], "first": None}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "GRADER_CACHE_DIR")}
    with tempfile.TemporaryDirectory(prefix="bench-grade-file-") as cache:
        env["GRADER_CACHE_DIR"] = cache
        for k in range(runs + 1):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.Popen([*GRADE, str(SOLUTIONS / "submission.py"), "-e", EXERCISE], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=ROOT, env=env)
            first = proc.stdout.readline() and time.perf_counter() - start
            proc.stdout.read()
            err = proc.stderr.read().decode(errors="replace")
            proc.wait()
            end = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0 or not first:
                out["failed"].append(f"exit {proc.returncode}: {err.strip()[-300:]}")
            elif not k:
                out["first"] = first
            else:
                out["report"].append(first)
                out["exit"].append(end)
                out["cpu"].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return out


def print_grade_file(single: dict, load: float, ncpu: int | None) -> None:
    def ms(values: list[float]) -> str:
        values = sorted(values)
        return f"min {1000 * values[0]:.0f} ms, median {1000 * values[len(values) // 2]:.0f} ms"

    if single["report"]:
        median = sorted(single["report"])[len(single["report"]) // 2]
        print(f"one `grade FILE` of solutions/submission.py (the grade script), {len(single['report'])} runs, "
              f"load average {load:.1f} on {ncpu} cores:")
        print(f"  process start to the report's first line: {ms(single['report'])}; target 350 ms: "
              f"{'met' if median <= 0.35 else 'NOT met'}")
        print(f"  process start to exit: {ms(single['exit'])}; CPU of the grader and its sandbox worker: "
              f"{ms(single['cpu'])}")
        if single["first"]:
            print(f"  the first run, with an empty cache folder (key, validation, probe): "
                  f"{1000 * single['first']:.0f} ms to the report")
    for error in single["failed"]:
        print(f"  a `grade FILE` run failed: {error}")


# ---------------------------------------------------------------------------- the table
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--code", type=int, default=500, help="code submissions in the large class")
    ap.add_argument("--answers", type=int, default=1000, help="answers files in the large class (0: none)")
    ap.add_argument("--fresh", type=int, default=20, help="submissions graded by a fresh process each")
    ap.add_argument("--grade-file", type=int, default=9, help="runs of one `grade FILE` (the README's first command)")
    ap.add_argument("--grade-file-only", action="store_true", help="only the `grade FILE` runs (no batch)")
    ap.add_argument("--variants", action="store_true", help="grade every student on their own variant")
    ap.add_argument("--all-correct", action="store_true",
                    help="every code submission the correct solution (distinct copies), not the mixed class")
    ap.add_argument("--typed-numbers", action="store_true",
                    help="the correct solution's typed answers written as numbers (nothing trained at import)")
    ap.add_argument("--no-dask", dest="dask", action="store_false", help="skip --scheduler local:JOBS")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed runs of each code class (the median by CPU is reported, and the spread)")
    args = ap.parse_args()
    if args.variants:
        os.environ["GRADER_SECRET"] = "bench-course-secret"
    else:
        os.environ.pop("GRADER_SECRET", None)
    os.environ.pop("GRADER_JOBS", None)
    small_code, small_answers = max(1, args.code // 5), max(1, args.answers // 4)
    if args.grade_file_only:
        load = os.getloadavg()[0]
        single = one_grade_file(args.grade_file)
        print_grade_file(single, (load + os.getloadavg()[0]) / 2, os.cpu_count())
        return

    correct = typed_numbers(CORRECT) if args.typed_numbers else CORRECT
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        rows = []
        runs = {}
        classes = [("code", code_class, small_code), ("code", code_class, args.code)]
        if args.answers:  # --answers 0: the code classes alone
            classes += [("answers", answers_class, small_answers), ("answers", answers_class, args.answers)]
        for label, make, n in classes:
            folder = code_class(tmp / f"{label}-{n}", n, args.all_correct, correct) if make is code_class else \
                make(tmp / f"{label}-{n}", n)
            r = run_batch(folder, tmp / f"{label}-{n}-grades", args.jobs)
            if make is code_class:  # the times of runs whose memory is not sampled; its memory, sampled
                timed = sorted((run_batch(folder, tmp / f"{label}-{n}-timed-{k}", args.jobs, sample=False)
                                for k in range(max(1, args.repeat))), key=lambda t: t["cpu"])
                sampled = ("maxrss_mb", "tree_rss_mb", "tree_pss_mb", "own_mb", "roles", "faults")
                r = dict(timed[len(timed) // 2], **{k: r[k] for k in sampled})
                r["spread"] = [(t["wall"], t["cpu"]) for t in timed]
            runs[(label, n)] = r
            rows.append((f"grade batch, {n} {'code submissions' if label == 'code' else 'answers files'}, "
                         f"--jobs {args.jobs}", r))
        big_folder = tmp / f"code-{args.code}"
        dask_run = run_batch(big_folder, tmp / "dask-grades", args.jobs, scheduler=f"local:{args.jobs}",
                             sample=False) if args.dask else None
        floor = run_batch(big_folder, tmp / "floor", args.jobs, floor=True, sample=False)
        own = own_code(big_folder)
        fresh_seq = fresh_processes(tmp / f"code-{args.code}", args.fresh, 1) / args.fresh if args.fresh else None
        fresh_par = fresh_processes(tmp / f"code-{args.code}", args.fresh, args.jobs) / args.fresh \
            if args.fresh else None
        load = os.getloadavg()[0]
        single = one_grade_file(args.grade_file)
        load = (load + os.getloadavg()[0]) / 2
        ncpu = os.cpu_count()
        machine = machine_costs()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"grade batch on {ncpu} cores, Python {sys.version.split()[0]}, exercise {EXERCISE} "
          f"({'per-student variants' if args.variants else 'as written, no course secret'}; code submissions "
          f"{'all correct' if args.all_correct else 'a quarter wrong, a quarter partly correct, half correct'}"
          f"{', typed answers as numbers' if args.typed_numbers else ''})")
    print(f"this machine, in the same minutes: a page fault {1e6 * machine['page_fault']:.2f} us (the first write "
          f"to a fresh page; a page copied on write after a fork costs about as much), a fork of a process with "
          f"NumPy {1000 * machine['fork']:.2f} ms of its CPU and its child's exit {1000 * machine['exit']:.2f} ms\n")
    head = (f"{'run':<52} {'wall s':>8} {'ms/sub':>8} {'subs/s':>8} {'max proc MB':>12} {'tree RSS MB':>12} "
            f"{'tree PSS MB':>12}")
    print(head)
    print("-" * len(head))
    for name, r in rows:
        print(f"{name:<52} {r['wall']:8.2f} {1000 * r['wall'] / r['n']:8.1f} {r['n'] / r['wall']:8.1f} "
              f"{r['maxrss_mb']:12.1f} {r['tree_rss_mb']:12.1f} {r['tree_pss_mb']:12.1f}")

    big = runs[("code", args.code)]
    batch_ms = 1000 * big["wall"] / big["n"]
    print()
    own_ms = 1000 * own["cpu"] / own["n"]
    print(f"{'per code submission, ' + str(args.code) + ' submissions':<52} {'wall ms':>8} {'CPU ms':>8} "
          f"{'CPU vs floor':>13} {'CPU over own code ms':>21}")
    print("-" * 106)
    per = [(f"grade batch --jobs {args.jobs}", big)]
    if dask_run is not None:
        per.append((f"grade batch --scheduler local:{args.jobs} (cluster start included)", dask_run))
    per.append(("sandbox floor: the same calls through one bare worker", floor))
    per.append(("the student's own code alone (one plain process)", own))
    for name, r in per:
        print(f"{name:<52} {1000 * r['wall'] / r['n']:8.1f} {1000 * r['cpu'] / r['n']:8.1f} "
              f"{r['cpu'] / floor['cpu']:12.2f}x {1000 * r['cpu'] / r['n'] - own_ms:21.1f}")
    if len(big.get("spread", [])) > 1:  # this machine's speed drifts from one minute to the next
        print(f"grade batch --jobs {args.jobs}, {len(big['spread'])} timed runs of {big['n']} (the median above): CPU ms "
              + ", ".join(f"{1000 * c / big['n']:.1f}" for _, c in big["spread"]) + "; wall s "
              + ", ".join(f"{w:.1f}" for w, _ in big["spread"]))
    roles = big.get("roles")
    if roles is not None:  # from the memory-sampled run of the large class
        a, b, per_role = roles
        total = sum(per_role.values())
        print(f"where a code submission's CPU goes at steady state (the sampled run of {big['n']}, between its "
              f"{a}th and {b}th result; processes' own clocks): "
              + ", ".join(f"{role} {1000 * v:.1f} ms" for role, v in per_role.items())
              + f"; in all {1000 * total:.1f} ms, the student's own code {own_ms:.1f} ms of it")
    faults = big.get("faults")
    if faults is not None:
        fault_ms = 1000 * machine["page_fault"] * sum(faults[2].values())
        print("page faults per code submission in the same window: "
              + ", ".join(f"{role} {v:.0f}" for role, v in faults[2].items())
              + f" (at {1e6 * machine['page_fault']:.1f} us each, {fault_ms:.1f} ms)")
    small = runs[("code", small_code)]
    steady = None
    if big["n"] > small["n"]:  # start-up (imports, the pool, its sandbox workers) cancels out
        steady = 1000 * (big["cpu"] - small["cpu"]) / (big["n"] - small["n"])
        print(f"at steady state (the {small['n']}- and {big['n']}-submission batches' difference): "
              f"{steady:.1f} ms CPU per submission, {steady - own_ms:.1f} ms over the student's own code "
              f"({own_ms:.1f} ms); over the floor (start-up included in both): "
              f"{1000 * (big['cpu'] - floor['cpu']) / big['n']:.1f} ms")
    print(target_line(args.jobs, big["n"], steady, 1000 * big["cpu"] / big["n"], big["wall"]))
    print()
    if fresh_seq is not None:  # --fresh 0: no fresh processes
        print(f"{'per code submission':<52} {'ms/sub':>8} {'batch is':>10}")
        print("-" * 72)
        print(f"{f'grade batch --jobs {args.jobs} ({args.code} submissions)':<52} {batch_ms:8.1f} {'':>10}")
        for name, t in [(f"fresh `grade FILE` process each, 1 at a time ({args.fresh})", fresh_seq),
                        (f"fresh `grade FILE` process each, {args.jobs} at a time ({args.fresh})", fresh_par)]:
            print(f"{name:<52} {1000 * t:8.1f} {1000 * t / batch_ms:9.1f}x")
        print(f"  extrapolated to {args.code}: {fresh_seq * args.code:.0f} s one at a time, "
              f"{fresh_par * args.code:.0f} s {args.jobs} at a time, against {big['wall']:.1f} s in one batch")

    print()
    print_grade_file(single, load, ncpu)
    print()
    print(f"{'memory against class size':<40} {'small':>10} {'large':>10} {'ratio':>7}")
    print("-" * 70)
    for label, small, large in [("code", small_code, args.code), ("answers", small_answers, args.answers)]:
        if (label, large) not in runs:
            continue
        a, b = runs[(label, small)], runs[(label, large)]
        for what, key in [("largest process", "maxrss_mb"), ("grader's own process", "own_mb"),
                          ("tree RSS", "tree_rss_mb"), ("tree PSS", "tree_pss_mb")]:
            name = f"{label} {small} vs {large}: {what} MB"
            print(f"{name:<40} {a[key]:10.1f} {b[key]:10.1f} {b[key] / a[key] if a[key] else float('nan'):7.2f}")
    if fresh_seq is None:
        return
    speedup = 1000 * fresh_seq / batch_ms
    print(f"\ntarget: batch at least 5x faster per code submission than a fresh process: "
          f"{'met' if speedup >= 5 else 'NOT met'} ({speedup:.1f}x against one at a time, "
          f"{1000 * fresh_par / batch_ms:.1f}x against {args.jobs} at a time)")



if __name__ == "__main__":
    main()
