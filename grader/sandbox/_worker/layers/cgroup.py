"""A cgroup per submission (v1 or v2 where writable), made by the worker (root) under its own
cgroup: the child joins it before dropping privileges, so all its descendants share one memory
and one process limit, and an OOM kill is seen as such."""

from __future__ import annotations

import os
import signal
import time

from .. import linux
from .base import Layer

# One cgroup per submission, made by the worker (root) under the worker's own cgroup: the child
# joins it before dropping privileges, so all its descendants share one memory and process limit.
CGROUP_PREFIX = "grader-"


def read_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def _cgroup_mounts() -> dict:
    """{"v2": mount point} and/or {controller: mount point} (v1), with the mount's root."""
    found: dict[str, tuple[str, str]] = {}
    try:
        lines = read_text("/proc/self/mountinfo").splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point = fields[3], fields[4].replace("\\040", " ")
        if tail[0] == "cgroup2":
            found.setdefault("v2", (point, root))
        elif tail[0] == "cgroup":
            for opt in tail[2].split(","):
                if opt in ("memory", "pids"):
                    found.setdefault(opt, (point, root))
    return found


def _own_cgroups() -> dict[str, str]:
    """The worker's cgroup path per v1 controller, and under "v2"."""
    own: dict[str, str] = {}
    try:
        lines = read_text("/proc/self/cgroup").splitlines()
    except OSError:
        return own
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            own["v2"] = parts[2]
        for name in parts[1].split(","):
            if name in ("memory", "pids"):
                own[name] = parts[2]
    return own


def _under(mount: tuple[str, str], path: str) -> str:
    point, root = mount
    rel = path[len(root):] if root != "/" and (path + "/").startswith(root + "/") else path
    return os.path.join(point, rel.lstrip("/"))


def cgroup_parents() -> tuple[dict | None, str]:
    """Where per-submission cgroups can be made: ({"version": 1|2, controller: parent dir}, note)
    or (None, why not). v1 (a memory hierarchy) is preferred to v2 when both exist, as the
    memory controller can only be in one of them."""
    mounts, own = _cgroup_mounts(), _own_cgroups()
    if "memory" in mounts and "memory" in own:
        parents = {"version": 1, "memory": _under(mounts["memory"], own["memory"])}
        if "pids" in mounts and "pids" in own:
            parents["pids"] = _under(mounts["pids"], own["pids"])
        return parents, "cgroup v1"
    if "v2" in mounts and "v2" in own:
        here = _under(mounts["v2"], own["v2"])
        try:
            controllers = read_text(os.path.join(here, "cgroup.controllers")).split()
        except OSError as exc:
            return None, f"cgroup v2 at {here}: {exc.strerror}"
        if "memory" not in controllers:
            return None, f"cgroup v2 at {here} has no memory controller, and no cgroup v1 memory hierarchy is mounted"
        want = [c for c in ("memory", "pids") if c in controllers]
        try:  # a cgroup with processes of its own (the root excepted) cannot delegate controllers
            linux.write_file(os.path.join(here, "cgroup.subtree_control"), " ".join("+" + c for c in want))
            return {"version": 2, "v2": here}, "cgroup v2"
        except OSError:
            pass
        # A sibling of the worker's cgroup, if that escapes no limit set on it.
        parent = os.path.dirname(here)
        try:
            unlimited = all(read_text(os.path.join(here, f)).strip() == "max"
                            for f in ("memory.max", "pids.max") if os.path.exists(os.path.join(here, f)))
        except OSError:
            unlimited = False
        if own["v2"] != "/" and unlimited:
            return {"version": 2, "v2": parent}, "cgroup v2 (beside the worker's own cgroup)"
        return None, f"cgroup v2 at {here}: the memory controller cannot be delegated to a child cgroup"
    return None, "no cgroup memory controller is mounted"


