"""The sandbox against a corpus of hostile submissions (tests/hostile/), and its pieces.

Each file in tests/hostile/ declares what must happen in header comments:

    # expect: load=ok forward=invalid_output sigmoid=ok   statuses (calls run in this order)
    # message: forward~complex                            substring of that outcome's message
    # expect from 3.12: forward=error                     from that Python on, these instead
    # message from 3.12: forward~RecursionError           (where Python itself behaves otherwise)
    # limits: cpu=1 wall=3 memory=400 file=2 processes=24 result=1
    # calls: probe() / connect(port)                      arguments other than the sheet's
    # check: name ...                                     extra assertions (CHECKS below)
    # needs: landlock                                     layers the expectation relies on
    # before: planter.py                                  a submission run just before

After every case the grader process must be unharmed, no process of the submission may be
left, and the sandbox must still grade the correct submission. Where doctor() says a layer is
not active on this machine, a case that needs it asserts that the run reports the layer as
missing instead of asserting its statuses.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchkit import process_table

from grader.errors import SandboxUnavailable
from grader.sandbox import Call, CallOutcome, Limits, Sandbox, SubmissionRun, doctor
from grader.sandbox import _decode as D
from grader.sandbox import _files as F
from grader.sandbox import _worker as W
from grader.sandbox._worker.layers import cgroup as CG
from grader.sandbox._worker.supervisor import AHEAD, PAIR
from grader.submission import load_source

HOSTILE = Path(__file__).parent / "hostile"
CORRECT = HOSTILE / "correct.py"
# Held only by this process: no child may ever find it (frame_walk.py, gc_scan.py look).
MARKER = "GRADER-PARENT-MARKER-" + uuid.uuid4().hex
VICTIM = Path("/tmp/grader_hostile_victim")

# The sheet's network (tutorial 4): x = (0.05, 0.10), targets (0.01, 0.99).
X = np.array([[0.05], [0.10]])
T = np.array([[0.01], [0.99]])
W1 = np.array([[0.15, 0.20], [0.25, 0.30]])
B1 = np.array([[0.35], [0.35]])
W2 = np.array([[0.40, 0.45], [0.50, 0.55]])
B2 = np.array([[0.60], [0.60]])
ARGS = {"x": X, "t": T, "W1": W1, "b1": B1, "W2": W2, "b2": B2, "lr": 0.5, "epochs": 3, "z": W1}
STANDARD = {"sigmoid": ("z",), "forward": ("x", "W1", "b1", "W2", "b2"),
            "backward": ("x", "t", "W1", "b1", "W2", "b2"),
            "train": ("x", "t", "W1", "b1", "W2", "b2", "lr", "epochs")}
TEST_LIMITS = Limits(wall_seconds=4, cpu_seconds=2, memory_mb=512, file_size_mb=4, processes=32,
                     output_bytes=16384, result_bytes=8 << 20)
LIMIT_KEYS = {"cpu": "cpu_seconds", "wall": "wall_seconds", "memory": "memory_mb", "file": "file_size_mb",
              "processes": "processes", "output": "output_bytes", "result": "result_bytes"}

ORIGINALS = {"allclose": np.allclose, "isfinite": np.isfinite, "asarray": np.asarray, "len": builtins.len,
             "isinstance": builtins.isinstance, "json.dumps": json.dumps}


def reference():
    import importlib.util

    spec = importlib.util.spec_from_file_location("hostile_correct", CORRECT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = reference()


# ---------------------------------------------------------------------------- processes
def descendants_of(pid: int, table=None) -> list[int]:
    table = table or process_table()
    out, todo = [], [pid]
    while todo:
        here = todo.pop()
        for child, (ppid, *_) in table.items():
            if ppid == here:
                out.append(child)
                todo.append(child)
    return out


def leftovers(box: Sandbox) -> list[int]:
    """Processes of the worker's other than the supervisor and, for each of the next submissions,
    an init and one idle, isolated child, forked ahead of its turn (it has run no student code)."""
    box.settle()  # a run returns with its results; the worker reaps its processes meanwhile
    members = namespace_members(box.worker_pid)
    table = process_table()
    spare = {p for p in box._spare if table.get(p, (None,))[0] == box.worker_pid}
    assert len(box._spare) <= 1 + 2 * (AHEAD + PAIR - 1), \
        f"more than the supervisor and an init and a child per slot: {box._spare}"
    assert not [p for p in spare for c, (ppid, *_) in table.items() if ppid == p], \
        f"a process forked ahead has a child of its own: {spare}"
    found = set(descendants_of(box.worker_pid, table)) | (members & set(table))
    return sorted(found - spare)


def namespace_members(pid: int) -> set[int]:
    """Processes sharing the worker's mount or network namespace (as root the worker makes its
    own): a process of ours that escaped the worker's tree would still be found here. Other
    sandboxes on the machine (another test run) are in namespaces of their own."""
    own = {}
    for ns in ("mnt", "net"):
        try:
            own[ns] = os.readlink(f"/proc/{pid}/ns/{ns}")
        except OSError:
            return set()
    members = set()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == pid:
            continue
        for ns, ident in own.items():
            try:
                if os.readlink(f"/proc/{name}/ns/{ns}") == ident and ident != os.readlink(f"/proc/self/ns/{ns}"):
                    members.add(int(name))
            except OSError:
                pass
    return members


def _describe_process(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        keep = [line for line in status.splitlines() if line.split(":")[0] in ("Name", "State", "PPid", "Uid")]
        return f"{pid}: " + ", ".join(keep)
    except OSError:
        return f"{pid}: gone"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    fields = stat_line[stat_line.rfind(b")") + 2:].split()
    # a zombie, or a task already exiting (PF_EXITING: the init of a dead PID namespace waits in
    # the kernel for zombies to be reaped), runs no code any more
    return fields[0] != b"Z" and not int(fields[6]) & 0x4


# ---------------------------------------------------------------------------- the corpus
@dataclass
class Case:
    path: Path
    expect: dict[str, str]
    messages: list[tuple[str, str]] = field(default_factory=list)
    limits: Limits = TEST_LIMITS
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    before: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (name beside it, target), made by prepare()


def parse_case(path: Path) -> Case:
    code = load_source(path).code
    header: dict[str, list[str]] = {}
    later: list[tuple[tuple[int, int], str, str]] = []  # "from X.Y" lines that hold on this Python
    for line in code.splitlines():
        m = re.match(r"#\s*(expect|message|limits|calls|check|needs|before|links)(?: from (\d+)\.(\d+))?:\s*(.*)$",
                     line)
        if m is None:
            continue
        key, text = m.group(1), m.group(4).strip()
        if m.group(2) is None:
            header.setdefault(key, []).append(text)
            continue
        assert key in ("expect", "message"), f"{path.name}: only expect and message lines may name a Python"
        since = (int(m.group(2)), int(m.group(3)))
        if sys.version_info[:2] >= since:
            later.append((since, key, text))
    assert "expect" in header, f"{path.name} has no '# expect:' line"
    expect = dict(item.split("=", 1) for item in header["expect"][0].split())
    messages = [tuple(m.split("~", 1)) for m in header.get("message", [])]
    for _, key, text in sorted(later):  # the newest Python's lines last: they win
        if key == "expect":
            expect.update(item.split("=", 1) for item in text.split())
        else:
            name, wanted = text.split("~", 1)
            messages = [(n, t) for n, t in messages if n != name] + [(name, wanted)]
    overrides = {}
    for item in " ".join(header.get("limits", [])).split():
        key, value = item.split("=")
        overrides[LIMIT_KEYS[key]] = float(value) if key in ("cpu", "wall") else int(value)
    if "result_bytes" in overrides:
        overrides["result_bytes"] *= 1 << 20
    limits = Limits(**{**TEST_LIMITS.__dict__, **overrides})
    calls = []
    for spec in " ".join(header.get("calls", [])).split():
        name, args = re.match(r"(\w+)\((.*)\)", spec).groups()
        calls.append((name, tuple(a for a in args.split(",") if a)))
    for name in expect:
        if name != "load" and name not in [c[0] for c in calls]:
            calls.append((name, STANDARD[name]))
    needs = [n.strip() for n in " ".join(header.get("needs", [])).split(",") if n.strip()]
    links = [tuple(item.split("->", 1)) for item in " ".join(header.get("links", [])).split()]
    return Case(path, expect, messages, limits, calls, " ".join(header.get("check", [])).split(), needs,
                " ".join(header.get("before", [])).split(), links)


CASE_FILES = sorted(p for p in HOSTILE.iterdir() if p.suffix in (".py", ".ipynb")
                    and not p.name.startswith("_") and p.name != "correct.py")


@pytest.fixture(scope="module")
def box():
    # The secret is in the grader's environment when the worker starts: nothing may pass it on.
    with pytest.MonkeyPatch.context() as mp, Sandbox() as sandbox:
        mp.setenv("GRADER_SECRET", "planted")
        sandbox.start()
        yield sandbox


@pytest.fixture(scope="module")
def layers() -> dict[str, tuple[bool, str]]:
    return {name: (active, detail) for name, active, detail in doctor()}


@pytest.fixture(scope="module")
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.1)
    yield sock
    sock.close()


def run_case(box: Sandbox, case: Case, source_path: Path, port: int) -> SubmissionRun:
    calls = [Call(name, tuple(port if a == "port" else ARGS[a] for a in args)) for name, args in case.calls]
    return box.run(load_source(source_path), calls, case.limits)


def run_correct(box: Sandbox, limits: Limits = TEST_LIMITS) -> SubmissionRun:
    calls = [Call("sigmoid", (W1,)), Call("forward", (X, W1, B1, W2, B2)), Call("backward", (X, T, W1, B1, W2, B2)),
             Call("train", (X, T, W1, B1, W2, B2, 0.5, 3))]
    return box.run(load_source(CORRECT), calls, limits)


def assert_correct(run: SubmissionRun) -> None:
    assert run.load_status == "ok", run.load_message
    assert [o.status for o in run.outcomes] == ["ok"] * 4, [o.message for o in run.outcomes]
    expected = [(REF.sigmoid(W1),), REF.forward(X, W1, B1, W2, B2), REF.backward(X, T, W1, B1, W2, B2),
                REF.train(X, T, W1, B1, W2, B2, 0.5, 3)]
    for outcome, want in zip(run.outcomes, expected, strict=True):
        assert len(outcome.values) == len(want)
        for got, exp in zip(outcome.values, want, strict=True):
            assert type(got) is np.ndarray and got.dtype == np.float64
            np.testing.assert_allclose(got, exp, rtol=1e-12)


def assert_unharmed(box: Sandbox, cwd: str) -> None:
    pid = box.worker_pid
    assert pid is not None and alive(pid), "the worker is gone"
    left = leftovers(box)
    assert not left, (f"a process of the submission outlived it (worker {pid}, spare {box._spare}): "
                      + "; ".join(_describe_process(p) for p in left))
    for name, original in ORIGINALS.items():
        module, attr = (json, "dumps") if name == "json.dumps" else \
            (builtins, name) if name in ("len", "isinstance") else (np, name)
        assert getattr(module, attr) is original, f"{name} was changed in the grader's process"
    assert os.getcwd() == cwd
    assert os.environ.get("GRADER_SECRET") in (None, "planted")


# ---------------------------------------------------------------------------- extra checks
def _value(run: SubmissionRun, k: int = 0) -> float:
    return float(run.outcomes[k].values[0])


def check_forward_is_zeros(run, ctx):
    values = run.outcomes[[c[0] for c in ctx["case"].calls].index("forward")].values
    assert len(values) == 2
    for v in values:
        assert type(v) is np.ndarray and v.dtype == np.float64 and v.shape == (2, 1)
        assert not v.any(), "the grader must see the real data, not what the object claims"


def check_scalars_arrive_0d(run, ctx):
    o, y = run.outcomes[0].values
    assert o.shape == () and float(o) == 0.5 and y.shape == () and float(y) == 0.25
    (s,) = run.outcomes[1].values
    assert s.shape == () and s.dtype == np.float64 and float(s) == 3.0


def check_parent_untouched(run, ctx):
    # the patches lived in the child only: here numpy and builtins still tell zeros from ones
    assert not np.allclose(np.zeros(2), np.ones(2)) and not np.isfinite(np.inf)
    assert len([1, 2]) == 2 and not isinstance(1, str) and json.dumps(1) == "1"


def check_probe_found_nothing(run, ctx):
    assert _value(run) == 0.0, run.output
    assert MARKER.startswith("GRADER-PARENT-MARKER-")  # and the marker is alive in this process


def check_secrets_unreadable(run, ctx):
    assert _value(run) == 0.0, run.output


def check_no_secret_seen(run, ctx):
    found, extra = (float(v) for v in run.outcomes[0].values)
    assert found == 0.0, run.output
    assert extra == 0.0, run.output


def check_output_escaped(run, ctx):
    lines = run.output.splitlines()
    assert lines, "the printed output is kept"
    for line in lines:
        assert not line.lstrip().startswith(("::", "##[")), line
        assert "\x1b" not in line and "\r" not in line and "\u202e" not in line
    text = run.output
    assert "\\x3a:error file=grader.py,line=1::all tests failed" in text
    assert "\\x23#[error]fake" in text
    assert "\\x1b[32mPASSED\\x1b[0m\\rovertyped\\u202eevil" in text
    assert "Ran 10 tests: 10 passed, 0 failed" in text  # shown, escaped, but never trusted
    assert "\\x3a:notice::inside forward" in text and "\\x3a:warning::from stderr" in text


def check_bad_output_escaped(run, ctx):
    text = run.output
    assert "bad \\xff\\xfe utf8 \\xc3" in text
    assert "\\x00nul\\x07bell\\x1b]0;title\\x07" in text
    assert "  \\x3a:error file=a.py::indented" in text
    assert "\\x3a:error::injected from stderr" in text


def check_no_results_json_outside(run, ctx):
    for path in ("/tmp/results.json", "/work/main/results.json", os.path.join(ctx["cwd"], "results.json"),
                 os.path.expanduser("~/results.json")):
        assert not os.path.exists(path), f"{path} was written by the submission"


def pid_namespace_members(ns: str) -> list[int]:
    """Every process on the machine in the PID namespace ``ns`` (pid:[…]) that was started
    before now: once a namespace is freed its number goes to the next one made on the machine
    (another test run's sandbox), whose processes are younger than this call."""
    now = time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK")
    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.readlink(f"/proc/{name}/ns/pid") == ns and alive(int(name)):
                stat = Path(f"/proc/{name}/stat").read_bytes()
                if int(stat[stat.rfind(b")") + 2:].split()[19]) < now:  # field 22: start time
                    found.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return found


def check_daemon_killed(run, ctx):
    m = re.search(r"DAEMON (\d+) (\S+)", run.output)
    assert m, run.output
    pid, ns = int(m.group(1)), m.group(2)
    if ns not in ("-", os.readlink("/proc/self/ns/pid")):  # its own PID namespace: nothing may be left in it
        assert pid_namespace_members(ns) == [], "the daemon survived its submission"
    else:
        assert not alive(pid), "the daemon survived its submission"
    time.sleep(1.0)  # past the moment it would have written its file
    assert not os.path.exists("/tmp/grader-hostile-daemon-wrote-this")


def check_flood_trimmed(run, ctx):
    limit = ctx["case"].limits.output_bytes
    m = re.search(r"\[… (\d+) bytes more\]", run.output)
    assert m, run.output[-200:]
    assert int(m.group(1)) >= (1 << 30) - limit
    assert len(run.output.encode()) < 2 * limit
    assert ctx["elapsed"] < 15, f"a 1 GB flood took {ctx['elapsed']:.1f} s"


def check_next_submission_unaffected(run, ctx):
    assert_correct(run_correct(ctx["box"]))
    import numpy

    for folder in {os.path.dirname(os.path.dirname(numpy.__file__)), "/tmp"}:
        for name in ("sitecustomize.py", "usercustomize.py", "zz_evil.pth"):
            assert not os.path.exists(os.path.join(folder, name)), f"{name} left in {folder}"


def check_victim_intact(run, ctx):
    assert (VICTIM / "victim.txt").read_text() == "victim", "a file outside scratch was changed"
    assert _value(run) == 0.0
    shutil.rmtree(VICTIM)


def check_scratch_emptied(run, ctx):
    ctx["box"].settle()
    root = ctx["box"]._scratch
    # In its own mount namespace the worker's scratch is a tmpfs only visible through it.
    view = f"/proc/{ctx['box'].worker_pid}/root{root}"
    for path in (view, root):
        if os.path.isdir(path):
            # only the next submissions' directories, made ahead of time, and still empty
            ahead = ctx["box"]._ahead_scratch
            assert ahead, "no slot prepared for the next submission"
            left = [n for n in os.listdir(path) if n not in (*ahead, ".root")]  # .root: the view
            assert left == [], f"scratch not emptied: {left}"
            for name in set(ahead) & set(os.listdir(path)):
                assert os.listdir(os.path.join(path, name)) == []


def check_forward_correct(run, ctx):
    names = [c[0] for c in ctx["case"].calls]
    o, y = run.outcomes[names.index("forward")].values
    want_o, want_y = REF.forward(X, W1, B1, W2, B2)
    np.testing.assert_allclose(o, want_o, rtol=1e-12)
    np.testing.assert_allclose(y, want_y, rtol=1e-12)


def check_notebook_notes(run, ctx):
    notes = load_source(ctx["case"].path).notes
    assert any("%matplotlib inline" in n for n in notes) and any("%%time" in n for n in notes)


def check_answers_passed_through(run, ctx):
    assert run.answers_json is not None
    data = json.loads(run.answers_json)  # Python's lenient reader: NaN passes here, not in the grader's
    assert data["a"] == 0.75 and data["b"] == [[1.0, 2.0]] and isinstance(data["c"], str)
    assert data["d"] != data["d"] and data["e"] == "8.22e-2"


def check_escapes_failed(run, ctx):
    assert _value(run) == 0.0, run.output


def worker_cgroups(box: Sandbox) -> set[str]:
    """The cgroups (in every hierarchy) made by this sandbox's worker."""
    box.settle()
    parents, _ = CG.cgroup_parents()  # the worker is in this process's cgroups
    prefix = f"{CG.CGROUP_PREFIX}{box.worker_pid}-"
    found = set()
    for key, parent in (parents or {}).items():
        if key != "version" and os.path.isdir(parent):
            found |= {os.path.join(parent, n) for n in os.listdir(parent) if n.startswith(prefix)}
    return found


def check_no_cgroup_left(run, ctx):
    box = ctx["box"]
    made = worker_cgroups(box)
    spare = {f"{CG.CGROUP_PREFIX}{box.worker_pid}-{name}" for name in box._ahead_scratch}  # made ahead
    left = {p for p in made if os.path.basename(p) not in spare}
    assert not left, f"cgroups left behind: {sorted(left)}"
    for path in worker_cgroups(box):  # and the next one's holds at most its one idle child
        with open(os.path.join(path, "cgroup.procs")) as f:
            assert len(f.read().split()) <= 1, path


def _host_sysv(key: int) -> list[str]:
    """SysV objects with this key anywhere the grader can see (its own IPC namespace)."""
    found = []
    for name in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{name}") as f:
            found += [f"{name} {line.split()[0]}" for line in f.read().splitlines()[1:]
                      if int(line.split()[0]) == key]
    return found


def check_sysv_planted_here_only(run, ctx):
    assert _value(run) == 3.0, run.outcomes[0]  # it could make all three, in a namespace of its own
    assert _host_sysv(0x6772AD01) == [], "SysV objects outlived the submission in the grader's namespace"


def check_sysv_found_nothing(run, ctx):
    assert _value(run) == 0.0, run.output
    assert _host_sysv(0x6772AD01) == []


def check_refused_eperm(run, ctx):
    assert _value(run) == 1.0, f"errno {_value(run):g}, not EPERM: {run.output}"


def check_exercise_path_refused(run, ctx):
    from click.testing import CliRunner

    from grader.cli import cli

    res = CliRunner().invoke(cli, [str(ctx["case"].path)])
    assert res.exit_code == 2 and "is not an exercise id" in res.output, res.output
    res = CliRunner().invoke(cli, [str(ctx["case"].path), "--exercise", "tutorial-4", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.output)["exercise"] == "tutorial-4-matrix"


def check_host_sockets_unreachable(run, ctx):
    assert _value(run) == 0.0, run.output
    for sock in UNIX_LISTENERS.values():
        with pytest.raises(BlockingIOError):  # nothing ever connected
            sock.accept()


def check_tmp_planted_here_only(run, ctx):
    assert _value(run) == 2.0, run.output  # its private /tmp and /dev/shm are writable
    for folder in ("/tmp", "/dev/shm"):
        assert not os.path.exists(f"{folder}/grader-hostile-tmp-plant"), f"written into the host's {folder}"


def check_helpers_refused(run, ctx):
    for name, _ in ctx["case"].links:
        assert any(n.startswith(f"{name}: not used: ") for n in run.notes), run.notes
    assert "LEAK no helper" in run.output and "'h.py'" not in run.output, run.output
    for secret in ("planted", "root:", "answers", "dW2"):
        assert secret not in run.output, f"{secret!r} came back: {run.output}"


def check_none(run, ctx):
    pass


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}


UNIX_LISTENERS: dict[str, socket.socket] = {}  # "path"/"abstract" -> a root listener on the host


def unix_listeners(tmp_path: Path) -> tuple[str, str]:
    """A root listener on a 0777 socket under /tmp and one on an abstract name (made once)."""
    if not UNIX_LISTENERS:
        folder = Path(f"/tmp/grader-hostile-sock-{uuid.uuid4().hex[:8]}")
        folder.mkdir(mode=0o777)
        folder.chmod(0o777)
        by_path = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        by_path.bind(str(folder / "s"))
        os.chmod(folder / "s", 0o777)
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        abstract.bind("\0grader-hostile-" + uuid.uuid4().hex[:8])
        for sock in (by_path, abstract):
            sock.listen(4)
            sock.setblocking(False)
        UNIX_LISTENERS.update(path=by_path, abstract=abstract)
    return UNIX_LISTENERS["path"].getsockname(), UNIX_LISTENERS["abstract"].getsockname()[1:].decode()


KEY_FILE = Path(__file__).resolve().parents[1] / "solutions" / "tutorial-4-matrix.key.json"


def prepare(case: Case, tmp_path: Path) -> Path:
    """Copy a case that needs files written by the test; returns the path to run."""
    if case.links:  # a folder submission holding links and special files beside it
        folder = tmp_path / "submission"
        folder.mkdir()
        shutil.copy(case.path, folder / case.path.name)
        shutil.copy(HOSTILE / "_linked.py", folder / "_linked.py")  # their shared body
        for name, target in case.links:
            if target == "@fifo":
                os.mkfifo(folder / name)
            elif target == "@hardlink":
                outside = tmp_path / "outside-key.json"
                shutil.copy(KEY_FILE, outside)
                os.link(outside, folder / name)
            else:
                (folder / name).symlink_to(KEY_FILE if target == "@key" else target)
        return folder / case.path.name
    if case.path.name == "fsview_host_sockets.py":
        path, abstract = unix_listeners(tmp_path)
        shutil.copy(case.path, tmp_path / case.path.name)
        (tmp_path / "socket_targets.py").write_text(f"PATH = {path!r}\nABSTRACT = {abstract!r}\n")
        return tmp_path / case.path.name
    if case.path.name == "read_secrets.py":
        import grader

        pkg = Path(grader.__file__).parent
        targets = [str(pkg / "__init__.py"), str(pkg / "solver.py"), str(pkg)]
        for name in ("exercises", "solutions"):
            folder = pkg.parent / name
            if folder.is_dir():
                targets.append(str(folder))
                targets += [str(p) for p in sorted(folder.iterdir())[:3]]
        shutil.copy(case.path, tmp_path / case.path.name)
        (tmp_path / "secret_targets.py").write_text(f"PATHS = {targets!r}\n")
        return tmp_path / case.path.name
    if case.path.name == "delete_files.py":
        if VICTIM.exists():
            shutil.rmtree(VICTIM)
        VICTIM.mkdir()
        VICTIM.chmod(0o777)  # so that only the sandbox's layers can protect it, not permissions
        (VICTIM / "victim.txt").write_text("victim")
        (VICTIM / "victim.txt").chmod(0o666)
    if case.path.name == "write_results_json.py" and os.path.exists("/tmp/results.json"):
        os.unlink("/tmp/results.json")
    return case.path


def test_corpus_is_complete():
    assert len(CASE_FILES) >= 80
    assert any(p.suffix == ".ipynb" for p in CASE_FILES)
    for path in CASE_FILES:
        case = parse_case(path)
        for check in case.checks:
            assert check in CHECKS, f"{path.name}: unknown check {check}"
        for need in case.needs:
            assert need in W.LAYERS.values(), f"{path.name}: unknown layer {need}"


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.name for p in CASE_FILES])
def test_hostile(path, box, layers, listener, tmp_path, monkeypatch):
    check_hostile(path, box, layers, listener, tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def pivot_box():
    """A worker whose children each copy its mount namespace and pivot into the view (what they
    do where the view's own namespace cannot be made), instead of entering that namespace."""
    with pytest.MonkeyPatch.context() as mp, Sandbox(_disable=("fsview-setns",)) as sandbox:
        mp.setenv("GRADER_SECRET", "planted")
        sandbox.start()
        yield sandbox


FSVIEW_CASES = [p for p in CASE_FILES if p.name.startswith(("fsview_", "link_", "proc_")) or "ipc" in p.name]


@pytest.mark.parametrize("path", FSVIEW_CASES, ids=[p.name for p in FSVIEW_CASES])
def test_hostile_filesystem_cases_hold_with_the_pivot_fallback_too(path, pivot_box, layers, listener, tmp_path,
                                                                   monkeypatch):
    check_hostile(path, pivot_box, layers, listener, tmp_path, monkeypatch)


def test_children_enter_the_view_namespace_unless_told_to_pivot(box, pivot_box, layers):
    """By default the filesystem view is the worker's one namespace, entered and copied; the
    fallback pivots each child (both report the layer held, read back the same way)."""
    if not layers["filesystem view"][0]:
        pytest.skip(f"no filesystem view here: {layers['filesystem view'][1]}")
    view = []
    for b in (box, pivot_box):
        run = b.run(load_source(CORRECT), [Call("sigmoid", (W1,))], TEST_LIMITS)
        assert run.outcomes[0].status == "ok" and "filesystem view" not in run.missing_layers
        view.append(b._layers["fsview"])  # [held, note], as the child reported it
    assert view[0][0] and "entered and copied" in view[0][1], view[0]
    assert view[1][0] and "(pivot_root)" in view[1][1], view[1]


def check_hostile(path, box, layers, listener, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "planted")
    case = parse_case(path)
    cwd = os.getcwd()
    for other in case.before:
        run_case(box, parse_case(HOSTILE / other), HOSTILE / other, listener.getsockname()[1])
    source = prepare(case, tmp_path)
    started = time.monotonic()
    run = run_case(box, case, source, listener.getsockname()[1])
    elapsed = time.monotonic() - started
    # The grader's process, the worker and the machine are fine, and nothing is left running.
    assert_unharmed(box, cwd)
    assert len(run.outcomes) == len(case.calls)
    for outcome in run.outcomes:
        assert isinstance(outcome, CallOutcome) and outcome.status in (
            "ok", "missing", "error", "timeout", "memory_limit", "crashed", "no_result", "invalid_output")
        if outcome.status == "ok":
            assert all(type(v) is np.ndarray and v.dtype == np.float64 and np.isfinite(v).all()
                       for v in outcome.values)
        else:
            assert outcome.values == () and outcome.message
    inactive = [n for n in case.needs if not layers[n][0]]
    if inactive:
        # This machine cannot give the protection; the run must at least say so.
        for name in inactive:
            assert name in run.missing_layers or name == "grader not importable" and (
                "landlock" in run.missing_layers), (name, run.missing_layers)
    else:
        statuses = {"load": run.load_status}
        statuses.update({name: o.status for (name, _), o in zip(case.calls, run.outcomes, strict=True)})
        details = {"load": run.load_message}
        details.update({name: o.message for (name, _), o in zip(case.calls, run.outcomes, strict=True)})
        assert statuses == case.expect, details
        for key, text in case.messages:
            assert text in details[key], (key, details[key])
        ctx = {"box": box, "case": case, "cwd": cwd, "elapsed": elapsed}
        for check in case.checks:
            CHECKS[check](run, ctx)
    # ... and it still grades a correct submission right away.
    assert_correct(run_correct(box))
    assert_unharmed(box, cwd)


# ---------------------------------------------------------------------------- the reference
def test_reference_matches_the_sheet_and_finite_differences():
    o, y = REF.forward(X, W1, B1, W2, B2)
    np.testing.assert_allclose(y.ravel(), [0.75136507, 0.772928465], rtol=1e-8)
    grads = REF.backward(X, T, W1, B1, W2, B2)
    params = [W1, B1, W2, B2]

    def loss(ps):
        return 0.5 * float(((REF.forward(X, *ps)[1] - T) ** 2).sum())

    for k, g in enumerate(grads):
        num = np.zeros_like(params[k])
        for idx in np.ndindex(params[k].shape):
            hi = [p.copy() for p in params]
            lo = [p.copy() for p in params]
            hi[k][idx] += 1e-6
            lo[k][idx] -= 1e-6
            num[idx] = (loss(hi) - loss(lo)) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(grads[2][0, 0], 0.082167041, rtol=1e-6)  # the sheet's dE/dw5 (w9 here)
    # Several samples at once: the column convention sums gradients over samples.
    xs, ts = np.hstack([X, 2 * X]), np.hstack([T, T])
    two = REF.backward(xs, ts, W1, B1, W2, B2)
    one = [a + b for a, b in zip(REF.backward(X, T, W1, B1, W2, B2), REF.backward(2 * X, T, W1, B1, W2, B2),
                                 strict=True)]
    for a, b in zip(two, one, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    trained = REF.train(X, T, W1, B1, W2, B2, 0.5, 1)
    np.testing.assert_allclose(trained[2], W2 - 0.5 * grads[2])


def test_correct_submission_through_the_sandbox(box):
    run = run_correct(box)
    assert_correct(run)
    assert run.defined == ("sigmoid", "forward", "backward", "train")
    assert run.answers_json is None and run.output == ""


# ---------------------------------------------------------------------------- behaviour
def test_worker_is_started_lazily_and_reused():
    with Sandbox() as sandbox:
        assert sandbox.worker_pid is None
        assert_correct(run_correct(sandbox))
        pid = sandbox.worker_pid
        for _ in range(3):
            assert_correct(run_correct(sandbox))
        assert sandbox.worker_pid == pid
    assert not alive(pid)


def test_many_submissions_are_cheap(box):
    started = time.monotonic()
    for _ in range(20):
        assert run_correct(box).load_status == "ok"
    per = (time.monotonic() - started) / 20
    assert per < 0.25, f"{per * 1000:.0f} ms per submission"


def test_calls_share_a_child_until_one_kills_it(box, tmp_path):
    path = tmp_path / "counter.py"
    path.write_text("import os\nimport numpy as np\nCOUNT = 0\n\n\ndef tick():\n    global COUNT\n"
                    "    COUNT += 1\n    return float(COUNT)\n\n\ndef die():\n    os._exit(3)\n")
    names = ["tick", "tick", "die", "tick", "tick"]
    run = box.run(load_source(path), [Call(n, ()) for n in names], TEST_LIMITS)
    assert [o.status for o in run.outcomes] == ["ok", "ok", "no_result", "ok", "ok"]
    assert "exit status 3" in run.outcomes[2].message
    # the module code ran again in a fresh child after the death
    assert [float(o.values[0]) for o in run.outcomes if o.status == "ok"] == [1.0, 2.0, 1.0, 2.0]


BUILTINS_STUDENT = """\
import builtins
import numpy as np

_len = len
builtins.abs = lambda x: 42  # at import: seen by every call


def plain():
    return float(len([1, 2])), float(abs(-1))


def patch():
    builtins.len = lambda x: 7
    return float(len([1, 2]))


def add():
    builtins.grader_extra = 5.0
    return float(len([1])), float(grader_extra)


def restore():
    builtins.len = _len
    del builtins.grader_extra
    return float(len([1, 2]))


def gone():
    try:
        grader_extra  # noqa: F821
    except NameError:
        return np.ones((2, 1)), float(abs(-1))
    return np.zeros((2, 1)), 0.0
"""


def test_a_submissions_builtins_stay_its_own_from_call_to_call(box, tmp_path):
    """What a submission does to builtins (at import or in a call) is what its later calls see,
    undone or not; the harness encodes every result with the original builtins meanwhile."""
    path = tmp_path / "builtins_student.py"
    path.write_text(BUILTINS_STUDENT)
    names = ["plain", "patch", "plain", "add", "restore", "plain", "gone"]
    run = box.run(load_source(path), [Call(n, ()) for n in names], TEST_LIMITS)
    assert [o.status for o in run.outcomes] == ["ok"] * len(names), [o.message for o in run.outcomes]
    got = [[v.tolist() for v in o.values] for o in run.outcomes]
    assert got == [[2.0, 42.0], [7.0], [7.0, 42.0], [7.0, 5.0], [2.0], [2.0, 42.0], [[[1.0], [1.0]], 42.0]]


def test_inputs_are_copies_and_scratch_is_private(box, tmp_path):
    a = tmp_path / "writer.py"
    a.write_text("import os\n\n\ndef mutate(x):\n    x[...] = 99.0\n    open('note.txt', 'w').write('a')\n"
                 "    return x\n")
    b = tmp_path / "reader.py"
    b.write_text("import os\n\n\ndef look():\n    return float(os.path.exists('note.txt')), float(len(os.listdir('.')))\n")
    x = np.arange(4.0).reshape(2, 2)
    run = box.run(load_source(a), [Call("mutate", (x,))], TEST_LIMITS)
    assert run.outcomes[0].status == "ok" and (run.outcomes[0].values[0] == 99).all()
    assert (x == np.arange(4.0).reshape(2, 2)).all()
    run = box.run(load_source(b), [Call("look", ())], TEST_LIMITS)
    exists, count = run.outcomes[0].values
    assert float(exists) == 0.0 and float(count) == 1.0  # only reader.py itself


def test_zero_calls_and_an_empty_submission(box, tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("")
    run = box.run(load_source(path), [Call("forward", (X, W1, B1, W2, B2))], TEST_LIMITS)
    assert run.load_status == "ok" and run.defined == ()
    assert run.outcomes[0].status == "missing" and "does not define" in run.outcomes[0].message
    run = box.run(load_source(CORRECT), [], TEST_LIMITS)
    assert run.outcomes == () and run.load_status == "ok"


def test_a_killed_worker_is_replaced(box, tmp_path):
    path = tmp_path / "slow.py"
    path.write_text(
        "import os\nimport time\n\n\ndef spawn():\n    r, w = os.pipe()\n    if os.fork() == 0:\n"
        "        os.setsid()\n        if os.fork() == 0:\n"
        "            os.write(w, os.readlink('/proc/self/ns/pid')[5:-1].encode())\n"
        "            time.sleep(1000)\n        os._exit(0)\n    return float(os.read(r, 32))\n\n\n"
        "def nap():\n    time.sleep(3)\n    return 1.0\n\n\ndef quick():\n    return 2.0\n")
    old = box.worker_pid
    killer = threading.Timer(0.8, lambda: os.kill(old, signal.SIGKILL))
    killer.start()
    run = box.run(load_source(path), [Call("spawn", ()), Call("nap", ()), Call("quick", ())], TEST_LIMITS)
    killer.join()
    assert run.outcomes[0].status == "ok"  # it left a daemon behind, then the worker was killed
    assert run.outcomes[1].status == "crashed" and "worker died" in run.outcomes[1].message
    assert run.outcomes[2].status == "ok" and float(run.outcomes[2].values[0]) == 2.0
    assert box.worker_pid not in (None, old)
    if os.geteuid() == 0:  # the dead worker's namespace was swept when it was replaced
        ns = f"pid:[{int(run.outcomes[0].values[0])}]"  # the daemon's PID namespace
        assert ns != os.readlink("/proc/self/ns/pid") and pid_namespace_members(ns) == [], \
            "the daemon of a killed worker survived"
    assert_correct(run_correct(box))
    assert_unharmed(box, os.getcwd())


def test_idle_child_killed_before_its_submission_is_replaced(box):
    """The next submission's child, forked and isolated ahead of time, may die before its turn
    (the OOM killer, an administrator): the next run gets a fresh child and is graded."""
    run_correct(box)
    box.settle()
    idle = box._next[-1]  # the next submission's child (its init first, in a PID namespace)
    assert process_table()[idle][0] == box.worker_pid, f"not a child of the worker: {box._spare}"
    os.kill(idle, signal.SIGKILL)
    assert_correct(run_correct(box))
    assert_unharmed(box, os.getcwd())


def test_strict_isolation_follows_doctor(layers):
    if layers["network namespace"][0] and layers["seccomp filter"][0]:
        with Sandbox("strict") as sandbox:
            assert_correct(run_correct(sandbox))
    else:
        with pytest.raises(SandboxUnavailable), Sandbox("strict") as sandbox:
            sandbox.start()
    # where the syscall filter cannot be applied, strict refuses to run code at all
    with pytest.raises(SandboxUnavailable, match="seccomp filter"), Sandbox("strict", _disable=["seccomp"]) as box:
        box.start()
    with pytest.raises(ValueError):
        Sandbox("paranoid")


def test_doctor_checks_every_layer(layers):
    assert set(layers) == set(W.LAYERS.values())
    for name, (active, detail) in layers.items():
        assert isinstance(active, bool) and detail, name
    assert layers["separate process"][0] and layers["python -I worker"][0]
    if os.geteuid() == 0:
        # as root on Linux, everything this sandbox knows must really work
        assert layers["unprivileged user"][0] and "65534" in layers["unprivileged user"][1]
    else:  # the layers that need root are reported missing, and say so
        for name in ("mount namespace", "cgroup", "PID namespace", "filesystem view"):
            assert not layers[name][0] and "root" in layers[name][1], (name, layers[name])


def test_missing_layers_agree_with_doctor(box, layers):
    run = run_correct(box)
    for name in ("rlimits", "user namespace", "network namespace", "IPC namespace", "landlock", "unprivileged user",
                 "pdeathsig", "non-dumpable", "cgroup", "PID namespace", "filesystem view", "seccomp filter"):
        assert (name in run.missing_layers) == (not layers[name][0]), name


def _bomb(box: Sandbox) -> tuple[Case, SubmissionRun]:
    case = parse_case(HOSTILE / "forking_memory_bomb.py")
    return case, run_case(box, case, case.path, 0)


def _statuses(case: Case, run: SubmissionRun) -> dict[str, str]:
    return {"load": run.load_status, **{n: o.status for (n, _), o in zip(case.calls, run.outcomes, strict=True)}}


def _bomb_behaves_as_without_cgroups(case: Case, run: SubmissionRun) -> None:
    # every process within its own RLIMIT_AS: all 4 children and the parent got their 140 MB,
    # 5 x 140 MB together, far more than the 256 MB limit
    assert _statuses(case, run) == {"load": "ok", "forward": "ok", "sigmoid": "ok"}, run.outcomes
    assert run.outcomes[0].values[0].ravel().tolist() == [4.0, 140.0], run.output
    assert "cgroup" in run.missing_layers


def test_forking_memory_bomb_is_limited_as_a_whole(box, layers):
    cwd = os.getcwd()
    case, run = _bomb(box)
    assert_unharmed(box, cwd)
    if layers["cgroup"][0]:
        assert "cgroup" not in run.missing_layers
        assert _statuses(case, run) == case.expect, run.outcomes
        assert "ran out of memory (limit 256 MB for all its processes together)" in run.outcomes[0].message
        check_no_cgroup_left(run, {"box": box})
    else:  # this machine has no cgroup to give: the run says so, and the bomb is not stopped
        assert "cgroup" in run.missing_layers
        _bomb_behaves_as_without_cgroups(case, run)
    assert_correct(run_correct(box))
    assert_unharmed(box, cwd)
    # Switched off, the layer is reported missing and everything else works as before.
    with Sandbox(_disable=("cgroup",)) as sandbox:
        case, run = _bomb(sandbox)
        _bomb_behaves_as_without_cgroups(case, run)
        assert not worker_cgroups(sandbox)
        assert_correct(run_correct(sandbox))
        assert_unharmed(sandbox, cwd)


def test_cgroups_are_removed_with_the_worker(layers):
    with Sandbox() as sandbox:
        assert_correct(run_correct(sandbox))
        pid = sandbox.worker_pid
        made = worker_cgroups(sandbox)
        controllers = len([k for k in (CG.cgroup_parents()[0] or {}) if k != "version"])
        assert len(made) == (AHEAD * controllers if layers["cgroup"][0] else 0), made  # only the next submissions'
    assert not [p for p in made if os.path.exists(p)], f"the worker {pid} left its cgroups behind"


def test_disabled_layers_are_reported_missing():
    with Sandbox(_disable=("landlock", "netns", "user", "userns", "mountns", "rlimits", "cgroup")) as sandbox:
        run = run_correct(sandbox)
        assert_correct(run)
        for name in ("landlock", "network namespace", "unprivileged user", "rlimits", "grader not importable",
                     "cgroup"):
            assert name in run.missing_layers


# ---------------------------------------------------------------------------- decoding, escaping
def _npy(arr) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _result(*items: bytes) -> bytes:
    return W.ITEM_COUNT.pack(len(items)) + b"".join(W.ITEM_HEAD.pack(b"N", len(i)) + i for i in items)


def test_decode_accepts_real_numbers_only():
    (a, b) = D.decode_result(_result(_npy(np.arange(6, dtype=np.int32).reshape(2, 3)),
                                     _npy(np.asfortranarray(np.ones((2, 3), np.float32)))), 1 << 20)
    assert a.dtype == np.float64 and a.shape == (2, 3) and a[1, 2] == 5
    assert b.flags.c_contiguous and b.flags.owndata and b.flags.writeable
    for arr, word in ((np.ones(2, bool), "boolean"), (np.ones(2, complex), "complex"),
                      (np.array(["a"]), "string"), (np.zeros(2, [("a", "f8")]), "structured"),
                      (np.array(["2020-01-01"], "M8[D]"), "datetime")):
        with pytest.raises(D.Rejected, match=word):
            D.decode_result(_result(_npy(arr)), 1 << 20)
    with pytest.raises(D.Rejected, match="item 2 of 2 contains NaN"):
        D.decode_result(_result(_npy(np.ones(2)), _npy(np.array([1, np.nan]))), 1 << 20)
    for size in (1, 64, 65, 4000):  # a handful of numbers, up to and past the small-array check
        for bad, word in ((np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")):
            arr = np.ones(size)
            arr[-1] = bad
            with pytest.raises(D.Rejected, match=f"contains {word}"):
                D.decode_result(_result(_npy(arr.reshape(-1, 1))), 1 << 20)
            arr[-1] = 1e308  # large but finite
            assert D.decode_result(_result(_npy(arr.reshape(-1, 1))), 1 << 20)[0][-1, 0] == 1e308
    with pytest.raises(D.Rejected, match="more than the limit"):
        D.decode_result(_result(_npy(np.ones(1000))), 4000)
    forged = _npy(np.ones(2)).replace(b"(2,)", b"(9,)")
    with pytest.raises(D.Rejected, match="does not match"):
        D.decode_result(_result(forged), 1 << 20)
    with pytest.raises(D.Rejected, match="trailing"):
        D.decode_result(_result(_npy(np.ones(2))) + b"x", 1 << 20)
    pickled = _npy(np.ones(2)).replace(b"'<f8'", b"'|O' ")
    with pytest.raises(D.Rejected):
        D.decode_result(_result(pickled), 1 << 20)


def test_decode_judges_every_array_by_its_bytes_after_its_header_was_accepted():
    """A header seen (and accepted) before is looked up, not parsed again: what follows it, and
    the limit, are still checked for each array."""
    good = _npy(np.arange(4.0).reshape(2, 2))
    for _ in range(2):  # the first parses the header, the second finds it accepted
        (a,) = D.decode_result(_result(good), 1 << 20)
        assert a.tolist() == [[0.0, 1.0], [2.0, 3.0]] and a.flags.writeable and a.flags.owndata
    a[0, 0] = 9.0  # each result is a copy of its own, not a view of the bytes
    assert D.decode_result(_result(good), 1 << 20)[0][0, 0] == 0.0
    with pytest.raises(D.Rejected, match="does not match"):
        D.decode_result(_result(good[:-8]), 1 << 20)
    with pytest.raises(D.Rejected, match="does not match"):
        D.decode_result(_result(good + b"\0" * 8), 1 << 20)
    with pytest.raises(D.Rejected, match="more than the limit"):
        D.decode_result(_result(good), 16)
    with pytest.raises(D.Rejected, match="contains infinity"):
        D.decode_result(_result(_npy(np.array([[1.0, np.inf], [0.0, 0.0]]))), 1 << 20)
    for _ in range(2):  # a header judged not real numbers is rejected the same way when looked up
        with pytest.raises(D.Rejected, match="returned item 2 of 2 is a boolean array"):
            D.decode_result(_result(good, _npy(np.ones(3, bool))), 1 << 20)
    fortran = _npy(np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    for _ in range(2):  # read in Fortran order, handed on in C order, parsed or looked up
        (f,) = D.decode_result(_result(fortran), 1 << 20)
        assert f.flags.c_contiguous and f.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=4), st.sampled_from(["<f8", "<f4", "<i8", "|u1", "|b1", "<c16"]),
       st.booleans())
def test_headers_numpy_writes_are_read_without_ast(shape, dtype, fortran):
    """A header as NumPy writes it is read by the pattern (NumPy's ast-based parser is never
    called), with what NumPy itself reads from it."""
    arr = np.zeros(shape, dtype)
    data = _npy(np.asfortranarray(arr) if fortran else arr)
    fp = io.BytesIO(data)
    np.lib.format.read_magic(fp)
    want = (*np.lib.format.read_array_header_1_0(fp), fp.tell())
    D._HEADERS.clear()

    def no_ast(*args, **kwargs):
        raise AssertionError("NumPy's header parser was called")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(np.lib.format, "read_array_header_1_0", no_ast)
        assert D._header(data) == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10 ** 9), max_size=6), st.sampled_from(["<f8", ">f8", "<f4", "<i8", "<i4", "|u1", "|b1"]))
def test_the_child_writes_the_header_numpy_writes(shape, dtype):
    """The child makes a C-ordered array's ``.npy`` header itself (no NumPy writer in a fresh
    child): the same bytes as NumPy's ``write_array`` for that dtype and shape, read by the
    grader's pattern without NumPy's parser."""
    from grader.sandbox._worker.harness import npy_header

    fp = io.BytesIO()  # NumPy's writer, given what it takes from such an array
    np.lib.format.write_array_header_1_0(fp, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                              "fortran_order": False, "shape": tuple(shape)})
    mine = npy_header(np.dtype(dtype).str, tuple(shape), getattr(np.lib.format, "GROWTH_AXIS_MAX_DIGITS", 0))
    assert mine == fp.getvalue()
    D._HEADERS.clear()
    assert D._plain_header(mine, len(mine))[:3] == (tuple(shape), False, np.dtype(dtype))


