"""``grade batch --scheduler``: the batch on real dask.distributed clusters.

- the worker plugin on its own (no cluster): it sets up a warm sandbox and the exercise from
  bytes, grades a submission that exists nowhere on disk like ``grade_one`` grades the file, and
  refuses work when it lacks a layer the client requires or runs another grader version;
- ``--scheduler local:2`` (a LocalCluster) on the whole class of ``test_batch`` (correct and
  broken code, notebooks, folders with helper modules, answers files, hostile code that kills its
  sandbox): the same bytes as ``--jobs 2``, and ``--resume`` after a change likewise;
- a deployment as on several machines: ``dask scheduler`` and two ``dask worker`` commands on
  127.0.0.1, a class of 200 graded through ``--scheduler tcp://127.0.0.1:PORT``; then one worker
  is killed mid-batch (its whole process group, SIGKILL) and still nothing is lost.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from batchkit import CLI, graded_kept  # noqa: E402
from test_batch import CODE_ONLY as CORRECT  # noqa: E402 - the functions alone (no ANSWERS)
from test_batch import EXERCISE, SECRET, SOLUTIONS, _copy, make_class  # noqa: E402
from test_batch import _key as _key_json  # noqa: E402

from grader import __version__, batch, batch_worker, report, sandbox, spec  # noqa: E402
from grader import distributed as gd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "hostile"
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module", autouse=True)
def secret():
    old = os.environ.get("GRADER_SECRET")
    os.environ["GRADER_SECRET"] = SECRET
    yield
    if old is None:
        os.environ.pop("GRADER_SECRET", None)
    else:
        os.environ["GRADER_SECRET"] = old


def grade_batch(folder: Path, out: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run([*CLI, "batch", str(folder), "-e", EXERCISE, "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def outputs(out: Path) -> dict[str, bytes]:
    """The batch's own outputs: results, gradebook, summary (workers.txt is the cluster's record)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.name != "workers.txt"}


def assert_same(got: Path, want: Path) -> None:
    a, b = outputs(got), outputs(want)
    assert sorted(a) == sorted(b), f"different files: {sorted(set(a) ^ set(b))}"
    assert "gradebook.csv" in a and "summary.txt" in a
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"{len(differ)} files differ, e.g. {differ[0]}:\n{a[differ[0]][:600]!r}\n!=\n{b[differ[0]][:600]!r}"


# ---------------------------------------------------------------------------- the plugin alone
def _plugin(required=(), version=__version__) -> gd.SandboxPlugin:
    path = Path(spec.find(EXERCISE))
    return gd.SandboxPlugin("grader-test", "best-effort", path.name, path.read_bytes(), SECRET,
                            required, version)


def test_plugin_grades_bytes_like_grade_one_grades_the_file(tmp_path):
    """The submission is only bytes: the paths in the result are the client's, and the result is
    grade_one's on the real file, byte for byte."""
    hostile = (HOSTILE / "null_pointer.py").read_bytes()
    on_disk = tmp_path / "carol" / "submission.py"
    on_disk.parent.mkdir()
    on_disk.write_bytes(hostile)
    plugin = _plugin()
    travelled = json.loads(json.dumps(plugin.__getstate__(), default=lambda b: b.hex()))
    assert set(travelled) == {"batch", "isolation", "spec_name", "spec_bytes", "secret", "required",
                              "client_version"}  # configuration only: no sandbox, no folder
    plugin.prepare()
    try:
        assert plugin.refused is None
        assert plugin.layers == gd.layers_of(sandbox.doctor())
        assert batch_worker._BOX is plugin.box and plugin.box.worker_pid is not None  # warm before any task
        pid = plugin.box.worker_pid
        back = {"file": str(on_disk), "folder": str(on_disk.parent), "spec": EXERCISE}
        got = plugin.grade("carol", ("submission.py", None), [("submission.py", hostile)], "carol", back)
        assert plugin.box.worker_pid == pid  # the same warm worker grades the next one too
        again = plugin.grade("dave", ("s.py", None), [("s.py", CORRECT.encode())], "dave",
                             {"file": "dave.py", "folder": ".", "spec": EXERCISE})
        assert plugin.box.worker_pid == pid
        assert not list(Path(plugin.folder).glob("*/*")), "a submission's files were left on the worker"
    finally:
        plugin.teardown()
    assert batch_worker._BOX is None and not Path(plugin.folder).exists()
    assert "crashed" in {t["status"] for t in got["tests"]}, "the segfaulting submission is graded crashed"
    batch_worker._BOX = None
    want = batch_worker.grade_one(str(on_disk), None, EXERCISE, "best-effort", "carol")
    if batch_worker._BOX is not None:
        batch_worker._BOX.close()
        batch_worker._BOX = None
    assert report.dumps(got) == report.dumps(want)
    functions = [t for t in again["tests"] if "/" in t["id"]]  # its functions; no ANSWERS, so no questions
    top = sum(t["max_score"] for t in functions)
    assert top > 0 and sum(t["score"] for t in functions) == pytest.approx(top)


@pytest.mark.parametrize("required, version, reason", [
    (("a layer no machine has",), __version__, "lacks sandbox layers the client requires: a layer no machine has"),
    ((), "0.0.0-other", f"grader {__version__} on the worker, 0.0.0-other on the client"),
])
def test_plugin_refuses_work(required, version, reason):
    plugin = _plugin(required, version)
    plugin.prepare()
    try:
        assert plugin.refused == reason
        assert plugin.box is None and batch_worker._BOX is None  # no sandbox started for a refusing worker
        assert plugin.state() == {"layers": plugin.layers, "refused": reason, "ready": True}
        with pytest.raises(gd.SandboxUnavailable, match="does not grade"):
            plugin.grade("x", ("x.py", None), [("x.py", CORRECT.encode())], None, {"file": "x", "folder": ".", "spec": "e"})
    finally:
        plugin.teardown()