def cgroup_make(parents: dict, name: str) -> dict:
    """Create the cgroup ``name`` in every hierarchy: {"version", controller or "v2": dir}."""
    made = {"version": parents["version"]}
    try:
        for key, parent in parents.items():
            if key != "version":
                path = os.path.join(parent, name)
                os.mkdir(path, 0o755)
                made[key] = path
        if made["version"] == 2:
            try:
                linux.write_file(os.path.join(made["v2"], "memory.oom.group"), "1")  # one OOM kills them all
            except OSError:
                pass
    except OSError:
        cgroup_remove(made)
        raise
    return made


def cgroup_limit(cg: dict, memory_mb: float, processes: int) -> None:
    """Set the submission's limits (before any of its code runs)."""
    limit = str(int(memory_mb * 1024 * 1024) // 4096 * 4096)
    if cg["version"] == 2:
        linux.write_file(os.path.join(cg["v2"], "memory.max"), limit)
        for name, value in (("memory.swap.max", "0"), ("pids.max", str(int(processes)))):
            if os.path.exists(os.path.join(cg["v2"], name)):
                linux.write_file(os.path.join(cg["v2"], name), value)
        return
    linux.write_file(os.path.join(cg["memory"], "memory.limit_in_bytes"), limit)
    memsw = os.path.join(cg["memory"], "memory.memsw.limit_in_bytes")
    if os.path.exists(memsw):
        linux.write_file(memsw, limit)
    if "pids" in cg:
        linux.write_file(os.path.join(cg["pids"], "pids.max"), str(int(processes)))


def cgroup_readback(cg: dict, pid: int) -> dict:
    """The limits as the kernel holds them, and whether ``pid`` is in the cgroup (None: it has
    already exited, as a child does after the module code failed, and so left it)."""
    out: dict = {"version": cg["version"], "name": os.path.basename(cg.get("v2") or cg["memory"])}
    try:
        if cg["version"] == 2:
            base = cg["v2"]
            out["memory"] = read_text(os.path.join(base, "memory.max")).strip()
            out["pids"] = (read_text(os.path.join(base, "pids.max")).strip()
                           if os.path.exists(os.path.join(base, "pids.max")) else None)
        else:
            out["memory"] = read_text(os.path.join(cg["memory"], "memory.limit_in_bytes")).strip()
            out["pids"] = read_text(os.path.join(cg["pids"], "pids.max")).strip() if "pids" in cg else None
        out["member"] = _member(cg, pid)
        if out["member"] is False:  # exiting (the kernel moves it to the root cgroups) or not in it:
            # as the kernel lists the cgroup's processes
            out["member"] = all(str(pid) in read_text(os.path.join(cg[k], "cgroup.procs")).split()
                                for k in ("v2", "memory", "pids") if k in cg)
    except OSError as exc:
        out["error"] = str(exc)
    if out.get("member") is False:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            # a zombie, or exiting (PF_EXITING): the kernel takes it out of its cgroups as it exits
            gone = fields[0] in (b"Z", b"X") or int(fields[6]) & 0x4 != 0
        except (OSError, IndexError, ValueError):
            gone = True
        if gone:
            out["member"] = None
    return out


def _member(cg: dict, pid: int) -> bool | None:
    """Whether ``pid`` is in the cgroup in every hierarchy (None: it is gone), read from its
    /proc/PID/cgroup, not from cgroup.procs, whose every read makes a pid list for a kernel
    worker to free later."""
    name = os.path.basename(cg.get("v2") or cg["memory"])
    where = {}
    try:
        text = read_text(f"/proc/{pid}/cgroup")
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in (parts[1].split(",") if parts[1] else ["v2"] if parts[0] == "0" else []):
                where[controller] = parts[2]
    return all(where.get(k, "").rsplit("/", 1)[-1] == name for k in ("v2", "memory", "pids") if k in cg)


def cgroup_join(cg: dict) -> str:
    """Move this process into the cgroup (in the child, while still root)."""
    for key in ("v2", "memory", "pids"):
        if key in cg:
            linux.write_file(os.path.join(cg[key], "cgroup.procs"), "0")
    mine = read_text("/proc/self/cgroup")
    name = os.path.basename(cg.get("v2") or cg["memory"])
    if "/" + name + "\n" not in mine:
        raise OSError(f"not in cgroup {name} after joining it")
    what = "memory + pids" if cg["version"] == 2 or "pids" in cg else "memory"
    return f"cgroup v{cg['version']} {name}: {what} limited for all the submission's processes together"


def cgroup_ooms(cg: dict) -> int:
    """How often the kernel's OOM killer struck (or, failing a count, the limit was hit) in it."""
    count = OomCount(cg)
    try:
        return count()
    finally:
        count.close()


class OomCount:
    """:func:`cgroup_ooms`, asked again and again (the supervisor does after every batch of
    calls) through one open file, read from its start each time, instead of an open per read."""

    def __init__(self, cg: dict):
        self.cg, self.fd = cg, -1
        self.events = os.path.join(cg["v2"], "memory.events") if cg["version"] == 2 else \
            os.path.join(cg["memory"], "memory.oom_control")

    def __call__(self) -> int:
        try:
            if self.fd < 0:
                self.fd = os.open(self.events, os.O_RDONLY | os.O_CLOEXEC)
            for line in os.pread(self.fd, 4096, 0).decode().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
            return 0 if self.cg["version"] == 2 else int(read_text(os.path.join(self.cg["memory"], "memory.failcnt")))
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def cgroup_remove(cg: dict, timeout: float = 2.0) -> bool:
    """Kill whatever is left in the cgroup and remove it; False if it could not be removed."""
    dirs = [cg[k] for k in ("v2", "memory", "pids") if k in cg]
    deadline = time.monotonic() + timeout
    left = []
    for path in dirs:
        try:  # empty, as after a slot whose processes are all reaped: no need to list it
            os.rmdir(path)
            continue
        except FileNotFoundError:
            continue
        except OSError:
            pass
        while True:
            try:
                if cg["version"] == 2 and os.path.exists(os.path.join(path, "cgroup.kill")):
                    pids = read_text(os.path.join(path, "cgroup.procs")).split()
                    if pids:
                        linux.write_file(os.path.join(path, "cgroup.kill"), "1")
                else:
                    pids = read_text(os.path.join(path, "cgroup.procs")).split()
                    for pid in pids:
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except (OSError, ValueError):
                            pass
            except FileNotFoundError:
                break
            except OSError:
                pass
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    left.append(path)
                    break
                time.sleep(0.002)
    return not left


def cgroup_sweep_stale(parents: dict) -> None:
    """Remove cgroups left by workers that are gone (a worker killed before cleaning up)."""
    for key, parent in parents.items():
        if key == "version":
            continue
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            if not name.startswith(CGROUP_PREFIX):
                continue
            try:
                owner = int(name[len(CGROUP_PREFIX):].split("-")[0])
            except ValueError:
                continue
            if owner != os.getpid() and os.path.exists(f"/proc/{owner}"):
                continue
            cgroup_remove({"version": parents["version"], key: os.path.join(parent, name)}, timeout=0.2)




class Cgroup(Layer):
    key, name, phase = "cgroup", "cgroup", "join"  # first: still root, before this process uses memory

    def prepare(self, plan, info):
        if self.key not in plan.enabled:
            return
        if not plan.root:
            plan.off(self.key, "not root: the cgroup of a submission cannot be made")
            return
        parents, note = cgroup_parents()
        if parents is None:
            plan.off(self.key, note)
            return
        plan.cgroup_parents = parents
        cgroup_sweep_stale(parents)

    def apply(self, plan, ctx):
        if not ctx.get("cg"):
            raise OSError("the submission's cgroup could not be made")
        try:
            return cgroup_join(ctx["cg"])
        except OSError as exc:
            raise OSError(f"could not join the submission's cgroup: {exc}") from None


LAYER = Cgroup()
