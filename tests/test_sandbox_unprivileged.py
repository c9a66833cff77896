"""The sandbox tests, run once more as an unprivileged user (nobody, through ``setpriv``), and
the cgroup v2 path on a cgroup2 mount of the test's own.

As nobody, the layers that need root (the worker's mount namespace, cgroups, the PID namespace,
the filesystem view) must be reported missing by doctor and everything else must still hold:
the corpus test then asserts the statuses of every case whose layers are active, and that the
run names the missing layers for the others.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_DIR = ROOT / "grader" / "sandbox"
# a subset of tests/test_sandbox.py that covers every kind of case and keeps this run short
SUBSET = ("doctor or missing_layers or correct_submission or strict or "
          "hostile and (network or sysv or seccomp_ptrace or seccomp_io_uring or seccomp_allows or fork_bomb "
          "or kill_parent or read_secrets or fsview_host_files or link_environ or escape_attempts "
          "or infinite_loop or memory_bomb or daemon or leave_behind)")

# Run as root in a mount namespace of its own: make the interpreter, its import path and this
# checkout reachable for nobody (the worker's own trick for its children), then become nobody.
_AS_NOBODY = r"""
import json, os, sys
sys.path.insert(0, {sandbox!r})
from _worker import linux
from _worker.layers import mountns
needed, scratch, argv = json.loads(sys.argv[1])
linux.unshare(linux.CLONE_NEWNS)
linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
for _ in range(16):
    gate = mountns.find_gate(needed)
    if gate is None:
        break
    here, names = gate
    keep = {{n: os.open(os.path.join(here, n), os.O_PATH) for n in sorted(names)}}
    linux.mount("tmpfs", here, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=0755,size=1m")
    for name, fd in keep.items():
        os.mkdir(os.path.join(here, name))
        linux.mount(f"/proc/self/fd/{{fd}}", os.path.join(here, name), None, linux.MS_BIND | linux.MS_REC)
os.execvp("setpriv", ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv])
"""


def test_sandbox_tests_pass_as_an_unprivileged_user():
    if os.geteuid() != 0:
        pytest.skip("already unprivileged: this whole run is the unprivileged one")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    needed = sorted({os.path.realpath(p) for p in [sys.prefix, sys.base_prefix, os.path.dirname(sys.executable),
                                                  str(ROOT), *sys.path] if p and os.path.exists(p)})
    scratch = tempfile.mkdtemp(prefix="grader-nobody-")
    os.chmod(scratch, 0o777)
    try:
        argv = [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider", f"--basetemp={scratch}/t",
                str(ROOT / "tests" / "test_sandbox.py"), "-k", SUBSET]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": scratch, "PYTHONDONTWRITEBYTECODE": "1",
               "LANG": "C.UTF-8", "HYPOTHESIS_STORAGE_DIRECTORY": f"{scratch}/hypothesis"}
        proc = subprocess.run([sys.executable, "-c", _AS_NOBODY.format(sandbox=str(SANDBOX_DIR)),
                               json.dumps([needed, scratch, argv])], cwd=scratch, env=env,
                              capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, proc.stdout[-2000:]
    assert int(summary.split(" passed")[0].split()[-1]) >= 20, summary  # the subset really ran


def test_cgroup_v2_path_on_a_cgroup2_mount_of_our_own(tmp_path):
    """cgroup_make, cgroup_limit, cgroup_join, cgroup_readback and cgroup_ooms on cgroup v2:
    a child joins a cgroup with memory.max and pids.max, and the limits hold for its forks."""
    if os.geteuid() != 0:
        pytest.skip("mounting cgroup2 needs root")
    sys.path.insert(0, str(SANDBOX_DIR))
    try:
        from _worker import linux
        from _worker.layers import cgroup as CG
    finally:
        sys.path.remove(str(SANDBOX_DIR))
    point = tmp_path / "cgroup2"
    point.mkdir()
    try:
        linux.mount("cgroup2", str(point), "cgroup2", 0)
    except OSError as exc:
        pytest.skip(f"cgroup2 cannot be mounted here: {exc}")
    try:
        controllers = (point / "cgroup.controllers").read_text().split()
        if "memory" not in controllers:
            pytest.skip(f"the cgroup v2 hierarchy has no memory controller here (it offers {controllers or 'none'}): "
                        "the memory controller is bound to a cgroup v1 hierarchy on this machine")
        (point / "cgroup.subtree_control").write_text(" ".join("+" + c for c in ("memory", "pids")
                                                               if c in controllers))
        cg = CG.cgroup_make({"version": 2, "v2": str(point)}, f"{CG.CGROUP_PREFIX}test-{os.getpid()}")
        try:
            CG.cgroup_limit(cg, 64, 8)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # joins, then tries to fork past pids.max
                try:
                    CG.cgroup_join(cg)
                    made = 0
                    for _ in range(16):
                        try:
                            if os.fork() == 0:
                                import time
                                time.sleep(5)
                                os._exit(0)
                            made += 1
                        except OSError:
                            break
                    os.write(w, str(made).encode())
                finally:
                    os._exit(0)
            made = int(os.read(r, 16) or b"-1")
            back = CG.cgroup_readback(cg, pid)
            os.waitpid(pid, 0)
            assert back["version"] == 2 and int(back["memory"]) == 64 * 1024 * 1024 and back["pids"] == "8"
            assert 0 <= made < 8, f"{made} forks past pids.max 8"
            assert CG.cgroup_ooms(cg) == 0
        finally:
            assert CG.cgroup_remove(cg)
    finally:
        linux.umount(str(point), linux.MNT_DETACH)
