"""``doctor()``: every isolation layer, checked for real by running a probe in the sandbox."""

from __future__ import annotations

import json
import os
import platform
import socket
import tempfile
from pathlib import Path

from ..errors import SandboxUnavailable
from ..submission import load_source
from . import _worker as W
from .model import Limits

# Runs as a submission. It reports what it could do; doctor() judges.
_PROBE = r'''
import ctypes, json, os, resource, socket, sys

DENIED = {denied!r}
PORT = {port!r}
OUTSIDE = {outside!r}
IO_URING_SETUP = {io_uring!r}


def _try(fn):
    try:
        return "allowed: " + str(fn())[:100]
    except BaseException as exc:
        return "blocked: " + type(exc).__name__ + ": " + str(exc)[:150]


def _read(path):
    if os.path.isdir(path):
        return len(os.listdir(path))
    with open(path, "rb") as f:
        return len(f.read(16))


def _write_outside():
    with open(OUTSIDE, "w") as f:
        f.write("x")
    os.unlink(OUTSIDE)
    return OUTSIDE


def _import_unhooked():
    # without the harness's import blocker, the files themselves must be out of reach
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") != "_NoGrader"]
    return __import__("grader.solver").solver.__file__


def _syscall_errno(libc, nr, *args):
    if nr is None:
        return "not checked"
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return "allowed" if result >= 0 else os.strerror(ctypes.get_errno())


def probe():
    libc = ctypes.CDLL(None, use_errno=True)
    sig = ctypes.c_int(-1)
    libc.prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
    report = {{
        "uid": os.getuid(),
        "pdeathsig": sig.value,
        "dumpable": libc.prctl(3, 0, 0, 0, 0),  # PR_GET_DUMPABLE
        "connect": _try(lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2).close()),
        "import_grader": _try(lambda: __import__("grader").__file__),
        "import_unhooked": _try(_import_unhooked),
        "denied": {{p: _try(lambda p=p: _read(p)) for p in DENIED}},
        "write_outside": _try(_write_outside),
        "ppid_environ": _try(lambda: _read("/proc/%d/environ" % (os.getppid() or 1))),
        "rlimits": {{n: resource.getrlimit(getattr(resource, n))[1] for n in
                    ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_NPROC")}},
        "env": sorted(os.environ),
        "cgroup": _try(lambda: open("/proc/self/cgroup").read().replace("\n", " ")),
        "ipc_ns": _try(lambda: os.readlink("/proc/self/ns/ipc")),
        "io_uring": _syscall_errno(libc, IO_URING_SETUP, 8, 0),
        "host_paths": [p for p in ("/home", "/run", "/var/run", "/var", "/etc/shadow", "/srv") if os.path.lexists(p)],
    }}
    print("DOCTOR " + json.dumps(report))
    return 1.0
'''


def _blocked(result: str) -> bool:
    return isinstance(result, str) and result.startswith("blocked")