def test_without_dask_the_message_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(gd.UsageError, match=r'pip install "backprop-grader\[dask\]"'):
        gd._dask()


def test_bad_scheduler_address_is_a_usage_error(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.py").write_text(CORRECT)
    proc = subprocess.run([*CLI, "batch", str(tmp_path / "c"), "--scheduler", "local:zero"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and "local:N needs a number of workers" in proc.stderr, proc.stderr


# ---------------------------------------------------------------------------- a LocalCluster
@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    return make_class(tmp_path_factory.mktemp("dask") / "class")


def test_local_cluster_matches_jobs_2_and_resumes_the_same(klass, tmp_path):
    local, dask = tmp_path / "local", tmp_path / "dask"
    grade_batch(klass.folder, local, "--jobs", "2")
    proc = grade_batch(klass.folder, dask, "--scheduler", "local:2")
    assert_same(dask, local)
    assert "Workers: 2 (2 grading)" in proc.stdout
    record = (dask / "workers.txt").read_text("utf-8")
    for name in gd.layers_of(sandbox.doctor()):
        assert record.count(name) >= 2, f"layer {name!r} not recorded for each worker:\n{record}"
    # a student changes their file: --resume on the cluster regrades that one, as locally
    folder = tmp_path / "class"
    shutil.copytree(klass.folder, folder, symlinks=True, copy_function=_copy)  # links and FIFOs as they are
    student = next(p for p in sorted(folder.glob("*-code.py")))
    student.write_text(CORRECT.replace("W1 -= lr * dW1", "W1 += lr * dW1"))
    for out in (local, dask):
        proc = grade_batch(folder, out, "--resume", *(("--scheduler", "local:1") if out == dask else ("--jobs", "2")))
        assert graded_kept(proc.stdout) == (1, len(klass.expect) - 1, len(klass.expect))
    assert_same(dask, local)


def test_strict_with_a_layer_missing_refuses_on_every_worker(tmp_path):
    path = Path(spec.find(EXERCISE))
    with pytest.raises(gd.SandboxUnavailable, match="no worker can grade safely") as exc:
        gd.Cluster("local:1", path, "strict", required=["a layer no machine has"])
    assert "REFUSED: lacks sandbox layers the client requires: a layer no machine has" in str(exc.value)


# ---------------------------------------------------------------------------- dask scheduler + dask worker
def big_class(folder: Path, n: int = 200) -> Path:
    """The test_batch class, topped up to ``n`` with correct, partly correct and mutated code and
    each student's own key (the exercise has variants)."""
    make_class(folder)
    partly = (SOLUTIONS / "partly-correct.py").read_text("utf-8")
    k, have = 0, len(batch.discover(folder).submissions)
    for _ in range(n - have):  # students, not files (a pair is one student, a README no one)
        k += 1
        student = f"t{k:03d}"
        if k % 8 == 0:  # mostly answers files: a modest runtime, yet 200 tasks to spread and lose
            text = [CORRECT, partly, CORRECT.replace("delta2 = (y - t) * y * (1 - y)", "delta2 = (y - t)")][k // 8 % 3]
            (folder / f"{student}.py").write_text(text)
        else:
            (folder / f"{student}.json").write_text(json.dumps(_key_json(student)))
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    command = [str(DASK)] if DASK.exists() else ["dask"]
    return subprocess.Popen([*command, *args], stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=log.parent,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def test_dask_scheduler_and_two_workers_over_tcp(tmp_path):
    folder = big_class(tmp_path / "class")
    total = len(batch.discover(folder).submissions)
    assert total >= 200
    local = tmp_path / "local"
    grade_batch(folder, local, "--jobs", "2")

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []
    try:
        procs.append(_start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                            tmp_path / "scheduler.log"))
        for name in ("w1", "w2"):
            here = tmp_path / name
            here.mkdir()  # each worker in a folder of its own, far from the class
            procs.append(_start(["worker", address, "--name", name, "--nthreads", "1", "--nworkers", "1",
                                 "--host", "127.0.0.1", "--no-dashboard"], here / "worker.log"))
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)

        dask = tmp_path / "dask"
        proc = grade_batch(folder, dask, "--scheduler", address)
        assert graded_kept(proc.stdout) == (total, 0, total)
        assert "Workers: 2 (2 grading)" in proc.stdout
        assert_same(dask, local)

        # kill the second worker (its nanny and its process, SIGKILL) once a quarter is graded
        killed = tmp_path / "killed"
        run = subprocess.Popen([*CLI, "batch", str(folder), "-e", EXERCISE, "-o", str(killed), "--scheduler", address],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 180
        while run.poll() is None and time.monotonic() < deadline:
            if len(list((killed / "results").glob("*.json"))) >= total // 4:
                break
            time.sleep(0.01)
        assert run.poll() is None, "the batch ended before a worker could be killed"
        _stop(procs.pop())
        stdout, stderr = run.communicate(timeout=240)
        assert run.returncode == 0, stdout + stderr
        assert graded_kept(stdout) == (total, 0, total)
        assert_same(killed, local)
        assert "the grading worker died" not in (killed / "gradebook.csv").read_text() + stdout
    finally:
        for p in procs:
            _stop(p)
