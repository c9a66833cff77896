"""The worker: a server started as ``python -I`` (see ``__main__``) that prepares the plan,
checks with a probe child that an isolated child still runs Python (or takes the verdict of an
earlier probe on this machine, see :func:`probe_key`), then forks the one supervisor and serves
it as zygote (zygote.py) until it leaves."""

from __future__ import annotations

import fcntl
import gc
import json
import os
import select
import signal
import socket
import sys
import time

from .child import isolate, late_layers
from .framing import HIGH_FD, Channel, ChannelClosed, ProtocolError
from .layers.cgroup import CGROUP_PREFIX, cgroup_limit, cgroup_make, cgroup_remove, cgroup_sweep_stale
from .linux import PR_SET_DUMPABLE, prctl
from .plan import Plan, make_plan
from .procs import Reaper, wipe
from .slots import ZygoteLink
from .supervisor import Supervisor
from .zygote import Zygote

try:  # SHA-256 without hashlib: its OpenSSL (about 400 kB of pages, 15 mappings) would be in every child
    from _sha256 import sha256  # Python 3.10 and 3.11
except ImportError:
    try:
        from _sha2 import sha256  # 3.12 and later
    except ImportError:
        from hashlib import sha256


def _probe(plan: Plan, numpy_dir: str) -> dict:
    """Fork a child that applies every enabled layer, then checks that Python still works:
    its import path can be listed and read, and scratch can be written."""
    scratch = os.path.join(plan.scratch_root, "probe-" + os.urandom(4).hex())
    os.mkdir(scratch, 0o700)
    if plan.root and "user" in plan.enabled:
        os.chown(scratch, plan.uid, plan.gid)
    r, w = os.pipe()
    limits = {"file_size_mb": 16, "open_files": 64, "processes": 64, "memory_mb": 1024}
    cg = None
    if "cgroup" in plan.enabled and plan.cgroup_parents:
        try:
            cg = cgroup_make(plan.cgroup_parents, f"{CGROUP_PREFIX}{os.getpid()}-probe-{os.urandom(4).hex()}")
            cgroup_limit(cg, limits["memory_mb"], limits["processes"])
        except OSError as exc:
            plan.notes["cgroup"] = f"a cgroup could not be made and limited: {exc}"
            plan.enabled.discard("cgroup")
            if cg is not None:
                cgroup_remove(cg)
            cg = None
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            fd = fcntl.fcntl(w, fcntl.F_DUPFD, HIGH_FD + 1000)
            rep = isolate(plan, scratch, cg)
            late_layers(plan, rep, {"scratch": scratch, "cg": cg, "limits": limits, "cpu_total": 10})
            problems = []
            for root in plan.path + [numpy_dir]:
                try:
                    if os.path.isdir(root):
                        names = sorted(os.listdir(root))
                        f = next((n for n in names if os.path.isfile(os.path.join(root, n))), None)
                        if f:
                            with open(os.path.join(root, f), "rb") as fh:
                                fh.read(1)
                except OSError as exc:
                    problems.append(f"{root}: {exc.strerror}")
            try:
                with open(os.path.join(scratch, "probe.txt"), "w") as fh:
                    fh.write("ok")
            except OSError as exc:
                problems.append(f"scratch: {exc.strerror}")
            os.write(fd, json.dumps({"layers": rep, "problems": problems}).encode())
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001
            try:
                os.write(w, json.dumps({"layers": {}, "problems": [f"setup failed: {exc}"]}).encode())
            finally:
                os._exit(1)
    os.close(w)
    data = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if select.select([r], [], [], 0.5)[0]:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
    os.close(r)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)
    if cg is not None:
        cgroup_remove(cg)
    wipe(plan.scratch_root)
    try:
        return json.loads(data)
    except ValueError:
        return {"layers": {}, "problems": ["the probe child died"]}


# What a verdict may switch off, as the probe does: a layer that breaks Python, or a cgroup that
# cannot be made. Nothing else is taken from a remembered verdict.
VERDICT_OFF = ("user", "landlock", "cgroup")


def probe_key(plan: Plan, numpy_dir: str) -> str:
    """What the probe's verdict depends on, hashed: the kernel, the interpreter, the import path
    (and who may read it), the layers enabled and what they prepared. The same key on the same
    machine means the same child: the probe would find what it found before."""
    def stat(path, changed=True):  # an installed package changes its folder's mtime: probe again
        try:
            st = os.stat(path)
        except OSError:
            return None
        return [st.st_mode, st.st_uid, st.st_gid, st.st_ino] + ([st.st_mtime_ns] if changed else [])

    facts = {"python": [sys.version, sys.executable], "kernel": list(os.uname()),
             "ids": [os.geteuid(), os.getegid(), plan.uid, plan.gid], "enabled": sorted(plan.enabled),
             "abi": plan.abi, "roots": [[p, stat(p)] for p in plan.path + [numpy_dir]],
             "tmp": stat(os.path.dirname(plan.scratch_root), changed=False), "denied": plan.denied, "hidden": plan.hidden,
             "landlock": plan.landlock_rules, "cgroup": plan.cgroup_parents, "view": plan.view is not None,
             "seccomp": sha256(plan.seccomp).hexdigest()}
    return sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def _remembered(verdicts, key: str) -> dict | None:
    """The verdict of ``key`` among those the grader kept, if it is well formed (else None: probe)."""
    for v in verdicts if isinstance(verdicts, list) else ():
        if not isinstance(v, dict) or v.get("key") != key:
            continue
        off, layers = v.get("off"), v.get("layers")
        if (isinstance(off, dict) and all(k in VERDICT_OFF and isinstance(n, str) for k, n in off.items())
                and isinstance(layers, dict) and all(isinstance(r, list) and len(r) == 2 for r in layers.values())):
            return v
    return None