def doctor(isolation: str = "best-effort") -> list[tuple[str, bool, str]]:
    """(layer name, active?, detail) for every isolation layer, from a real worker and child."""
    from . import _files, _sandbox
    from .model import Call

    deny, hide = _files.secret_paths()
    targets = []
    for d in deny:  # a directory and a file in it, when there is one
        targets.append(d)
        try:
            files = sorted(f for f in os.listdir(d) if os.path.isfile(os.path.join(d, f)))
            if files:
                targets.append(os.path.join(d, files[0]))
        except OSError:
            pass
    limits = Limits(wall_seconds=20, cpu_seconds=10)
    rows: dict[str, tuple[bool, str]] = {}  # layer key -> (active, detail)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    outside = os.path.join(tempfile.gettempdir(), f"grader-doctor-{os.urandom(6).hex()}")
    try:
        with tempfile.TemporaryDirectory() as tmp, _sandbox.Sandbox(isolation) as box:
            box.start()
            # outside its own directory, but in sight: the scratch root of every submission (the
            # host's /tmp is out of sight behind a private /tmp in the filesystem view)
            outside = os.path.join(box._scratch, f"grader-doctor-{os.urandom(6).hex()}")
            path = Path(tmp) / "doctor_probe.py"
            path.write_text(_PROBE.format(denied=targets, port=listener.getsockname()[1], outside=outside,
                                          io_uring=425 if platform.machine() in ("x86_64", "aarch64") else None))
            hello = box._hello
            run = box.run(load_source(path), [Call("probe", ())], limits)
            cgroup = box._cgroup or {}
            child_layers = box._layers
    except SandboxUnavailable as exc:  # a diagnosis, not a failure: every layer is then missing
        return [(layer.name, False, f"the sandbox cannot run here: {exc}") for layer in W.TABLE]
    finally:
        listener.close()
        if os.path.exists(outside):
            os.unlink(outside)
    report = {}
    for line in run.output.splitlines():
        if line.startswith("DOCTOR "):
            try:
                report = json.loads(line[len("DOCTOR "):])
            except ValueError:
                pass
    outcome = run.outcomes[0] if run.outcomes else None
    probe_ok = bool(report) and outcome is not None and outcome.status == "ok"
    layers = child_layers or hello.get("layers", {})  # the probe submission's own child, else the worker's probe

    def reported(key: str) -> tuple[bool, str]:
        entry = layers.get(key, [False, "not reported"])
        return bool(entry[0]), str(entry[1])

    rows["process"] = (bool(hello.get("pid")) and hello.get("pid") != os.getpid() and probe_ok,
                 f"worker pid {hello.get('pid')} (Python {hello.get('python')}, NumPy {hello.get('numpy')}); "
                 "one long-lived supervisor; the worker forks a child (and a PID namespace's init) per submission"
                 + ("" if probe_ok else f"; the probe failed: {run.load_message or (outcome and outcome.message)}"))
    rows["isolated"] = (bool(hello.get("isolated")) and not hello.get("grader_imported"),
                 f"{hello.get('executable')} -I {Path(W.__file__).parent}; "
                 f"sys.flags.isolated={int(bool(hello.get('isolated')))}, "
                 f"grader {'imported' if hello.get('grader_imported') else 'not imported'}; BLAS single-threaded")
    ok, detail = reported("rlimits")
    want = {"RLIMIT_AS": limits.memory_mb * 1024 * 1024, "RLIMIT_FSIZE": limits.file_size_mb * 1024 * 1024,
            "RLIMIT_NOFILE": limits.open_files, "RLIMIT_CORE": 0}
    got = report.get("rlimits", {})
    bad = [n for n, v in want.items() if got.get(n) != v]
    rows["rlimits"] = (ok and probe_ok and not bad,
                 detail + (f"; not as set: {', '.join(bad)}" if bad else ""))
    ok, detail = reported("userns")
    rows["userns"] = (ok, detail)
    ok, detail = reported("netns")
    connect = report.get("connect", "not checked")
    rows["netns"] = (ok and _blocked(connect),
                 f"{detail}; connecting to a 127.0.0.1 listener of the grader: {connect}")
    ok, detail = reported("ipcns")
    ipc = report.get("ipc_ns", "not checked")
    own = "allowed: " + os.readlink("/proc/self/ns/ipc")
    rows["ipcns"] = (ok and ipc.startswith("allowed: ipc:") and ipc != own,
                 f"{detail}; the child's IPC namespace: {ipc[len('allowed: '):]}, the grader's: {own[len('allowed: '):]}")
    ok, detail = reported("fsview")
    host = report.get("host_paths", ["not checked"])
    rows["fsview"] = (ok and probe_ok and host == [],
                      f"{detail}; host paths seen by the child: {', '.join(host) if host else 'none'}")
    ok, detail = reported("seccomp")
    uring = report.get("io_uring", "not checked")
    rows["seccomp"] = (ok and uring == os.strerror(1),
                       f"{detail}; io_uring_setup() in the child: {uring}")
    mountns = hello.get("mountns", [False, "not reported"])
    rows["mountns"] = (bool(mountns[0]), str(mountns[1]))
    ok, detail = reported("landlock")
    write = report.get("write_outside", "not checked")
    rows["landlock"] = (ok and _blocked(write), f"{detail}; writing {outside}: {write}")
    uid = report.get("uid")
    ok, detail = reported("user")
    rows["user"] = (ok and isinstance(uid, int) and uid != 0, f"{detail}; the child runs as uid {uid}")
    sig = report.get("pdeathsig")
    rows["pdeathsig"] = (sig == 9, f"PR_GET_PDEATHSIG in the child: {sig}")
    dumpable = report.get("dumpable")
    environ = report.get("ppid_environ", "not checked")
    rows["dumpable"] = (dumpable == 0,
                 f"PR_GET_DUMPABLE in the child: {dumpable}; reading the supervisor's environ: {environ}")
    reaper = hello.get("subreaper", [False, "not reported"])
    rows["subreaper"] = (bool(reaper[0]), str(reaper[1]))
    imp = report.get("import_grader", "not checked")
    unhooked = report.get("import_unhooked", "not checked")
    denied = report.get("denied", {})
    readable = [p for p, r in denied.items() if not _blocked(r)]
    hidden = probe_ok and _blocked(imp) and _blocked(unhooked) and not readable
    rows["hidden"] = (hidden,
                 f"import grader: {imp}; import grader.solver past that: {unhooked}; "
                 + (f"readable: {', '.join(readable)}" if readable else
                    f"{len(denied)} grader/exercise/key paths unreadable"))
    # cgroup: the child's own account, the limits read back from its cgroup by the supervisor,
    # and the cgroup as the submission's code sees it in /proc/self/cgroup.
    seen = report.get("cgroup", "not checked")
    name = str(cgroup.get("name", ""))
    inside = bool(name) and isinstance(seen, str) and f"/{name}" in seen
    active = (W.LAYERS["cgroup"] not in run.missing_layers and probe_ok and cgroup.get("member") is True
              and (inside or _blocked(seen)))
    if cgroup:
        try:
            memory = f"{int(cgroup.get('memory')) / (1024 * 1024):g} MiB"
        except (TypeError, ValueError):
            memory = str(cgroup.get("memory"))
        detail = (f"v{cgroup.get('version')} cgroup {name}: memory limit {memory} (asked {limits.memory_mb} MB), "
                  f"pids.max {cgroup.get('pids')} (asked {limits.processes}), child in it: "
                  f"{'yes' if cgroup.get('member') else 'no'}" + (f"; {cgroup['error']}" if cgroup.get("error") else "")
                  + ("; the child's /proc/self/cgroup names it" if inside else f"; the child's /proc/self/cgroup: {seen}"))
    else:
        ok, detail = reported("cgroup")
        detail = f"not in a cgroup of its own: {detail}"
    rows["cgroup"] = (active, detail)
    # One row per layer of the worker's table, in its order; a layer without a check of its
    # own here is judged by what the child read back after applying it.
    return [(layer.name, *rows.get(layer.key, reported(layer.key))) for layer in W.TABLE]