def test_headers_outside_the_pattern_go_to_numpy():
    good = _npy(np.ones((2, 3)))
    for forged in (good.replace(b"(2, 3)", b"(02, 3)"), good.replace(b"(2, 3)", b"(2,, 3)"),
                   good.replace(b"'<f8'", b"'<f3'"), good.replace(b"(2, 3)", b"(2, -3)")):
        D._HEADERS.clear()
        with pytest.raises(D.Rejected, match="malformed"):
            D.decode_result(_result(forged), 1 << 20)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 3))
def test_decode_never_trusts_bytes(data, count):
    payload = W.ITEM_COUNT.pack(count) + data
    try:
        items = D.decode_result(payload, 1 << 16)
    except D.Rejected:
        return
    for item in items:
        assert type(item) is np.ndarray and item.dtype == np.float64 and np.isfinite(item).all()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_escaped_output_is_inert(data):
    text = D.escape_output(data, 0)
    for line in text.splitlines():
        assert line.isprintable() or "\t" in line
        assert not line.lstrip().startswith(("::", "##["))


def test_escape_output_marks_what_was_cut():
    assert D.escape_output(b"a\nb\r\n", 0) == "a\nb\n"
    assert D.escape_output(b"x" * 10, 90).endswith("[… 90 bytes more]\n")
    assert D.escape_output(b"", 0) == ""
    assert D.escape_line("\t::x") == "\t\\x3a:x"