def check_python(plan: Plan, numpy_dir: str, hello: dict, verdicts=()) -> dict | None:
    """The probe's verdict, fresh or remembered: switch off what breaks Python in the child here
    (trying without user, then landlock, then both); its layers, or None if nothing helps."""
    key = probe_key(plan, numpy_dir)
    known = _remembered(verdicts, key)
    if known is not None:
        for layer, note in known["off"].items():
            plan.off(layer, note)
        hello["probe"] = {"key": key, "remembered": True}
        return known["layers"]
    before = set(plan.enabled)
    dropped = []
    for attempt in ((), ("user",), ("landlock",), ("user", "landlock")):
        trial = set(attempt) & plan.enabled
        if len(trial) != len(attempt):
            continue
        plan.enabled -= trial
        result = _probe(plan, numpy_dir)
        if not result["problems"]:
            dropped = sorted(trial)
            break
        plan.enabled |= trial
        hello.setdefault("probe_problems", []).append(result["problems"][:5])
    else:
        return None
    for layer in dropped:
        plan.notes[layer] = "broke Python in the child on this machine: " + "; ".join(
            str(p) for p in hello["probe_problems"][0])
    off = {layer: plan.notes.get(layer, "") for layer in sorted(before - plan.enabled) if layer in VERDICT_OFF}
    hello["probe"] = {"key": key, "off": off, "layers": result["layers"]}
    return result["layers"]


def _preload(hello: dict) -> str | None:
    """Import NumPy and the modules the harness needs, once here rather than from disk in every
    child, then collect and freeze what is loaded (a collection in a forked process then leaves
    these objects' pages shared); NumPy's folder, or None with the error in ``hello``."""
    try:
        import numpy
    except Exception as exc:  # noqa: BLE001
        hello["error"] = f"NumPy cannot be imported by {sys.executable}: {exc}"
        return None
    hello["numpy"] = numpy.__version__
    import builtins  # noqa: F401
    import resource  # noqa: F401
    import traceback  # noqa: F401
    import types  # noqa: F401

    numpy.lib.format  # noqa: B018 - may be a lazy attribute
    gc.collect()
    gc.freeze()
    hello["grader_imported"] = any(m == "grader" or m.startswith("grader.") for m in sys.modules)
    return os.path.dirname(os.path.realpath(numpy.__file__))


def main() -> None:
    # The parent's pipes move to high fds; 0 and 1 become /dev/null so that nothing printed by
    # accident can corrupt the protocol.
    rfd = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    wfd = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    os.chdir("/")
    chan = Channel(rfd, wfd)
    hello: dict = {"event": "hello", "pid": os.getpid(), "python": sys.version.split()[0],
                   "isolated": bool(sys.flags.isolated), "executable": sys.executable}
    # NumPy, the harness's modules and a collection before the configuration: a worker spawned as
    # `grade FILE` starts (grader/prespawn.py) does them while the grader is still importing.
    numpy_dir = _preload(hello)
    try:
        config, _ = chan.recv()
    except (ChannelClosed, ProtocolError):
        return
    if "error" in hello:
        chan.send(hello)
        return
    try:
        prctl(PR_SET_DUMPABLE, 0)  # the worker's /proc files stay out of reach of same-uid children
    except (OSError, AttributeError):
        pass
    try:
        plan, info = make_plan(config)
    except Exception as exc:  # noqa: BLE001
        hello["error"] = f"the sandbox could not be prepared: {type(exc).__name__}: {exc}"
        chan.send(hello)
        return
    hello.update(info)
    gc.freeze()  # the plan too (no collection: the one before the configuration did it)
    # Verify that a fully isolated child can still run Python; drop the layer that breaks it.
    layers = check_python(plan, numpy_dir, hello, config.get("probes"))
    if layers is None:
        hello["error"] = "an isolated child cannot run Python here: " + "; ".join(
            str(p) for p in hello.get("probe_problems", []))
        chan.send(hello)
        return
    hello["layers"] = layers
    hello["enabled"] = sorted(plan.enabled)
    chan.send(hello)
    serve(chan, plan)
    Reaper().sweep(os.getpid())
    if plan.cgroup_parents:
        cgroup_sweep_stale(plan.cgroup_parents)  # this worker's own, left by an early return
    wipe(plan.scratch_root)
    sys.stderr.flush()
    os._exit(0)  # no interpreter shutdown (NumPy's takes a few ms): the grader waits for this exit


def serve(chan: Channel, plan: Plan) -> None:
    """Fork the supervisor, which reads every submission from the grader, then serve as its
    zygote (zygote.py) until it leaves. This process never reads a submission."""
    try:  # one request a message; a datagram pair (it keeps messages whole too) where there is none
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except (AttributeError, OSError):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            # This process is the channel's only reader now (this worker closes it below), so it
            # may read ahead: a request of 40 arrays is then a read or two, not two reads an array.
            chan.buffered = True
            Supervisor(chan, plan, ZygoteLink(theirs)).serve()
        except BaseException:  # noqa: BLE001 - logged for the parent's diagnostics
            import traceback

            traceback.print_exc()
        finally:
            os._exit(1)
    theirs.close()
    for fd in (chan.rfd, chan.wfd):  # the grader's channel is the supervisor's alone now
        os.close(fd)
    Zygote(plan, ours, pid).serve()