def test_limits_are_validated():
    with pytest.raises(ValueError):
        Limits(cpu_seconds=0)
    with pytest.raises(ValueError):
        Limits(memory_mb=True)


def test_call_arguments_are_validated(box):
    src = load_source(CORRECT)
    with pytest.raises(TypeError):
        box.run(src, [Call("sigmoid", ("text",))])
    with pytest.raises(ValueError):
        box.run(src, [Call("not a name", ())])


def test_worker_package_is_standalone_and_small():
    """The worker runs under python -I without grader: no module of it imports grader or goes
    above its own package, and none is over ~400 lines."""
    root = Path(W.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert {"__main__.py", "framing.py", "child.py", "harness.py", "supervisor.py", "server.py"} <= {
        f.name for f in files}
    for f in files:
        text = f.read_text()
        assert not re.search(r"^\s*(from|import)\s+grader", text, re.M), f
        depth = len(f.relative_to(root).parts)  # a relative import may not leave the package
        assert not re.search(r"^\s*from\s+\.{" + str(depth + 1) + ",}", text, re.M), f
        assert len(text.splitlines()) <= 420, f"{f.name} has {len(text.splitlines())} lines"
    # one table: every child layer has a name, and doctor reports every layer of the table
    assert set(W.CHILD_LAYERS) <= set(W.LAYERS)
    assert [name for name, _, _ in doctor()] == list(W.LAYERS.values())


def test_landlock_rules_past_the_fd_limit_are_left_to_each_child(tmp_path):
    """The worker holds one fd per shared rule; where it would run out of fds, the rules it could
    not hold are returned for each child to open itself, none dropped (a missing path is)."""
    folders = [tmp_path / f"d{i}" for i in range(12)]
    for folder in folders:
        folder.mkdir()
    code = f"""
import json, resource, sys
from grader.sandbox._worker.framing import HIGH_FD
from grader.sandbox._worker.layers import landlock as L
folders = {[str(f) for f in folders]!r}
rules = [(f, L.LL_READ) for f in folders[:6]] + [("/no/such/folder", L.LL_READ)] + [(f, L.LL_READ) for f in folders[6:]]
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (HIGH_FD + 256 + int(sys.argv[1]), hard))
fds, held, rest = L.held_rules(L.landlock_abi()[0] or 1, rules)
print(json.dumps([len(fds), len(held), [path for path, _ in rest]]))
"""
    out = {}
    for room in (5, 100):
        proc = subprocess.run([sys.executable, "-c", code, str(room)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        out[room] = json.loads(proc.stdout)
    assert out[100] == [12, 12, []]
    n, m, rest = out[5]
    assert n == m == 5 and rest == [str(folders[5]), "/no/such/folder", *map(str, folders[6:])]


def test_the_plan_holds_the_childs_layer_order(tmp_path):
    """The order a child applies its layers in is sorted once, in the worker's plan: the early
    ones, then the late ones (those that wait for the submission's limits), seccomp last."""
    from grader.sandbox._worker.plan import Plan

    plan = Plan({"scratch_root": str(tmp_path)})
    assert list(plan.early) + list(plan.late) == W.layers.child_order(plan.root)
    assert all(layer.phase != "late" for layer in plan.early)
    assert [layer.key for layer in plan.late][-1] == "seccomp"
    assert all(layer.phase == "late" for layer in plan.late)


# ---------------------------------------------------------------------------- a class with hostile students
SYSV_PLANT = '''import ctypes
import numpy as np
libc = ctypes.CDLL(None, use_errno=True)
PLANTED = [libc.shmget(0x6772AD02, 4096, 0o1000 | 0o666), libc.msgget(0x6772AD02, 0o1000 | 0o666),
           libc.semget(0x6772AD02, 1, 0o1000 | 0o666)]

def sigmoid(z):
    return 1 / (1 + np.exp(-z))
'''
SYSV_READ = '''import ctypes
import numpy as np
libc = ctypes.CDLL(None, use_errno=True)

def sigmoid(z):
    # right only where no SysV object of an earlier student is in sight
    seen = (libc.shmget(0x6772AD02, 0, 0) >= 0) + (libc.msgget(0x6772AD02, 0) >= 0) + (libc.semget(0x6772AD02, 0, 0) >= 0)
    return 1 / (1 + np.exp(-z)) + seen
'''
HELPER_LINK = "import numpy as np\ntry:\n    import h\nexcept Exception:\n    h = None\n\n\n" \
              "def sigmoid(z):\n    print('HELPER', h and vars(h).get('__doc__'))\n    return 1 / (1 + np.exp(-z))\n"


def test_honest_students_beside_hostile_ones_get_byte_identical_results(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import cli

    monkeypatch.setenv("GRADER_SECRET", "planted")
    honest = Path(__file__).resolve().parents[1] / "solutions" / "submission.py"
    full, alone = tmp_path / "class", tmp_path / "honest-only"
    for folder in (full, alone):
        folder.mkdir()
        for student in ("alice", "frank"):
            shutil.copy(honest, folder / f"{student}.py")
    (full / "bob").mkdir()  # a folder whose helper is a symlink to the grader's environment
    (full / "bob" / "submission.py").write_text(HELPER_LINK)
    (full / "bob" / "h.py").symlink_to("/proc/self/environ")
    (full / "carol.py").symlink_to("/etc/shadow")  # a file-per-student symlink to a root-only file
    (full / "dave.py").write_text(SYSV_PLANT)  # graded before erin: plants SysV objects for her
    (full / "erin.py").write_text(SYSV_READ)
    outs = {}
    for folder in (full, alone):
        res = CliRunner().invoke(cli, ["batch", str(folder), "--exercise", "tutorial-4", "--jobs", "1",
                                       "--out", str(tmp_path / f"{folder.name}-grades")])
        assert res.exit_code == 0, res.output
        outs[folder.name] = tmp_path / f"{folder.name}-grades"
    for student in ("alice", "frank"):
        a = (outs["class"] / "results" / f"{student}.json").read_bytes()
        b = (outs["honest-only"] / "results" / f"{student}.json").read_bytes()
        assert a == b, f"{student}'s result changed beside hostile classmates"
    everything = "".join(p.read_text(errors="replace") for p in outs["class"].rglob("*") if p.is_file())
    assert "planted" not in everything and "root:" not in everything
    bob = json.loads((outs["class"] / "results" / "bob.json").read_text())
    assert any("h.py: not used: a symbolic link" in w for w in bob["warnings"]), bob["warnings"]
    erin = json.loads((outs["class"] / "results" / "erin.json").read_text())
    sig = [t for t in erin["tests"] if t["id"].startswith("sigmoid/")]
    assert sig and all(t["status"] == "passed" for t in sig), "erin saw dave's SysV objects"
    assert _host_sysv(0x6772AD02) == []


def test_imported_names_reach_every_nested_block():
    """Helper modules are found by their imports wherever the statement sits (a function, a
    class, try/except, with, match); import_module and __import__ calls by walking expressions."""
    code = ("import a\nfrom b.c import d\ndef f():\n    import e\n    try:\n        from . import g\n"
            "    except Exception:\n        import h\n    finally:\n        import m\nclass K:\n    def m(self):\n"
            "        with x:\n            import i\nmatch z:\n    case 1:\n        import j\nfor q in r:\n    pass\n"
            "else:\n    import n\n")
    assert F._imported_names(code) == set("abeghimjn")
    assert F._imported_names(code + "y = __import__('k')\n") == set("abeghimjnk")
    assert F._imported_names("from importlib import import_module\nimport_module('pkg.sub')\n") == {"importlib", "pkg"}
    assert F._imported_names("def broken(:\n") == set()


def test_orphans_are_reaped_in_the_pid_namespace(box, tmp_path, layers):
    """A process whose parent has gone is handed to the namespace's init, which reaps it at once:
    while the submission still runs, none of its 50 orphans is left a zombie under the init."""
    if not layers["PID namespace"][0]:
        pytest.skip(f"no PID namespace here: {layers['PID namespace'][1]}")
    path = tmp_path / "orphans.py"
    path.write_text(
        "import os\nimport time\n\n\ndef orphans():\n    for _ in range(50):\n        pid = os.fork()\n"
        "        if pid == 0:\n            if os.fork() == 0:\n                os._exit(0)\n            os._exit(0)\n"
        "        os.waitpid(pid, 0)\n    time.sleep(1.5)\n    return 1.0\n")
    seen: list[int] = []
    fds: list[list[int]] = []

    def count_zombies_under_inits():
        time.sleep(1.0)  # the orphans are made and gone by now; the submission sleeps
        table = process_table()
        inits = {p for p, (ppid, *_) in table.items() if ppid == box.worker_pid}
        seen.append(sum(1 for ppid, _, state in table.values() if ppid in inits and state == "Z"))
        for pid in inits:  # the supervisor, the children and the inits (pid 1 of their namespace)
            try:
                with open(f"/proc/{pid}/status") as f:
                    ids = next(line.split()[1:] for line in f if line.startswith("NSpid:"))
                if len(ids) > 1 and ids[-1] == "1":
                    fds.append(sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd")))
            except (OSError, StopIteration):
                pass

    watcher = threading.Thread(target=count_zombies_under_inits)
    watcher.start()
    run = box.run(load_source(path), [Call("orphans", ())], Limits(wall_seconds=6, cpu_seconds=2, processes=32))
    watcher.join()
    assert run.outcomes[0].status == "ok", run.outcomes[0].message
    assert seen == [0], f"{seen[0]} orphans left unreaped by the namespace's init"
    # the inits running then (this submission's and the next one's) hold nothing of the worker's
    assert fds and all(f == [0, 1, 2] for f in fds), fds



INIT_CHECK = r"""
import json, os, sys, time
from grader.sandbox._worker import tinyinit
from grader.sandbox._worker.layers import pidns
if sys.argv[1] == "tiny" and tinyinit.program() is None:
    print(json.dumps({"skip": "the static init is x86-64 Linux only"})); sys.exit(0)
if sys.argv[1] == "env-cat" and not (pidns.env_cat() and pidns._works(pidns.env_cat())):
    print(json.dumps({"skip": "env cannot ignore signals here"})); sys.exit(0)
argv = {"tiny": [tinyinit.install()], "env-cat": pidns.env_cat(), "forked": None}[sys.argv[1]]
pid, alive_w = pidns.start_init(argv)
time.sleep(0.2)
with open(f"/proc/{pid}/status") as f:
    status = dict(line.split(":", 1) for line in f)
ignored = int(status["SigIgn"].strip(), 16)
os.close(alive_w)  # the init leaves when the worker's end of its pipe closes
for _ in range(200):
    if os.waitpid(pid, os.WNOHANG)[0]:
        break
    time.sleep(0.01)
else:
    pid = None
import signal
print(json.dumps({"nspid": status["NSpid"].split()[-1],
                  "ignored": [s.name for s in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
                              if ignored & (1 << (s - 1))],
                  "left": pid is not None}))
"""


@pytest.mark.parametrize("kind", ["tiny", "env-cat", "forked"])
def test_a_pid_namespace_init_is_pid_1_ignores_sigchld_and_leaves_with_its_pipe(kind):
    """Every init (the static program, env+cat, or a fork of the worker where neither runs):
    pid 1 of the new namespace, SIGCHLD ignored (so the kernel reaps orphans), gone once the
    worker closes its pipe. In a process of its own: the namespace applies to its later forks."""
    if os.geteuid() != 0:
        pytest.skip("a PID namespace needs root")
    out = subprocess.run([sys.executable, "-c", INIT_CHECK, kind], capture_output=True, text=True, timeout=30,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    if "skip" in got:
        pytest.skip(got["skip"])
    assert got == {"nspid": "1", "ignored": ["SIGCHLD", "SIGINT", "SIGTERM", "SIGHUP"], "left": True}


def test_results_of_every_plain_dtype_order_and_shape_arrive_intact(box, tmp_path):
    """The child writes a C-ordered array's .npy header from the first one NumPy wrote for its
    dtype and shape: every kind of array, the first time and again, decodes to the same numbers."""
    path = tmp_path / "kinds.py"
    path.write_text(
        "import numpy as np\n\n\ndef kinds(k):\n    base = np.arange(12.0).reshape(3, 4) * (k + 1)\n"
        "    return (base, base.astype(np.float32), base.astype(np.int32), base.T, base[:, ::2],\n"
        "            np.asfortranarray(base), base[0], np.float64(k), base.reshape(2, 3, 2), np.zeros((0, 3)),\n"
        "            base.astype('>f8'))\n")
    run = box.run(load_source(path), [Call("kinds", (float(k),)) for k in range(3)], TEST_LIMITS)
    assert [o.status for o in run.outcomes] == ["ok"] * 3, [o.message for o in run.outcomes]
    for k, outcome in enumerate(run.outcomes):
        base = np.arange(12.0).reshape(3, 4) * (k + 1)
        want = [base, base.astype(np.float32), base.astype(np.int32), base.T, base[:, ::2], base,
                base[0], np.float64(k), base.reshape(2, 3, 2), np.zeros((0, 3)), base]
        assert len(outcome.values) == len(want)
        for got, exp in zip(outcome.values, want, strict=True):
            assert got.dtype == np.float64 and got.shape == np.shape(exp)
            np.testing.assert_array_equal(got, np.asarray(exp, dtype=np.float64))


def test_cgroup_membership_is_read_from_the_process_own_cgroup_file(tmp_path):
    """The supervisor's read-back of a child's cgroup: from /proc/PID/cgroup (no pid list made)."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    memory = next((ln.split(":", 2)[2] for ln in lines if "memory" in ln.split(":", 2)[1].split(",")), None)
    unified = next((ln.split(":", 2)[2] for ln in lines if ln.startswith("0::")), None)
    key, path = ("memory", memory) if memory not in (None, "/") else ("v2", unified)
    if path in (None, "/"):
        pytest.skip("this process sits in a root cgroup")
    cg = {"version": 1 if key == "memory" else 2, key: "/anywhere/" + path.rsplit("/", 1)[-1]}
    assert CG._member(cg, os.getpid()) is True
    assert CG._member(dict(cg, **{key: "/anywhere/grader-someone-else"}), os.getpid()) is False
    child = subprocess.Popen(["true"])
    child.wait()
    assert CG._member(cg, child.pid) is None  # gone


def test_a_child_exiting_at_once_is_not_reported_outside_its_cgroup(box, tmp_path):
    """A module that raises at import ends its child while the supervisor reads the cgroup back:
    an exiting process (already moved out of its cgroups by the kernel) is gone, not outside."""
    path = tmp_path / "raises.py"
    path.write_text("raise RuntimeError('not done yet')\n")
    source = load_source(path)
    missing = [box.run(source, [Call("sigmoid", (W1,))], TEST_LIMITS).missing_layers for _ in range(60)]
    assert not any(missing), f"{sum(map(bool, missing))} of 60 runs: {next(m for m in missing if m)}"


READS_EVERYTHING_IT_MAY = """
import os
import numpy


def reads():
    failed = []
    def attempt(what, fn):
        try:
            fn()
        except OSError as exc:
            failed.append(f"{what}: {exc}")
    for path in ("/etc/passwd", "/etc/group", "/etc/ld.so.cache", numpy.__file__, "/dev/urandom"):
        if os.path.lexists(path):
            attempt(path, lambda p=path: open(p, "rb").read(8))
    attempt("numpy's folder", lambda: os.listdir(os.path.dirname(numpy.__file__)))
    attempt("/usr/lib", lambda: os.listdir("/usr/lib"))
    for folder in (".", "/tmp", "/dev/shm"):
        if os.path.isdir(folder):
            attempt(folder, lambda f=folder: open(os.path.join(f, "w.txt"), "w").write("x"))
    print(failed)
    return float(len(failed))
"""


@pytest.mark.parametrize("which", ["box", "pivot_box"])
def test_a_child_reads_and_writes_what_its_view_offers(which, request, tmp_path, layers):
    """Landlock's shared rules are opened once in the worker, in the view the children see (its
    /etc is the view's own, not the host's): a rule on another inode would deny these."""
    path = tmp_path / "reads.py"
    path.write_text(READS_EVERYTHING_IT_MAY)
    run = request.getfixturevalue(which).run(load_source(path), [Call("reads", ())], TEST_LIMITS)
    assert run.outcomes[0].status == "ok", run.outcomes[0].message
    assert float(run.outcomes[0].values[0]) == 0.0, run.output
    assert "landlock" not in run.missing_layers or not layers["landlock"][0]


def test_the_zygote_holds_no_library_its_children_do_not_need(box):
    """Every child inherits the zygote's mappings and pages (its fork copies them, its exit
    unmaps them): the probe key is hashed without hashlib (OpenSSL) and the probe's folder is
    removed without shutil (bz2, lzma), so neither is mapped in the zygote."""
    if int(np.__version__.split(".")[0]) < 2:
        pytest.skip("NumPy 1.x imports numpy.random (secrets, hashlib, OpenSSL) with numpy itself")
    assert_correct(run_correct(box))
    with open(f"/proc/{box.worker_pid}/maps") as f:
        mapped = {line.split()[-1].rsplit("/", 1)[-1] for line in f if "/" in line}
    unneeded = sorted(m for m in mapped if re.search(r"libcrypto|libssl|_hashlib|_blake2|bz2|lzma", m))
    assert not unneeded, f"the zygote maps {unneeded}"


def test_a_scratch_folder_is_removed_without_following_a_link(tmp_path):
    """A flat folder (a submission's scratch, as a rule) is removed entry by entry, a folder
    with folders by shutil; a symlink is removed, never what it points to."""
    from grader.sandbox._worker.procs import remove

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    for nested in (False, True):
        scratch = tmp_path / f"scratch-{nested}"
        scratch.mkdir()
        (scratch / "submission.py").write_text("x = 1\n")
        (scratch / "to-file").symlink_to(outside / "keep.txt")
        (scratch / "to-dir").symlink_to(outside)
        os.mkfifo(scratch / "fifo")
        if nested:
            (scratch / "sub").mkdir()
            (scratch / "sub" / "to-dir").symlink_to(outside)
            (scratch / "sub" / "data.npy").write_bytes(b"0" * 10)
        remove(str(scratch))
        assert not os.path.lexists(scratch), sorted(os.listdir(scratch))
        assert (outside / "keep.txt").read_text() == "keep"
    link = tmp_path / "link"
    link.symlink_to(outside)
    remove(str(link))  # a link to a folder: the link goes, the folder stays
    assert not os.path.lexists(link) and (outside / "keep.txt").exists()


def test_the_zygote_stops_watching_a_process_once_it_is_reaped():
    """A reaped process's pidfd stays readable: kept in the zygote's select set until its slot
    ended, it made the zygote spin while the init tore the namespace down. Once reaped, the
    status is kept and the watch goes, so the zygote sleeps again."""
    from types import SimpleNamespace

    from grader.sandbox._worker.zygote import Zygote, _Slot

    ours, theirs = socket.socketpair()
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    init = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    child = subprocess.Popen(["true"])
    try:
        zygote = Zygote(SimpleNamespace(enabled=set(), env=dict(os.environ)), ours, supervisor.pid)
        slot = zygote.slots[1] = _Slot()
        slot.init, slot.ending = init.pid, {child.pid, init.pid}
        zygote._watch(init.pid)
        zygote._watch(child.pid)
        deadline = time.monotonic() + 10
        while child.pid not in zygote.reaper.statuses and time.monotonic() < deadline:
            zygote._reap()
            time.sleep(0.01)
        assert child.pid in zygote.reaper.statuses  # its status is kept for the slot's end
        assert child.pid not in zygote.pidfds.values()
        assert 1 in zygote.slots  # the init lives: the slot has not ended
        assert select.select(list(zygote.pidfds), [], [], 0)[0] == []  # nothing to wake up for
    finally:
        for proc in (supervisor, init):
            proc.kill()
            proc.wait()  # ECHILD once the zygote's reaper has it: Popen takes that as gone
        ours.close()
        theirs.close()


def test_the_zygote_forks_a_requests_slots_back_to_back_each_child_with_its_own_pipes(monkeypatch, tmp_path):
    """A "slots" request: every slot's child is forked before any of them is recorded (the
    zygote's pages written in between are copied once for each child already forked), each
    gets a reply, and each child holds its own slot's pipes and none of the other's."""
    from types import SimpleNamespace

    from grader.sandbox._worker import zygote as Z

    def child_main(plan, parent, scratch, out_w, cmd_r, res_w, cg, init):  # in the forked child
        held = []
        for fd in passed:  # the fds passed in the request, by number: open here or not
            try:
                os.fstat(fd)
                held.append(fd)
            except OSError:
                pass
        os.write(res_w, json.dumps(held).encode())
        os._exit(0)

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    order: list[str] = []
    real_fork = os.fork
    monkeypatch.setattr(Z, "child_main", child_main)
    monkeypatch.setattr(Z.os, "fork", lambda: order.append("fork") or real_fork())
    pipes, passed, asks = [], [], []
    try:
        zygote = Z.Zygote(SimpleNamespace(enabled=set(), env=dict(os.environ), init_argv=None), ours, supervisor.pid)
        watch = zygote._watch
        monkeypatch.setattr(zygote, "_watch", lambda pid: order.append("record") or watch(pid))
        for sid in (7, 8):
            cmd_r, cmd_w = os.pipe()
            res_r, res_w = os.pipe()
            out_r, out_w = os.pipe()
            pipes.append({"res_r": res_r, "ends": {cmd_r, res_w, out_w}, "fds": [cmd_r, cmd_w, res_r, res_w, out_r, out_w]})
            passed += [cmd_r, res_w, out_w]
            asks.append({"sid": sid, "scratch": str(tmp_path), "cg": None, "fds": 3})
        zygote._handle({"op": "slots", "slots": asks}, passed)
        assert order == ["fork", "fork", "record", "record"], order
        replies = [Z.recv(theirs)[0] for _ in asks]
        assert [r["slot"] for r in replies] == [7, 8]
        for mine, other, reply in ((pipes[0], pipes[1], replies[0]), (pipes[1], pipes[0], replies[1])):
            assert zygote.owner[reply["child"]] == reply["slot"]
            held = set(json.loads(os.read(mine["res_r"], 1 << 16)))
            assert mine["ends"] <= held, f"slot {reply['slot']}'s child lacks its own pipes"
            assert not other["ends"] & held, f"slot {reply['slot']}'s child holds the other slot's pipes"
    finally:
        for fds in pipes:
            for fd in fds["fds"]:
                os.close(fd)
        supervisor.kill()
        supervisor.wait()
        ours.close()
        theirs.close()


def test_the_child_runs_the_module_as_the_grader_compiled_it(box, tmp_path):
    """The syntax check compiles the module anyway: the child runs that code (no compiling in a
    fresh child), renamed to its own path, so the host's folder never reaches the submission;
    from another Python (or bytes that are not code) it compiles the source itself."""
    import dataclasses
    import marshal

    path = tmp_path / "which.py"
    path.write_text("def which(z):\n    print(which.__code__.co_filename, __file__)\n    return z * 1\n")
    source = load_source(path)
    assert marshal.loads(source.compiled).co_filename == "which.py"  # no folder in it
    other = compile("def which(z):\n    return z * 2\n", "which.py", "exec")
    twice = dataclasses.replace(source, compiled=marshal.dumps(other))
    run = box.run(twice, [Call("which", (W1,))], TEST_LIMITS)
    np.testing.assert_array_equal(run.outcomes[0].values[0], W1 * 2)  # the compiled code ran
    run = box.run(source, [Call("which", (W1,))], TEST_LIMITS)
    np.testing.assert_array_equal(run.outcomes[0].values[0], W1)
    names = run.output.split()
    assert names[0] == names[1] and names[0].endswith("/which.py") and str(tmp_path) not in run.output
    for compiled in (b"not marshal data", marshal.dumps(3)):
        run = box.run(dataclasses.replace(source, compiled=compiled), [Call("which", (W1,))], TEST_LIMITS)
        np.testing.assert_array_equal(run.outcomes[0].values[0], W1)  # compiled from the source
    with pytest.MonkeyPatch.context() as mp:  # a grader on another Python: the source is compiled
        mp.setattr(sys, "version", sys.version + " (another build)")
        run = box.run(twice, [Call("which", (W1,))], TEST_LIMITS)
    np.testing.assert_array_equal(run.outcomes[0].values[0], W1)


def test_the_supervisor_holds_no_more_fds_after_many_submissions(box):
    """Each submission's files (its child's pipes and /proc stat, its cgroup's OOM counter) are
    closed with it: the supervisor's open fds do not grow with the submissions run."""
    source = load_source(CORRECT)
    for _ in range(3):
        box.run(source, [Call("sigmoid", (W1,))], TEST_LIMITS)
    box.settle()
    worker = box.worker_pid
    with open(f"/proc/{worker}/task/{worker}/children") as f:
        supervisor = int(f.read().split()[0])  # forked first, before any slot
    before = len(os.listdir(f"/proc/{supervisor}/fd"))
    for _ in range(20):
        box.run(source, [Call("sigmoid", (W1,)), Call("forward", (X, W1, B1, W2, B2))], TEST_LIMITS)
    box.settle()
    assert len(os.listdir(f"/proc/{supervisor}/fd")) == before


def test_the_exercise_calls_go_to_a_worker_once_then_by_their_token(tmp_path):
    """A class's calls and their argument arrays (the same for every submission) are sent to a
    worker once; later runs send their token and the submission's own blobs alone, and get the
    same results. A replaced worker keeps nothing: the next run sends them in full again."""
    from grader import code_grade, spec

    calls, _ = code_grade.sandbox_calls(spec.load_exercise("tutorial-4"))
    with Sandbox() as sandbox:
        sandbox.start()
        sent: list[tuple[dict, int]] = []

        def watch(chan):
            real = chan.send
            chan.send = lambda header, blobs=(): (sent.append((header, len(blobs))), real(header, blobs))[1]
        watch(sandbox._chan)
        first, again = sandbox.run(load_source(CORRECT), calls), sandbox.run(load_source(CORRECT), calls)
        sandbox._kill_worker()
        sandbox.start()
        watch(sandbox._chan)
        fresh = sandbox.run(load_source(CORRECT), calls)
    runs = [h for h in sent if h[0].get("op") == "run"]
    assert len(runs) == 3
    (a, na), (b, nb), (c, nc) = runs
    assert a["shared"]["store"] is True and len(a["calls"]) == len(calls)
    assert "calls" not in b and "store" not in b["shared"] and b["shared"]["id"] == a["shared"]["id"]
    assert nb == na - a["shared"]["blobs"] and a["shared"]["blobs"] > 50  # the arrays stay behind
    assert c["shared"]["store"] is True and len(c["calls"]) == len(calls)  # a new worker: in full again
    for run in (again, fresh):
        assert run.load_status == first.load_status == "ok"
        assert [o.status for o in run.outcomes] == [o.status for o in first.outcomes] == ["ok"] * len(calls)
        assert all(len(x.values) == len(y.values) and all((p == q).all() for p, q in zip(x.values, y.values, strict=True))
                   for x, y in zip(run.outcomes, first.outcomes, strict=True))


def test_each_students_own_calls_travel_with_the_token_of_the_classes(tmp_path, monkeypatch):
    """With per-student variants, each student's exercise cases (``own`` calls) are new arrays,
    while the random cases are the same objects for every student: the worker keeps those once,
    and each later student sends the token and their own arrays alone; the results are those of
    the same calls sent in full to a fresh worker."""
    from grader import code_grade, spec
    from grader.sandbox import _calls

    monkeypatch.setenv("GRADER_SECRET", "own-calls-secret")
    students = [code_grade.sandbox_calls(spec.load_exercise("tutorial-4", s))[0] for s in ("ann", "bo", "cy")]
    own = [sum(c.own for c in calls) for calls in students]
    assert own[0] > 0 and own == [own[0]] * 3 and all(len(c) == len(students[0]) for c in students)
    with Sandbox() as sandbox:
        sandbox.start()
        sent: list[tuple[dict, int]] = []
        real = sandbox._chan.send
        sandbox._chan.send = lambda header, blobs=(): (sent.append((header, len(blobs))), real(header, blobs))[1]
        runs = [sandbox.run(load_source(CORRECT), calls) for calls in students]
    with Sandbox() as fresh:  # a worker that keeps nothing; every call in full
        _calls._SETS.clear()
        _calls._ENCODED.clear()
        alone = fresh.run(load_source(CORRECT), students[2])
    reqs = [h for h in sent if h[0].get("op") == "run"]
    (a, na), (b, nb), (c, nc) = reqs
    assert a["shared"]["store"] is True and len(a["calls"]) == len(students[0])
    for h, n in ((b, nb), (c, nc)):
        assert "calls" not in h and h["shared"] == {"id": a["shared"]["id"], "blobs": a["shared"]["blobs"]}
        assert n == na - a["shared"]["blobs"] > 0  # each student's own arrays, and nothing kept
    assert all(o.status == "ok" for run in runs for o in run.outcomes)
    for x, y in zip(runs[2].outcomes, alone.outcomes, strict=True):
        assert all(np.array_equal(p, q) for p, q in zip(x.values, y.values, strict=True))
    assert any(not np.array_equal(p, q) for x, y in zip(runs[0].outcomes, runs[1].outcomes, strict=True)
               for p, q in zip(x.values, y.values, strict=True))  # the students' own values reached their calls


def test_npy_bytes_are_numpys_own():
    from grader.sandbox import _calls

    rng = np.random.default_rng(3)
    for shape in [(), (1,), (2, 1), (3, 4), (4, 1000), (0,), (2, 0, 3)]:
        for arr in (rng.uniform(-1, 1, shape), np.asfortranarray(rng.uniform(-1, 1, shape))):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr) if arr.ndim else arr, allow_pickle=False)
            assert _calls._npy(arr) == buf.getvalue(), shape
            assert np.array_equal(np.load(io.BytesIO(_calls._npy(arr))), arr)


def test_grader_and_supervisor_keep_the_same_shared_calls():
    """Both ends keep the last SHARED_CALLS sets and drop the oldest first, so every token the
    grader sends alone is one the supervisor holds; a token it does not hold, or a malformed one,
    ends the request as a protocol error (the grader then starts another worker)."""
    from grader.sandbox._calls import _Run
    from grader.sandbox._worker.kept import KeptCalls

    class Box:
        _shared: list = []

    kept = KeptCalls()
    order = [1, 2, 3, 1, 4, 5, 6, 7, 8, 9, 10, 2, 1, 11, 3, 9]
    for token in order:
        run = _Run(Box, {"code": ""}, [{"index": 0, "function": "f", "args": [{"blob": 0}]}],
                   [f"array {token}".encode(), b"own"], Limits(), shared=(token, 1))
        req, blobs = run._request(run.call_msgs)
        req, blobs, commands = kept.expand(req, blobs)
        assert blobs == [f"array {token}".encode(), b"own"] and req["calls"] == run.call_msgs, token
        assert list(kept.sets) == Box._shared and len(Box._shared) <= W.SHARED_CALLS
        assert commands is kept.sets[token][2] and req["shared"]["blobs"] == 1  # kept with its set
    for bad in ({"id": 999, "blobs": 1}, {"id": "1", "blobs": 1}, {"id": order[-1], "blobs": 5}):
        with pytest.raises(W.ProtocolError):
            kept.expand({"op": "run", "shared": bad}, [b"own"])
    assert kept.expand({"op": "run", "calls": []}, [b"own"]) == ({"op": "run", "calls": []}, [b"own"], None)


def test_a_kept_sets_commands_are_made_once_and_are_the_same_bytes():
    """The commands of a kept set of calls are made once (but for their sequence number) and are
    byte for byte those made afresh; a call with an array of the submission's own is never kept."""
    from grader.sandbox._worker.batches import Batches

    class Sup:
        blobs = [b"a" * 24, b"b" * 16, b"own"]
        kept_blobs = 2
        commands: dict | None = None

    calls = [{"index": 0, "function": "f", "args": [{"blob": 0}, {"value": 2.5}]},
             {"index": 1, "function": "f", "args": [{"blob": 1}, {"blob": 0}]},
             {"index": 2, "function": "g", "args": [{"blob": 2}]}]
    fresh = Batches(Sup, None)
    want = [fresh._command(calls[:2]), fresh._command(calls[2:]), fresh._command(calls[:2])]
    Sup.commands = {}
    kept = Batches(Sup, None)
    got = [kept._command(calls[:2]), kept._command(calls[2:]), kept._command(calls[:2])]
    assert got == want and [s for s, _ in got] == [1, 2, 3]
    assert list(Sup.commands) == [(0, 1)]  # g's call reads the submission's own array: made each time
    assert json.loads(got[2][1][W.CMD_HEAD.size:W.CMD_HEAD.size + W.CMD_HEAD.unpack(got[2][1][:4])[0]]) == \
        {"seq": 3, "function": "f", "blobs": [24, 16], "calls": [[{"b": 0}, {"v": 2.5}], [{"b": 1}, {"b": 0}]]}
