"""The sandbox worker, a standalone server started as ``python -I _worker.py``.

It never imports ``grader`` and never receives an exercise, a key or a secret: the grader sends
it a submission's source and the inputs of each call, nothing else. It imports NumPy once, then
for every submission forks a *supervisor*, which reads that submission and forks one *child*
per run of the student's module code. So the worker's own memory never holds any submission
(a later child cannot find an earlier student's code), and a submission costs two forks, not a
Python start. Both forks happen ahead of time: the next supervisor is forked while the current
submission runs, and it forks and isolates its first child before its submission arrives.

Processes::

    grader (parent) --pipes--> worker --fork--> supervisor --fork--> child (student code)

The child isolates itself (session, namespaces, unprivileged user, Landlock, pdeathsig,
non-dumpable; rlimits once the submission's limits are known) before any student code runs,
then reports what it applied. It
returns results as framed ``.npy`` bytes on a dedicated fd; the supervisor checks the framing
and enforces CPU and wall time, the parent decodes and validates every byte. Nothing is ever
pickled, and no verdict comes from the child.

The grader imports this module for its framing constants; importing it has no side effects.
"""

from __future__ import annotations

import ctypes
import fcntl
import io
import json
import math
import os
import platform
import select
import signal
import stat
import struct
import sys
import time

# ---------------------------------------------------------------------------- framing
# parent <-> worker/supervisor: u32 JSON header length, u32 blob count, header, then per blob
# u64 length + bytes.
MSG_HEAD = struct.Struct("<II")
BLOB_HEAD = struct.Struct("<Q")
MAX_HEADER = 1 << 20

# child -> supervisor, on RESULT_FD: magic, kind, sequence number, payload length.
FRAME_MAGIC = b"GRF1"
FRAME_HEAD = struct.Struct("<4scIQ")
LOAD_SEQ = 0xFFFFFFFF
K_SETUP, K_LOADED, K_RESULT, K_ERROR, K_MISSING, K_EXIT, K_FATAL = (b"S", b"L", b"R", b"E", b"M", b"X", b"F")
# An R payload is u32 item count, then per item: kind (N: .npy bytes, U: JSON describing an
# unsupported value) and u64 length.
ITEM_COUNT = struct.Struct("<I")
ITEM_HEAD = struct.Struct("<cQ")
MAX_ITEMS = 256
SMALL_FRAME = 64 * 1024
LOADED_FRAME = 4 << 20
ANSWERS_BYTES = 1 << 20

# supervisor -> child, on CMD_FD: u32 JSON length, JSON, then the .npy arguments.
CMD_HEAD = struct.Struct("<I")
CMD_FD, RESULT_FD = 3, 4
# The worker keeps its own fds above this, so that a child's dup2 onto 0-4 never hits them.
HIGH_FD = 100

# Layers: internal key -> the name shown by doctor() and in SubmissionRun.missing_layers.
LAYERS = {
    "process": "separate process",
    "isolated": "python -I worker",
    "rlimits": "rlimits",
    "userns": "user namespace",
    "netns": "network namespace",
    "mountns": "mount namespace",
    "landlock": "landlock",
    "user": "unprivileged user",
    "pdeathsig": "pdeathsig",
    "dumpable": "non-dumpable",
    "subreaper": "subreaper",
    "hidden": "grader not importable",
    "cgroup": "cgroup",
    "ipcns": "IPC namespace",
}
CHILD_LAYERS = ("rlimits", "userns", "netns", "ipcns", "landlock", "user", "pdeathsig", "dumpable", "cgroup")

NOBODY = 65534
EXIT_SETUP_FAILED = 70
EXIT_HARNESS = 71
EXIT_CHANNEL = 72
EXIT_QUIT, EXIT_GONE, EXIT_FATAL = 80, 81, 82  # supervisor -> worker
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
               "/sys/devices/system/cpu")
DEV_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


class ChannelClosed(Exception):
    """The other end of a channel went away."""


class ChannelTimeout(Exception):
    """No message within the deadline."""


class ProtocolError(Exception):
    """Bytes that are not a well-formed message."""


class Channel:
    """Length-prefixed JSON + blob messages over a pair of pipe fds.

    Reads are exact (never past the end of a message), so that a process that forks right after
    reading one message leaves the next one in the pipe for its child.
    """

    def __init__(self, rfd: int, wfd: int, buffered: bool = False):
        self.rfd, self.wfd = rfd, wfd
        # Only the grader reads ahead: it is its pipe's only reader.
        self.buffered = buffered
        self.buf = bytearray()

    def send(self, header: dict, blobs=()) -> None:
        data = json.dumps(header, separators=(",", ":")).encode()
        _write_all(self.wfd, MSG_HEAD.pack(len(data), len(blobs)) + data)
        for blob in blobs:
            _write_all(self.wfd, BLOB_HEAD.pack(len(blob)))
            _write_all(self.wfd, blob)

    def _read(self, n: int, deadline: float | None) -> bytes:
        if self.buffered:
            while len(self.buf) < n:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                        raise ChannelTimeout()
                try:
                    chunk = os.read(self.rfd, max(n - len(self.buf), 1 << 20))
                except InterruptedError:
                    continue
                if not chunk:
                    raise ChannelClosed()
                self.buf += chunk
            data = bytes(self.buf[:n])
            del self.buf[:n]
            return data
        parts, need = [], n
        while need:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                    raise ChannelTimeout()
            try:
                chunk = os.read(self.rfd, min(need, 1 << 24))
            except InterruptedError:
                continue
            if not chunk:
                raise ChannelClosed()
            parts.append(chunk)
            need -= len(chunk)
        return b"".join(parts)

    def recv(self, deadline: float | None = None, max_blob: int = 1 << 30) -> tuple[dict, list]:
        hlen, nblobs = MSG_HEAD.unpack(self._read(MSG_HEAD.size, deadline))
        if hlen > MAX_HEADER or nblobs > 4096:
            raise ProtocolError("message header too large")
        try:
            header = json.loads(self._read(hlen, deadline))
        except ValueError:
            raise ProtocolError("message header is not JSON") from None
        if not isinstance(header, dict):
            raise ProtocolError("message header is not an object")
        blobs = []
        for _ in range(nblobs):
            (size,) = BLOB_HEAD.unpack(self._read(BLOB_HEAD.size, deadline))
            if size > max_blob:
                raise ProtocolError("message blob too large")
            blobs.append(self._read(size, deadline))
        return header, blobs


# Taken at import, so that student code replacing os.write or json.dumps in a child cannot
# change how the harness writes its frames.
_os_write, _json_dumps = os.write, json.dumps


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        try:
            n = _os_write(fd, view)
        except InterruptedError:
            continue
        view = view[n:]


# ---------------------------------------------------------------------------- Linux primitives
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 1, 2
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC = 0x00020000, 0x10000000, 0x40000000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18

# landlock_create_ruleset / add_rule / restrict_self: the same numbers on x86_64 and aarch64.
_LANDLOCK_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446), "arm64": (444, 445, 446)}
LL_CREATE_RULESET_VERSION = 1
LL_RULE_PATH_BENEATH = 1
LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
LL_REFER, LL_TRUNCATE, LL_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
LL_NET_ALL = (1 << 0) | (1 << 1)  # bind and connect TCP
LL_SCOPE_ALL = (1 << 0) | (1 << 1)  # abstract unix sockets, signals
LL_READ = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR
LL_WRITE = ((1 << 13) - 1) & ~LL_READ | LL_REFER | LL_TRUNCATE  # writing, making, removing, linking
LL_FILE_RIGHTS = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _fn(name: str):
    fn = getattr(_lib(), name, None)
    if fn is None:
        raise OSError(38, f"{name}() is not available on {sys.platform}")  # ENOSYS
    return fn


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, arg: int = 0) -> int:
    c = ctypes.c_ulong
    return _check(_fn("prctl")(option, c(arg), c(0), c(0), c(0)), f"prctl({option})")


def unshare(flags: int) -> None:
    _check(_fn("unshare")(flags), "unshare")


def mount(source, target, fstype, flags: int, data=None) -> None:
    enc = (lambda s: None if s is None else os.fsencode(s))
    _check(_fn("mount")(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def drop_capabilities() -> None:
    header = struct.pack("<Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two empty {effective, permitted, inheritable} sets
    _check(_fn("capset")(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")
    try:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass  # no ambient capabilities before Linux 4.3


def landlock_abi() -> tuple[int, str]:
    numbers = _LANDLOCK_SYSCALLS.get(platform.machine())
    if sys.platform != "linux" or numbers is None:
        return 0, f"not supported on {sys.platform}/{platform.machine()}"
    abi = _lib().syscall(ctypes.c_long(numbers[0]), None, ctypes.c_size_t(0),
                         ctypes.c_uint32(LL_CREATE_RULESET_VERSION))
    if abi < 0:
        return 0, f"not available in this kernel ({os.strerror(ctypes.get_errno())})"
    return int(abi), f"ABI {abi}"


def landlock_ruleset(abi: int, rules: list, only: int | None = None) -> int:
    """A ruleset fd handling every right of ``abi`` (or just the filesystem rights in ``only``),
    allowing ``rules`` [(path, rights)]."""
    create, add, _ = _LANDLOCK_SYSCALLS[platform.machine()]
    fs = (1 << 13) - 1
    fs |= LL_REFER if abi >= 2 else 0
    fs |= LL_TRUNCATE if abi >= 3 else 0
    fs |= LL_IOCTL_DEV if abi >= 5 else 0
    if only is None:
        attr = struct.pack("<QQQ", fs, LL_NET_ALL if abi >= 4 else 0, LL_SCOPE_ALL if abi >= 6 else 0)
        size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    else:
        fs &= only
        attr, size = struct.pack("<Q", fs), 8
    buf = ctypes.create_string_buffer(attr[:size], size)
    fd = _check(_lib().syscall(ctypes.c_long(create), buf, ctypes.c_size_t(size), ctypes.c_uint32(0)),
                "landlock_create_ruleset")
    for path, rights in rules:
        try:
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            is_dir = stat.S_ISDIR(os.fstat(pfd).st_mode)
            rights &= fs if is_dir else (fs & LL_FILE_RIGHTS)
            rule = ctypes.create_string_buffer(struct.pack("<Qi", rights, pfd), 12)
            _check(_lib().syscall(ctypes.c_long(add), ctypes.c_int(fd), ctypes.c_int(LL_RULE_PATH_BENEATH),
                                  rule, ctypes.c_uint32(0)), f"landlock_add_rule {path}")
        finally:
            os.close(pfd)
    return fd


def landlock_restrict(fd: int) -> None:
    _, _, restrict = _LANDLOCK_SYSCALLS[platform.machine()]
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    _check(_lib().syscall(ctypes.c_long(restrict), ctypes.c_int(fd), ctypes.c_uint32(0)),
           "landlock_restrict_self")


# ---------------------------------------------------------------------------- paths
def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def carve(path: str, rights: int, denied: list[str]) -> list:
    """Rules allowing ``path`` with ``rights`` except the ``denied`` subtrees (Landlock only
    knows allow rules, so a parent of a denied path gets listing rights and its other children
    get full rules)."""
    inside = [d for d in denied if _within(d, path)]
    if not inside:
        return [(path, rights)]
    if path in inside or not os.path.isdir(path):
        return []
    rules = [(path, LL_READ_DIR)]
    try:
        names = os.listdir(path)
    except OSError:
        return rules
    for name in names:
        rules += carve(os.path.join(path, name), rights, inside)
    return rules


def _installed_grader() -> list[str]:
    """Where this interpreter would import ``grader`` from (an installed copy may differ from
    the grader that started us, e.g. a checkout run with a package installed in a venv).
    Located, never imported."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("grader")
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    places = list(spec.submodule_search_locations or [])
    if spec.origin and os.path.exists(spec.origin):
        places.append(os.path.dirname(spec.origin))
    return sorted({os.path.realpath(p) for p in places})


def python_roots(denied: list[str], hidden: list[str]) -> list[str]:
    """The interpreter's import path, without anything inside a denied path, nor inside a
    hidden one (a source checkout) unless it belongs to the interpreter (a venv in it)."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    roots = []
    for entry in sys.path:
        if not entry:
            continue
        real = os.path.realpath(entry)
        if not os.path.exists(real) or real in roots or any(_within(real, d) for d in denied):
            continue
        if any(_within(real, h) for h in hidden) and not any(_within(real, p) for p in prefixes):
            continue
        roots.append(real)
    return roots


def _find_gate(needed: list[str]):
    """The first directory on the way to a needed path that other users cannot traverse, and
    the names below it that must stay reachable."""
    for path in needed:
        parts = path.strip("/").split("/")
        for i in range(len(parts)):
            here = "/" + "/".join(parts[:i])
            try:
                mode = os.stat(here).st_mode
            except OSError:
                break
            if not mode & stat.S_IXOTH:
                names = {p.strip("/").split("/")[i] for p in needed
                         if _within(p, here) and p != here}
                return here, names
    return None


def setup_mount_namespace(needed: list[str], masks: list[str], scratch_root: str, tmpfs_mb: int) -> str:
    """Root only, in the worker itself: make the interpreter reachable for an unprivileged
    user, hide what sits next to it, mask the grader's files, and give scratch its own tmpfs."""
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    notes = []
    for _ in range(16):
        gate = _find_gate(needed)
        if gate is None:
            break
        here, names = gate
        if not names:
            raise OSError(f"{here} is needed but not readable by other users")
        keep = {n: os.open(os.path.join(here, n), os.O_PATH | os.O_CLOEXEC) for n in sorted(names)}
        mount("tmpfs", here, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        for name, fd in keep.items():
            target = os.path.join(here, name)
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
            mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            os.close(fd)
        mount(None, here, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        notes.append(f"{here} hidden except {', '.join(sorted(names))}")
    for path in masks:
        mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000,size=4k")
        notes.append(f"{path} masked")
    mount("tmpfs", scratch_root, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0711,size={tmpfs_mb}m")
    notes.append(f"scratch on a {tmpfs_mb} MiB tmpfs")
    return "; ".join(notes)


# ---------------------------------------------------------------------------- processes
def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:  # no /proc: only process groups can be killed
        return children
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    return children


def descendants(root: int, spare: int | None = None) -> list[int]:
    """Every descendant of ``root``, except ``spare`` and its own descendants."""
    if root == os.getpid():
        # Fast path: a single-threaded subreaper whose only child is the spare has no other
        # descendants (orphans would have been handed to it): one small read, no /proc scan.
        try:
            with open(f"/proc/{root}/task/{root}/children", "rb") as f:
                if {int(p) for p in f.read().split()} <= {spare}:
                    return []
        except (OSError, ValueError):
            pass
    tree, out, stack = _proc_children(), [], [root]
    while stack:
        for pid in tree.get(stack.pop(), ()):
            if pid != spare:
                out.append(pid)
                stack.append(pid)
    return out


class Reaper:
    """Reaps this process's children, keeping the status of the ones it was asked about."""

    def __init__(self):
        self.statuses: dict[int, tuple] = {}

    def reap(self, block_pid: int | None = None) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            self.statuses[pid] = (status, usage)
        if block_pid is not None and block_pid not in self.statuses:
            try:
                pid, status, usage = os.wait4(block_pid, 0)
                self.statuses[pid] = (status, usage)
            except ChildProcessError:
                pass

    def poll(self, pid: int):
        if pid not in self.statuses:
            try:
                got, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if got == pid:
                self.statuses[pid] = (status, usage)
        return self.statuses.get(pid)

    def sweep(self, root: int, timeout: float = 5.0, spare: int | None = None) -> None:
        """Kill every descendant of ``root`` (a subreaper, so orphans come back to it) but
        ``spare``, again and again until none is left: a fork bomb forks while being killed."""
        deadline = time.monotonic() + timeout
        while True:
            pids = descendants(root, spare)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.reap()
            if not pids or time.monotonic() > deadline:
                return
            time.sleep(0.001)


# ---------------------------------------------------------------------------- cgroups
# One cgroup per submission, made by the worker (root) under the worker's own cgroup: the child
# joins it before dropping privileges, so all its descendants share one memory and process limit.
CGROUP_PREFIX = "grader-"


def _read_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def _cgroup_mounts() -> dict:
    """{"v2": mount point} and/or {controller: mount point} (v1), with the mount's root."""
    found: dict[str, tuple[str, str]] = {}
    try:
        lines = _read_text("/proc/self/mountinfo").splitlines()
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
        lines = _read_text("/proc/self/cgroup").splitlines()
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


def _write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


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
            controllers = _read_text(os.path.join(here, "cgroup.controllers")).split()
        except OSError as exc:
            return None, f"cgroup v2 at {here}: {exc.strerror}"
        if "memory" not in controllers:
            return None, f"cgroup v2 at {here} has no memory controller, and no cgroup v1 memory hierarchy is mounted"
        want = [c for c in ("memory", "pids") if c in controllers]
        try:  # a cgroup with processes of its own (the root excepted) cannot delegate controllers
            _write_file(os.path.join(here, "cgroup.subtree_control"), " ".join("+" + c for c in want))
            return {"version": 2, "v2": here}, "cgroup v2"
        except OSError:
            pass
        # A sibling of the worker's cgroup, if that escapes no limit set on it.
        parent = os.path.dirname(here)
        try:
            unlimited = all(_read_text(os.path.join(here, f)).strip() == "max"
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
                _write_file(os.path.join(made["v2"], "memory.oom.group"), "1")  # one OOM kills them all
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
        _write_file(os.path.join(cg["v2"], "memory.max"), limit)
        for name, value in (("memory.swap.max", "0"), ("pids.max", str(int(processes)))):
            if os.path.exists(os.path.join(cg["v2"], name)):
                _write_file(os.path.join(cg["v2"], name), value)
        return
    _write_file(os.path.join(cg["memory"], "memory.limit_in_bytes"), limit)
    memsw = os.path.join(cg["memory"], "memory.memsw.limit_in_bytes")
    if os.path.exists(memsw):
        _write_file(memsw, limit)
    if "pids" in cg:
        _write_file(os.path.join(cg["pids"], "pids.max"), str(int(processes)))


def cgroup_readback(cg: dict, pid: int) -> dict:
    """The limits as the kernel holds them, and whether ``pid`` is in the cgroup (None: it has
    already exited, as a child does after the module code failed, and so left it)."""
    out: dict = {"version": cg["version"], "name": os.path.basename(cg.get("v2") or cg["memory"])}
    try:
        if cg["version"] == 2:
            base = cg["v2"]
            out["memory"] = _read_text(os.path.join(base, "memory.max")).strip()
            out["pids"] = (_read_text(os.path.join(base, "pids.max")).strip()
                           if os.path.exists(os.path.join(base, "pids.max")) else None)
            out["member"] = str(pid) in _read_text(os.path.join(base, "cgroup.procs")).split()
        else:
            out["memory"] = _read_text(os.path.join(cg["memory"], "memory.limit_in_bytes")).strip()
            out["pids"] = _read_text(os.path.join(cg["pids"], "pids.max")).strip() if "pids" in cg else None
            out["member"] = all(str(pid) in _read_text(os.path.join(cg[k], "cgroup.procs")).split()
                                for k in ("memory", "pids") if k in cg)
    except OSError as exc:
        out["error"] = str(exc)
    if out.get("member") is False:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                gone = b") Z " in f.read()
        except OSError:
            gone = True
        if gone:
            out["member"] = None
    return out


def cgroup_join(cg: dict) -> str:
    """Move this process into the cgroup (in the child, while still root)."""
    for key in ("v2", "memory", "pids"):
        if key in cg:
            _write_file(os.path.join(cg[key], "cgroup.procs"), "0")
    mine = _read_text("/proc/self/cgroup")
    name = os.path.basename(cg.get("v2") or cg["memory"])
    if "/" + name + "\n" not in mine:
        raise OSError(f"not in cgroup {name} after joining it")
    what = "memory + pids" if cg["version"] == 2 or "pids" in cg else "memory"
    return f"cgroup v{cg['version']} {name}: {what} limited for all the submission's processes together"


def cgroup_ooms(cg: dict) -> int:
    """How often the kernel's OOM killer struck (or, failing a count, the limit was hit) in it."""
    try:
        if cg["version"] == 2:
            for line in _read_text(os.path.join(cg["v2"], "memory.events")).splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
            return 0
        for line in _read_text(os.path.join(cg["memory"], "memory.oom_control")).splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return int(_read_text(os.path.join(cg["memory"], "memory.failcnt")))
    except (OSError, ValueError):
        return 0


def cgroup_remove(cg: dict, timeout: float = 2.0) -> bool:
    """Kill whatever is left in the cgroup and remove it; False if it could not be removed."""
    dirs = [cg[k] for k in ("v2", "memory", "pids") if k in cg]
    deadline = time.monotonic() + timeout
    left = []
    for path in dirs:
        while True:
            try:
                if cg["version"] == 2 and os.path.exists(os.path.join(path, "cgroup.kill")):
                    pids = _read_text(os.path.join(path, "cgroup.procs")).split()
                    if pids:
                        _write_file(os.path.join(path, "cgroup.kill"), "1")
                else:
                    pids = _read_text(os.path.join(path, "cgroup.procs")).split()
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



# ---------------------------------------------------------------------------- the plan
class Plan:
    """What the worker prepared once, for every child it will fork."""

    def __init__(self, config: dict):
        self.enabled = set(CHILD_LAYERS) - set(config.get("disable", ()))
        self.strict = bool(config.get("strict"))
        self.scratch_root = config["scratch_root"]
        self.denied = [os.path.realpath(p) for p in config.get("deny", ())] + _installed_grader()
        self.hidden = [os.path.realpath(p) for p in config.get("hide", ())]
        self.root = os.geteuid() == 0
        self.notes: dict[str, str] = {}
        self.uid = self.gid = None
        self.user_name = ""
        self.ruleset_fd: int | None = None
        self.shared_netns = False
        self.abi = 0
        self.worker_pid = os.getpid()
        self.cgroup_parents: dict | None = None
        self.path = python_roots(self.denied, self.hidden)
        if sys.platform != "linux":  # best effort elsewhere: a separate process with rlimits
            for key in ("userns", "netns", "ipcns", "landlock", "pdeathsig", "dumpable", "cgroup"):
                self.enabled.discard(key)
                self.notes[key] = f"not available on {sys.platform}"
        self.env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG")}
        self.env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")


def make_plan(config: dict) -> tuple[Plan, dict]:
    plan = Plan(config)
    info: dict[str, list] = {}
    if plan.root:
        try:
            import pwd

            entry = pwd.getpwnam("nobody")
            plan.uid, plan.gid, plan.user_name = entry.pw_uid, entry.pw_gid, "nobody"
        except (ImportError, KeyError):
            plan.uid = plan.gid = NOBODY
            plan.user_name = str(NOBODY)
    # Mount namespace (root only): the rest of the plan sees the world through it.
    disabled = set(config.get("disable", ()))
    if sys.platform != "linux":
        info["mountns"] = [False, f"not available on {sys.platform}"]
    elif not plan.root:
        info["mountns"] = [False, "not root: the interpreter and scratch are used in place"]
    elif "mountns" in disabled:
        info["mountns"] = [False, "disabled"]
    else:
        maskable = [d for d in plan.denied + plan.hidden if os.path.isdir(d)
                    and not any(_within(r, d) for r in plan.path + [plan.scratch_root])]
        masks = [d for d in maskable if not any(_within(d, o) and d != o for o in maskable)]
        try:
            info["mountns"] = [True, setup_mount_namespace(plan.path + [plan.scratch_root], masks,
                                                           plan.scratch_root, int(config.get("tmpfs_mb", 256)))]
        except OSError as exc:
            info["mountns"] = [False, f"could not be set up: {exc}"]
    if plan.root and not info["mountns"][0] and "user" in plan.enabled:
        blocked = _find_gate(plan.path)
        if blocked:
            plan.enabled.discard("user")
            plan.notes["user"] = f"{blocked[0]} is not reachable for an unprivileged user"
    # As root, one network namespace for the worker and all its children: creating (and
    # tearing down) one per child costs about a millisecond each, and the worker needs no
    # network. Children run one submission at a time and are all killed in between.
    if plan.root and "netns" in plan.enabled:
        try:
            unshare(CLONE_NEWNET)
            plan.shared_netns = True
        except OSError as exc:
            plan.notes["netns"] = str(exc)
    # cgroups: where each submission's own cgroup will be made (tried for real by _probe).
    if "cgroup" not in plan.enabled:
        plan.notes.setdefault("cgroup", "disabled")
    elif not plan.root:
        plan.notes["cgroup"] = "not root: the cgroup of a submission cannot be made"
        plan.enabled.discard("cgroup")
    else:
        parents, note = cgroup_parents()
        if parents is None:
            plan.notes["cgroup"] = note
            plan.enabled.discard("cgroup")
        else:
            plan.cgroup_parents = parents
            cgroup_sweep_stale(parents)
    # Landlock: one ruleset, built here, enforced by each child on itself.
    abi, detail = landlock_abi()
    plan.abi = abi
    if "landlock" not in plan.enabled:
        plan.notes["landlock"] = "disabled"
    elif abi <= 0:
        plan.notes["landlock"] = detail
        plan.enabled.discard("landlock")
    else:
        rules = []
        for p in plan.path + [d for d in SYSTEM_DIRS if os.path.exists(d)]:
            rules += carve(p, LL_READ, plan.denied + plan.hidden)
        rules += [(d, LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV) for d in DEV_FILES]
        rules.append((plan.scratch_root, (1 << 16) - 1))
        try:
            fd = landlock_ruleset(abi, rules)
            plan.ruleset_fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD + 10)
            os.close(fd)
            plan.notes["landlock"] = (f"ABI {abi}: system read-only, write only in the submission's scratch, "
                                      f"{len(rules)} rules" + (", TCP denied" if abi >= 4 else "")
                                      + (", signals scoped" if abi >= 6 else ""))
        except OSError as exc:
            plan.notes["landlock"] = f"ruleset could not be built: {exc}"
            plan.enabled.discard("landlock")
    return plan, info


# ---------------------------------------------------------------------------- the child: isolation
def _write_proc(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _enter_userns(flags: int) -> str:
    uid, gid = os.geteuid(), os.getegid()
    unshare(flags)
    _write_proc("/proc/self/setgroups", "deny")
    _write_proc("/proc/self/uid_map", f"{uid} {uid} 1")
    _write_proc("/proc/self/gid_map", f"{gid} {gid} 1")
    note = f"uid {uid} mapped to itself"
    try:  # creating nested user namespaces would give back capabilities
        _write_proc("/proc/sys/user/max_user_namespaces", "0")
        note += ", nested user namespaces disabled"
    except OSError:
        pass
    drop_capabilities()
    return note + ", capabilities dropped"


def isolate(plan: Plan, scratch: str, cg: dict | None = None) -> dict:
    """Apply every enabled layer but the rlimits (they depend on the submission) to this
    (child) process; returns {layer: [applied, detail]}."""
    rep: dict[str, list] = {}
    en = plan.enabled
    if "cgroup" in en and cg:  # first: still root, and before this process uses any memory
        try:
            rep["cgroup"] = [True, cgroup_join(cg)]
        except OSError as exc:
            rep["cgroup"] = [False, f"could not join the submission's cgroup: {exc}"]
    else:
        rep["cgroup"] = [False, plan.notes.get("cgroup", "disabled") if "cgroup" not in en
                         else "the submission's cgroup could not be made"]
    os.setsid()
    if plan.root:
        if "ipcns" in en:  # SysV shm, queues, semaphores of this child: invisible to others, gone with it
            try:
                unshare(CLONE_NEWIPC)
                rep["ipcns"] = [True, "own IPC namespace: SysV objects are this child's alone"]
            except OSError as exc:
                rep["ipcns"] = [False, str(exc)]
        if "netns" in en:
            rep["netns"] = ([True, "the worker's own network namespace, no interface up"] if plan.shared_netns
                            else [False, plan.notes.get("netns", "could not be created")])
        if "user" in en:
            os.setgroups([])
            os.setresgid(plan.gid, plan.gid, plan.gid)
            os.setresuid(plan.uid, plan.uid, plan.uid)
            prctl(PR_SET_DUMPABLE, 1)  # a uid change made /proc/self root's; the uid map needs it
            rep["user"] = [True, f"uid {plan.uid} ({plan.user_name}), scratch owned by it"]
        else:
            rep["user"] = [False, plan.notes.get("user", "disabled")]
        if "userns" in en:
            try:
                rep["userns"] = [True, _enter_userns(CLONE_NEWUSER)]
            except OSError as exc:
                rep["userns"] = [False, str(exc)]
    else:
        rep["user"] = [True, f"already unprivileged (uid {os.getuid()})"]
        flags = ((CLONE_NEWUSER if {"userns", "netns", "ipcns"} & en else 0) | (CLONE_NEWNET if "netns" in en else 0)
                 | (CLONE_NEWIPC if "ipcns" in en else 0))
        if flags:
            try:
                note = _enter_userns(flags)
                if "userns" in en:
                    rep["userns"] = [True, note]
                if flags & CLONE_NEWNET:
                    rep["netns"] = [True, "own network namespace, no interface up"]
                if flags & CLONE_NEWIPC:
                    rep["ipcns"] = [True, "own IPC namespace: SysV objects are this child's alone"]
            except OSError as exc:
                for key in ("userns", "netns", "ipcns"):
                    if key in en:
                        rep[key] = [False, f"unprivileged user namespaces unavailable: {exc}"]
    for key in ("userns", "netns", "ipcns"):
        rep.setdefault(key, [False, plan.notes.get(key, "disabled")])
    if "landlock" in en and plan.ruleset_fd is not None:
        try:
            landlock_restrict(plan.ruleset_fd)
            # A second, stacked domain narrows writing from the scratch root (shared by every
            # submission of this worker) to this submission's own directory.
            own = landlock_ruleset(plan.abi, [(scratch, LL_WRITE)] + [(d, LL_WRITE_FILE | LL_TRUNCATE) for d in DEV_FILES],
                                   only=LL_WRITE)
            landlock_restrict(own)
            os.close(own)
            rep["landlock"] = [True, plan.notes.get("landlock", "")]
        except OSError as exc:
            rep["landlock"] = [False, str(exc)]
    else:
        rep["landlock"] = [False, plan.notes.get("landlock", "disabled")]
        try:
            prctl(PR_SET_NO_NEW_PRIVS, 1)
        except OSError:
            pass
    if "pdeathsig" in en:  # after every credential change, which would clear it
        try:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            rep["pdeathsig"] = [True, "SIGKILL when the supervisor dies"]
        except OSError as exc:
            rep["pdeathsig"] = [False, str(exc)]
    else:
        rep["pdeathsig"] = [False, plan.notes.get("pdeathsig", "disabled")]
    if "dumpable" in en:
        try:
            prctl(PR_SET_DUMPABLE, 0)
            rep["dumpable"] = [True, "no core dumps, no ptrace or /proc access by the same user"]
        except OSError as exc:
            rep["dumpable"] = [False, str(exc)]
    else:
        rep["dumpable"] = [False, plan.notes.get("dumpable", "disabled")]
    return rep


def _set_rlimits(plan: Plan, rep: dict, limits: dict, cpu_total: float) -> list:
    import resource

    def cap(kind, value):
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))

    mb = 1024 * 1024
    cpu = max(1, math.ceil(cpu_total))
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1 if hard == resource.RLIM_INFINITY else min(cpu + 1, hard)))
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_FSIZE, int(limits["file_size_mb"] * mb))
    cap(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    # NPROC counts every process of the real uid: meaningful only for a uid of our own.
    own_uid = (plan.root and rep["user"][0]) or rep["userns"][0] or (not plan.root and rep["netns"][0])
    if own_uid:
        cap(resource.RLIMIT_NPROC, int(limits["processes"]))
    cap(resource.RLIMIT_AS, int(limits["memory_mb"] * mb))
    what = "cpu, address space, file size, open files, core=0"
    return [True, what + (", processes" if own_uid else "; no process limit (the uid is shared with the grader)")]


# ---------------------------------------------------------------------------- the child: harness
def _install_fds(out_w: int, cmd_r: int, res_w: int) -> None:
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (out_w, cmd_r, res_w)]
    os.dup2(moved[0], 1)
    os.dup2(moved[0], 2)
    os.dup2(moved[1], CMD_FD, inheritable=False)
    os.dup2(moved[2], RESULT_FD, inheritable=False)
    for fd in moved:
        os.close(fd)


def child_main(plan: Plan, supervisor: int, scratch: str, out_w: int, cmd_r: int, res_w: int,
               cg: dict | None = None) -> None:
    """Runs in the forked child; never returns. The child isolates itself as soon as it exists
    (the supervisor may fork it before a submission arrives), then waits for the submission."""
    code = EXIT_SETUP_FAILED
    try:
        _install_fds(out_w, cmd_r, res_w)
        started = time.perf_counter()
        rep = isolate(plan, scratch, cg)
        isolate_ms = (time.perf_counter() - started) * 1000
        if os.getppid() != supervisor:
            os._exit(EXIT_SETUP_FAILED)  # the supervisor died before pdeathsig was set
        os.closerange(5, HIGH_FD + 4096)
        os.chdir(scratch)
        os.environ.clear()
        os.environ.update(plan.env, HOME=scratch, TMPDIR=scratch)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file is an OSError, not a death
        sys.path[:] = [scratch] + plan.path
        sys.meta_path.insert(0, _NoGrader)
        sys.dont_write_bytecode = True
        if "tempfile" in sys.modules:
            sys.modules["tempfile"].tempdir = None
        _warm_up()
        (size,) = CMD_HEAD.unpack(_read_exact(CMD_FD, CMD_HEAD.size))
        load = json.loads(_read_exact(CMD_FD, size))
        rep["rlimits"] = (_set_rlimits(plan, rep, load["limits"], load["cpu_total"]) if "rlimits" in plan.enabled
                          else [False, "disabled"])
        _frame(K_SETUP, LOAD_SEQ, {"layers": rep, "isolate_ms": round(isolate_ms, 3)})
        code = EXIT_HARNESS
        Harness(load, scratch).serve()
        code = 0
    except BaseException as exc:  # noqa: BLE001 - the child must never fall back into the server loop
        if code == EXIT_SETUP_FAILED:
            try:
                _frame(K_FATAL, LOAD_SEQ, {"error": f"{type(exc).__name__}: {exc}"})
            except BaseException:  # noqa: BLE001
                pass
    os._exit(code)


_WARM_UP = """
import numpy as np
def f(x, W, b):
    return 1.0 / (1.0 + np.exp(-(W @ x + b)))
y = f(np.ones((2, 3)), np.ones((2, 2)), np.zeros((2, 1)))
z = (y * (1 - y)).sum(axis=1, keepdims=True), y @ y.T, y.T, np.zeros_like(y)
"""


def _warm_up() -> None:
    """Run, while waiting for a submission, the paths every submission takes: a forked process
    pays a page copy the first time it writes to each page it shares with the worker, and this
    pays those copies off the grader's critical path. No student code has run yet."""
    try:
        import builtins
        import traceback  # noqa: F401

        import numpy as np

        saved = dict(builtins.__dict__)
        builtins.__dict__.update(saved)
        ns: dict = {}
        exec(compile(_WARM_UP, "<warm-up>", "exec"), ns)
        for value in ns["z"] + (ns["y"], 0.5):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
            np.lib.format.read_array(io.BytesIO(buf.getvalue()), allow_pickle=False)
        json.loads(json.dumps({"seq": 0, "function": "f", "args": [{"t": "n", "len": 1}, {"t": "j", "v": 0.5}]}))
        io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8",
                         errors="backslashreplace", line_buffering=True)
    except Exception:  # noqa: BLE001 - only an optimisation
        pass


class _NoGrader:
    """First on sys.meta_path in a child. The grader's files are unreadable there anyway (Landlock,
    masks); without this, a directory seen but not readable would import as an empty namespace
    package instead of failing."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "grader" or name.startswith("grader."):
            raise ModuleNotFoundError(f"No module named {name!r} (the grader cannot be imported by a submission)",
                                      name=name)
        return None


def _read_exact(fd: int, n: int, read=os.read, leave=os._exit) -> bytes:
    """n bytes from fd, or leave quietly when the supervisor closes it. The child passes the
    ``read``/``leave`` it saved before student code ran, which may patch ``os``."""
    parts, need = [], n
    while need:
        chunk = read(fd, min(need, 1 << 24))
        if not chunk:
            leave(0)  # the supervisor is done with us
        parts.append(chunk)
        need -= len(chunk)
    return b"".join(parts)


def _frame(kind: bytes, seq: int, payload) -> None:
    if not isinstance(payload, (bytes, bytearray)):
        payload = _json_dumps(payload, separators=(",", ":"), default=str).encode()
    try:
        _write_all(RESULT_FD, FRAME_HEAD.pack(FRAME_MAGIC, kind, seq, len(payload)) + payload)
    except OSError:
        os._exit(EXIT_CHANNEL)


class Harness:
    """Loads the student's module and serves calls, in the child, with references taken before
    any student code runs (so a monkeypatched numpy or builtins does not change what is sent)."""

    def __init__(self, req: dict, scratch: str):
        import builtins
        import traceback
        import types

        import numpy as np

        self.req, self.scratch = req, scratch
        self.pid = os.getpid()
        self.np_asarray, self.np_ndarray = np.asarray, np.ndarray
        self.write_array, self.read_array = np.lib.format.write_array, np.lib.format.read_array
        self.BytesIO, self.dumps, self.loads = io.BytesIO, json.dumps, json.loads
        self.extract_tb, self.format_exc_only = traceback.extract_tb, traceback.format_exception_only
        self.read, self.getpid, self.exit = os.read, os.getpid, os._exit
        self.builtins = builtins.__dict__
        self.saved_builtins = dict(builtins.__dict__)
        self.theirs = dict(builtins.__dict__)
        self.types = types
        self.cap = int(req["limits"]["result_bytes"])
        self.filename = req["filename"]
        self.display = req.get("display_name") or self.filename
        self.cells = []
        if req.get("notebook"):
            for lineno, line in enumerate(req["code"].splitlines(), start=1):
                if line.startswith("# %% [cell ") and line.endswith("]") and line[11:-1].isdigit():
                    self.cells.append((lineno, int(line[11:-1])))
        out = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8",
                               errors="backslashreplace", line_buffering=True)
        err = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                               errors="backslashreplace", line_buffering=True)
        sys.stdout = sys.__stdout__ = out
        sys.stderr = sys.__stderr__ = err
        self.streams = (out, err)

    # -- helpers that run after student code: guard them
    def _flush(self) -> None:
        for s in self.streams:
            try:
                s.flush()
            except BaseException:  # noqa: BLE001
                pass

    # Student code sees its own builtins (it may have changed them at import); the harness
    # always works with the original ones, so a patched len() or isinstance() cannot derail it.
    def _student_builtins(self) -> None:
        self.builtins.clear()
        self.builtins.update(self.theirs)

    def _after_student(self) -> None:
        if self.getpid() != self.pid:  # a fork of the child came back here: not ours to answer
            self.exit(0)
        self.theirs = dict(self.builtins)
        self.builtins.clear()
        self.builtins.update(self.saved_builtins)
        self._flush()

    def _where(self, filename: str, lineno: int) -> str:
        if filename == self.path and self.cells:
            start, cell = max((c for c in self.cells if c[0] <= lineno), default=self.cells[0])
            return f'File "{self.display}", cell {cell}, line {lineno - start}'
        name = self.display if filename == self.path else os.path.relpath(filename, self.scratch)
        return f'File "{name}", line {lineno}'

    def _describe(self, exc: BaseException) -> dict:
        try:
            last = self.format_exc_only(type(exc), exc)[-1].strip()
        except BaseException:  # noqa: BLE001 - a student __str__ may raise
            last = f"{type(exc).__name__}: <message could not be shown>"
        lines = []
        try:
            frames = [f for f in self.extract_tb(exc.__traceback__)
                      if str(f.filename).startswith(self.scratch + os.sep)]
            for f in frames[-20:]:
                lines.append(f"  {self._where(f.filename, f.lineno)}, in {f.name}")
                if f.line:
                    lines.append(f"    {f.line.strip()[:300]}")
        except BaseException:  # noqa: BLE001
            pass
        tb = ("Traceback (most recent call last):\n" + "\n".join(lines) + "\n") if lines else ""
        return {"type": type(exc).__name__, "message": last[:4000], "traceback": tb[:8000],
                "memory": isinstance(exc, MemoryError)}

    # -- load and serve
    def serve(self) -> None:
        req = self.req
        self.path = os.path.join(self.scratch, self.filename)
        name = req.get("module") or "submission"
        module = self.types.ModuleType(name)
        module.__file__ = self.path
        sys.modules[name] = module
        self.module = module
        try:
            code = compile(req["code"], self.path, "exec", dont_inherit=True)
            self._student_builtins()
            exec(code, module.__dict__)
        except SystemExit as exc:
            self._after_student()
            _frame(K_EXIT, LOAD_SEQ, {"code": repr(exc.code)[:200]})
            self.exit(0)
        except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt, GeneratorExit too
            self._after_student()
            _frame(K_ERROR, LOAD_SEQ, self._describe(exc))
            self.exit(0)
        self._after_student()
        _frame(K_LOADED, LOAD_SEQ, self._loaded_info())
        while True:
            self._serve_one()

    def _loaded_info(self) -> dict:
        defined, answers, note = [], None, None
        try:
            for key, value in list(self.module.__dict__.items()):
                if type(key) is str and not key.startswith("__") and callable(value) and len(key) <= 200:
                    defined.append(key)
                    if len(defined) >= 1000:
                        break
        except BaseException:  # noqa: BLE001
            pass
        if "ANSWERS" in self.module.__dict__:
            try:
                answers = self.dumps(self.module.__dict__["ANSWERS"], default=self._json_default,
                                     ensure_ascii=False, allow_nan=True)
                if len(answers.encode()) > ANSWERS_BYTES:
                    answers, note = None, f"ANSWERS is larger than {ANSWERS_BYTES // 1024} KiB and was ignored"
            except BaseException as exc:  # noqa: BLE001
                answers, note = None, f"ANSWERS could not be converted to JSON: {type(exc).__name__}: {str(exc)[:200]}"
        return {"defined": defined, "answers_json": answers, "answers_note": note}

    def _json_default(self, value):
        if isinstance(value, self.np_ndarray):
            return self.np_asarray(value).tolist()
        if hasattr(value, "item") and hasattr(value, "dtype"):
            return value.item()
        return repr(value)[:200]  # a string: the strict reader will reject it as a number

    def _read_exact(self, n: int) -> bytes:
        return _read_exact(CMD_FD, n, self.read, self.exit)

    def _serve_one(self) -> None:
        (size,) = CMD_HEAD.unpack(self._read_exact(CMD_HEAD.size))
        cmd = self.loads(self._read_exact(size))
        seq, fname = cmd["seq"], cmd["function"]
        args = []
        for spec in cmd["args"]:
            if spec["t"] == "n":
                args.append(self.read_array(self.BytesIO(self._read_exact(spec["len"])), allow_pickle=False))
            else:
                args.append(spec["v"])
        fn = self.module.__dict__.get(fname)
        if fn is None or not callable(fn):
            _frame(K_MISSING, seq, {"function": fname, "reason": "not defined" if fn is None else "not callable"})
            return
        try:
            self._student_builtins()
            value = fn(*args)
        except SystemExit as exc:
            self._after_student()
            _frame(K_EXIT, seq, {"code": repr(exc.code)[:200]})
            return
        except BaseException as exc:  # noqa: BLE001
            self._after_student()
            _frame(K_ERROR, seq, self._describe(exc))
            return
        self._after_student()
        _frame(K_RESULT, seq, self._encode(value))

    def _encode(self, value) -> bytes:
        try:
            items = list(value) if isinstance(value, (tuple, list)) else [value]
        except BaseException as exc:  # noqa: BLE001
            items = [_Unsupported(f"a {type(value).__name__} that cannot be iterated ({type(exc).__name__})")]
        if len(items) > MAX_ITEMS:
            items = [_Unsupported(f"a sequence of {len(items)} items (at most {MAX_ITEMS})")]
        parts, total = [ITEM_COUNT.pack(len(items))], 0
        for item in items:
            kind, data = self._encode_item(item, self.cap - total)
            total += len(data)
            parts.append(ITEM_HEAD.pack(kind, len(data)) + data)
        return b"".join(parts)

    def _encode_item(self, item, room: int) -> tuple[bytes, bytes]:
        def unsupported(what: str) -> tuple[bytes, bytes]:
            return b"U", self.dumps({"what": what[:300]}).encode()

        if isinstance(item, _Unsupported):
            return unsupported(item.what)
        try:
            tname = str(type(item).__name__)[:100]
        except BaseException:  # noqa: BLE001
            tname = "object"
        try:
            arr = self.np_asarray(item)
        except BaseException as exc:  # noqa: BLE001 - a student __array__ may raise anything
            return unsupported(f"a value of type {tname} that is not an array ({type(exc).__name__})")
        try:
            if arr.dtype.hasobject:
                inner = "" if not arr.size else f" of {type(arr.flat[0]).__name__}"
                return unsupported(f"a value of type {tname}, not a number or an array of numbers"
                                   if not isinstance(item, self.np_ndarray) else f"an object array{inner}")
            if arr.nbytes > room:
                return unsupported(f"an array of {arr.nbytes} bytes (the limit is {self.cap})")
            buf = self.BytesIO()
            self.write_array(buf, arr, allow_pickle=False)
            return b"N", buf.getvalue()
        except BaseException as exc:  # noqa: BLE001
            return unsupported(f"a value of type {tname} that cannot be sent ({type(exc).__name__})")


class _Unsupported:
    def __init__(self, what: str):
        self.what = what


# ---------------------------------------------------------------------------- the supervisor
class _Child:
    def __init__(self, pid: int, cmd_w: int, res_r: int):
        self.pid, self.cmd_w, self.res_r = pid, cmd_w, res_r
        self.buf = bytearray()
        self.res_eof = False
        self.pending = memoryview(b"")  # command bytes not yet written to the child
        self.garbage = ""

    def cpu(self) -> float:
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                data = f.read()
            fields = data[data.rfind(b")") + 2:].split()
            return (int(fields[11]) + int(fields[12])) / _CLK_TCK
        except (OSError, ValueError, IndexError):
            return 0.0

    def read_result(self) -> None:
        for _ in range(16):  # bounded: take() judges the header between reads
            try:
                chunk = os.read(self.res_r, 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                self.res_eof = True
                return
            if not chunk:
                self.res_eof = True
                return
            self.buf += chunk

    def take(self, kinds: bytes, seq: int, caps: dict):
        """A complete frame (kind, payload), None (need more), or "garbage".

        A well-formed frame for an earlier call (student code that forged one and then returned,
        so that the harness answered too) is dropped; anything else out of place is garbage."""
        b = self.buf
        while len(b) >= FRAME_HEAD.size:
            magic, kind, fseq, length = FRAME_HEAD.unpack_from(b)
            stale = seq != LOAD_SEQ and (fseq < seq or fseq == LOAD_SEQ) and kind in _FRAME_KINDS
            if magic != FRAME_MAGIC or not (kind in kinds and fseq == seq or stale):
                self.garbage = "malformed data on the result channel"
                return "garbage"
            cap = max(caps.values()) if stale else caps.get(kind, SMALL_FRAME)
            if length > cap:
                self.garbage = f"a result of {length} bytes, more than the limit of {cap}"
                return "garbage"
            if len(b) < FRAME_HEAD.size + length:
                return None
            payload = bytes(b[FRAME_HEAD.size:FRAME_HEAD.size + length])
            del b[:FRAME_HEAD.size + length]
            if not stale:
                return kind, payload
        return None


_FRAME_KINDS = (K_SETUP, K_LOADED, K_RESULT, K_ERROR, K_MISSING, K_EXIT)
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Supervisor:
    """Runs one submission: forks children, feeds them calls, streams events to the parent."""

    def __init__(self, chan: Channel, plan: Plan, scratch: str, go_r: int, got_w: int, cg: dict | None = None):
        self.chan, self.plan, self.scratch = chan, plan, scratch
        self.go_r, self.got_w = go_r, got_w
        self.cg, self.ooms, self.cg_error = cg, 0, ""
        self.reaper = Reaper()
        self.pid = os.getpid()

    def emit(self, header: dict, blobs=()) -> None:
        try:
            self.chan.send(header, blobs)
        except OSError:
            self.abort()

    def abort(self) -> None:
        """The parent is gone: kill everything and leave."""
        self.reaper.sweep(self.pid)
        os._exit(1)

    def run(self) -> None:
        """Prepare (scratch, a pre-isolated child) before the submission arrives, so that
        forking and isolating are off the grader's critical path; then run the submission."""
        try:
            prctl(PR_SET_CHILD_SUBREAPER, 1)
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        self.out_r, self.out_w = os.pipe()
        _grow_pipe(self.out_r)
        os.set_blocking(self.out_r, False)
        self.out_kept, self.out_total = bytearray(), 0
        child = self._fork()
        self._warm_up()
        # Wait for our turn: the supervisor before us may still be running its submission.
        if not os.read(self.go_r, 1):
            self.reaper.sweep(self.pid)
            os._exit(EXIT_GONE)
        try:
            req, blobs = self.chan.recv(max_blob=1 << 30)
        except (ChannelClosed, ProtocolError, OSError):
            self.reaper.sweep(self.pid)
            os._exit(EXIT_GONE)
        if req.get("op") != "run":
            self.reaper.sweep(self.pid)
            os._exit(EXIT_QUIT)
        os.write(self.got_w, b"r")  # the worker may now prepare the next supervisor
        os.close(self.got_w)
        if self.reaper.poll(child.pid) is not None:  # killed while waiting: start another
            self._close_child(child)
            child = self._fork()
        self.req, self.blobs = req, blobs
        self.limits = req["limits"]
        self.out_cap = int(self.limits["output_bytes"])
        if self.cg is not None:  # before the child runs any of the submission's code
            try:
                cgroup_limit(self.cg, float(self.limits["memory_mb"]), int(self.limits["processes"]))
                self.ooms = cgroup_ooms(self.cg)
            except OSError as exc:
                self.cg_error = f"limits could not be set: {exc}"
        self._write_files()
        calls = req["calls"]
        index, first = 0, True
        gave_up: dict[str, str] = {}
        while index < len(calls) or first:
            if child is None or first:
                child, header, blobs = self._start(child or self._fork(), len(calls) - index)
                if first:
                    first = False
                    self.emit(dict(header, event="load"), blobs)
                    if child is None or not calls:
                        break
                elif child is None:  # the module code failed when run again in a fresh child
                    for i in range(index, len(calls)):
                        self.emit(dict(header, event="call", index=calls[i]["index"], reload=True), blobs)
                    break
            function = calls[index]["function"]
            if function in gave_up:  # one timeout per function: the next cases would only wait too
                self.emit({"event": "call", "index": calls[index]["index"], "status": "timeout",
                           "message": f"not run: an earlier call of {function} {gave_up[function]}"}, [])
                index += 1
                continue
            header, payload, keep = self._call(child, index, calls[index])
            self.emit(header, payload)
            if header.get("status") == "timeout" or header.get("signal") == signal.SIGXCPU:
                gave_up[function] = str(header.get("message", "exceeded the CPU time limit"))
            index += 1
            if not keep:
                self._end_child(child)
                child = None
        if child is not None:
            self._end_child(child)
        self.reaper.sweep(self.pid)
        self._drain_output()
        self.emit({"event": "done", "output_total": self.out_total}, [bytes(self.out_kept)])
        os._exit(0)

    def _warm_up(self) -> None:
        """Take, while waiting, the page copies that the first use of each path costs after a
        fork (see _warm_up in the child)."""
        try:
            dummy = {"event": "call", "index": 0, "status": "frame", "kind": "R", "limits": {"wall_seconds": 1.0}}
            json.loads(json.dumps(dummy).encode())
            FRAME_HEAD.unpack_from(FRAME_HEAD.pack(FRAME_MAGIC, K_RESULT, 0, 0))
            poller = select.poll()
            poller.register(self.out_r, select.POLLIN)
            poller.poll(0)
            _Child(0, -1, -1).take(K_RESULT, 0, {K_RESULT: 1})
            self.reaper.reap()
        except Exception:  # noqa: BLE001 - only an optimisation
            pass

    def _write_files(self) -> None:
        files = [(self.req["filename"], self.req["code"].encode())]
        files += [(h["name"], self.blobs[h["blob"]]) for h in self.req.get("helpers", ())]
        for name, data in files:
            if "/" in name or name.startswith(".") or not name.endswith(".py"):
                continue
            path = os.path.join(self.scratch, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            if self.plan.root and "user" in self.plan.enabled:
                os.chown(path, self.plan.uid, self.plan.gid)

    def _fork(self) -> _Child:
        """A child that isolates itself and waits for the submission."""
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        _grow_pipe(cmd_w)
        _grow_pipe(res_r)
        pid = os.fork()
        if pid == 0:
            try:
                os.close(cmd_w)
                os.close(res_r)
                os.close(self.out_r)
            finally:
                child_main(self.plan, self.pid, self.scratch, self.out_w, cmd_r, res_w, self.cg)
        os.close(cmd_r)
        os.close(res_w)
        os.set_blocking(res_r, False)
        os.set_blocking(cmd_w, False)
        return _Child(pid, cmd_w, res_r)

    def _start(self, child: _Child, calls_left: int):
        """Send the submission to a waiting child; (child or None if it did not load, event
        header, blobs)."""
        req = self.req
        load = {k: req.get(k) for k in ("code", "filename", "display_name", "module", "notebook", "limits")}
        load["cpu_total"] = float(self.limits["cpu_seconds"]) * (calls_left + 1) + 1
        data = json.dumps(load).encode()
        child.pending = memoryview(CMD_HEAD.pack(len(data)) + data)
        base = child.cpu()  # a child forked ahead has already spent some CPU isolating itself
        setup = self._wait(child, K_SETUP + K_FATAL, LOAD_SEQ, base)
        missing = []
        if setup[0] == "frame" and setup[1][0] == K_SETUP:
            # Written before any student code ran: the child's own account can be trusted.
            layers = json.loads(setup[1][1]).get("layers", {})
            missing = [k for k in req.get("require", ()) if not layers.get(k, [False])[0]]
        if setup[0] != "frame" or setup[1][0] != K_SETUP or missing:
            self._end_child(child)
            detail = (f"required isolation missing: {', '.join(missing)}" if missing else
                      setup[1][1].decode(errors="replace")[:2000] if setup[0] == "frame" else repr(setup[:2]))
            self.emit({"event": "fatal", "message": f"the sandbox could not isolate the submission: {detail}"})
            self.reaper.sweep(self.pid)
            os._exit(EXIT_FATAL)
        extra = {}
        if self.cg is not None:  # the limits as the kernel holds them, for missing_layers and doctor()
            extra["cgroup"] = cgroup_readback(self.cg, child.pid)
            if self.cg_error:
                extra["cgroup"]["error"] = self.cg_error
        self.emit(dict(extra, event="setup"), [setup[1][1]])
        load = self._wait(child, K_LOADED + K_ERROR + K_EXIT, LOAD_SEQ, base)
        header, blobs, _ = self._oom_judged(self._judge(child, load, "load"))
        if header.get("kind") != "L":  # an exception or an exit at import: that child is done
            self._end_child(child)
            return None, header, blobs
        return child, header, blobs

    def _call(self, child: _Child, index: int, call: dict):
        blobs, specs = [], []
        for arg in call["args"]:
            if "blob" in arg:
                data = self.blobs[arg["blob"]]
                specs.append({"t": "n", "len": len(data)})
                blobs.append(data)
            else:
                specs.append({"t": "j", "v": arg["value"]})
        cmd = json.dumps({"seq": index, "function": call["function"], "args": specs}).encode()
        child.pending = memoryview(CMD_HEAD.pack(len(cmd)) + cmd + b"".join(blobs))
        got = self._wait(child, K_RESULT + K_ERROR + K_MISSING + K_EXIT, index, child.cpu())
        header, payload, keep = self._oom_judged(self._judge(child, got, "call"))
        return dict(header, event="call", index=call["index"]), payload, keep

    def _oom_judged(self, judged: tuple):
        """A kill by the cgroup's OOM killer (of the child or of any process it forked) while the
        submission's code ran ends that code: memory_limit, whatever the child itself sent."""
        if self.cg is None:
            return judged
        count = cgroup_ooms(self.cg)
        if count <= self.ooms:
            return judged
        self.ooms = count
        mb = float(self.limits["memory_mb"])
        return ({"status": "memory_limit", "message": f"ran out of memory (limit {mb:g} MB for all its processes "
                 "together): the kernel's OOM killer ended one of them"}, [], False)

    def _judge(self, child: _Child, got, phase: str):
        """(event header, blobs, keep the child?) from what a wait produced."""
        what = got[0]
        if what == "frame":
            kind, payload = got[1]
            return {"status": "frame", "kind": kind.decode()}, [payload], True
        if what == "garbage":
            return {"status": "invalid_output",
                    "message": f"the submission wrote {child.garbage} (not a result the grader sent for)"}, [], False
        if what == "timeout":
            limit = self.limits["cpu_seconds"] if got[1] == "cpu" else self.limits["wall_seconds"]
            kind = "CPU time" if got[1] == "cpu" else "wall-clock time"
            more = "" if got[1] == "cpu" else " (sleeping, waiting or blocked)"
            return {"status": "timeout", "message": f"exceeded the {kind} limit of {limit:g} s{more}"}, [], False
        # dead without a complete frame
        status, usage = got[1]
        maxrss_mb = usage.ru_maxrss / 1024 if usage else 0
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            return {"status": "signal", "signal": sig, "maxrss_mb": maxrss_mb}, [], False
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        return {"status": "exit", "code": code}, [], False

    def _wait(self, child: _Child, kinds: bytes, seq: int, base_cpu: float):
        caps = {K_RESULT: int(self.limits["result_bytes"]) + (1 << 20), K_LOADED: LOADED_FRAME}
        wall = float(self.limits["wall_seconds"])
        cpu = float(self.limits["cpu_seconds"])
        deadline = time.monotonic() + wall
        next_cpu_check = time.monotonic() + 0.02
        poller = select.poll()
        registered_cmd = False
        poller.register(self.out_r, select.POLLIN)
        poller.register(child.res_r, select.POLLIN)
        poller.register(self.chan.rfd, select.POLLIN)
        while True:
            frame = child.take(kinds, seq, caps)
            if frame == "garbage":
                return ("garbage",)
            if frame is not None:
                return ("frame", frame)
            if child.pending and not registered_cmd:
                poller.register(child.cmd_w, select.POLLOUT)
                registered_cmd = True
            dead = self.reaper.poll(child.pid)
            if dead is not None:
                child.read_result()
                frame = child.take(kinds, seq, caps)
                if frame == "garbage":
                    return ("garbage",)
                if frame is not None:
                    return ("frame", frame)
                return ("dead", dead)
            now = time.monotonic()
            if now >= deadline:
                return ("timeout", "wall")
            if now >= next_cpu_check:  # reading /proc costs; 20 ms granularity is plenty
                next_cpu_check = now + 0.02
                if child.cpu() - base_cpu > cpu:
                    return ("timeout", "cpu")
            for fd, ev in poller.poll(max(1, min(20, int((deadline - now) * 1000) + 1))):
                if fd == self.out_r:
                    self._drain_output()
                elif fd == child.res_r:
                    child.read_result()
                    if child.res_eof:
                        poller.unregister(child.res_r)
                elif fd == self.chan.rfd:
                    self.abort()
                elif fd == child.cmd_w:
                    if ev & (select.POLLERR | select.POLLHUP):
                        child.pending = b""
                    else:
                        try:
                            child.pending = child.pending[os.write(child.cmd_w, child.pending):]
                        except BlockingIOError:
                            pass
                        except OSError:
                            child.pending = b""
                    if not child.pending:
                        poller.unregister(child.cmd_w)
                        registered_cmd = False

    def _end_child(self, child: _Child) -> None:
        for fn in (lambda: os.killpg(child.pid, signal.SIGKILL), lambda: os.kill(child.pid, signal.SIGKILL)):
            try:
                fn()
            except OSError:
                pass
        self.reaper.reap(block_pid=child.pid)
        self.reaper.sweep(self.pid)
        self._close_child(child)
        if self.cg is not None:  # kills while its processes died count against no later code
            self.ooms = cgroup_ooms(self.cg)

    def _close_child(self, child: _Child) -> None:
        for fd in (child.cmd_w, child.res_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def _drain_output(self, rounds: int = 16) -> None:
        for _ in range(rounds):  # bounded, so that a flood cannot starve the deadline checks
            try:
                chunk = os.read(self.out_r, 1 << 20)
            except (BlockingIOError, InterruptedError):
                return
            if not chunk:
                return
            self.out_total += len(chunk)
            room = self.out_cap - len(self.out_kept)
            if room > 0:
                self.out_kept += chunk[:room]


def _grow_pipe(fd: int) -> None:
    try:
        fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer wake-ups for big results and floods
    except OSError:
        pass


# ---------------------------------------------------------------------------- the worker
def _wipe(root: str) -> None:
    """Empty the scratch root (when the worker starts and stops)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        _remove(os.path.join(root, name))


def _remove(path: str) -> None:
    """Remove one submission's scratch directory. Every process that could write there is dead
    by now, so nothing races us; symlinks are never followed, and chmod (needed when not root)
    never touches one."""
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        if os.geteuid() != 0:
            for here, dirs, _ in os.walk(path):
                for d in [here] + [os.path.join(here, x) for x in dirs]:
                    try:
                        if stat.S_ISDIR(os.lstat(d).st_mode):
                            os.chmod(d, 0o700)
                    except OSError:
                        pass
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


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
            rep["rlimits"] = _set_rlimits(plan, rep, limits, 10) if "rlimits" in plan.enabled else [False, "disabled"]
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
    _wipe(plan.scratch_root)
    try:
        return json.loads(data)
    except ValueError:
        return {"layers": {}, "problems": ["the probe child died"]}


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
    try:
        config, _ = chan.recv()
    except (ChannelClosed, ProtocolError):
        return
    hello: dict = {"event": "hello", "pid": os.getpid(), "python": sys.version.split()[0],
                   "isolated": bool(sys.flags.isolated), "executable": sys.executable}
    try:
        import numpy

        hello["numpy"] = numpy.__version__
        numpy_dir = os.path.dirname(os.path.realpath(numpy.__file__))
    except Exception as exc:  # noqa: BLE001
        hello["error"] = f"NumPy cannot be imported by {sys.executable}: {exc}"
        chan.send(hello)
        return
    # Modules the harness needs, imported once here rather than from disk in every child.
    import builtins  # noqa: F401
    import resource  # noqa: F401
    import traceback  # noqa: F401
    import types  # noqa: F401

    numpy.lib.format  # noqa: B018 - may be a lazy attribute
    import gc

    gc.collect()
    gc.freeze()  # a collection in a forked process then leaves these objects' pages shared
    hello["grader_imported"] = any(m == "grader" or m.startswith("grader.") for m in sys.modules)
    try:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        hello["subreaper"] = [True, "worker and supervisor adopt and kill orphaned descendants"]
    except (OSError, AttributeError) as exc:
        hello["subreaper"] = [False, str(exc)]
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
    # Verify that a fully isolated child can still run Python; drop the layer that breaks it.
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
        hello["error"] = "an isolated child cannot run Python here: " + "; ".join(
            str(p) for p in hello.get("probe_problems", []))
        chan.send(hello)
        return
    for key in dropped:
        plan.notes[key] = "broke Python in the child on this machine: " + "; ".join(
            str(p) for p in hello["probe_problems"][0])
    hello["layers"] = result["layers"]
    hello["enabled"] = sorted(plan.enabled)
    chan.send(hello)
    serve(chan, plan)
    Reaper().sweep(os.getpid())
    if plan.cgroup_parents:
        cgroup_sweep_stale(plan.cgroup_parents)  # this worker's own, left by an early return
    _wipe(plan.scratch_root)


class _Slot:
    """A supervisor forked ahead of its turn, with its scratch directory and its pipes."""

    def __init__(self, chan: Channel, plan: Plan, private: list[int]):
        self.scratch = os.path.join(plan.scratch_root, os.urandom(8).hex())
        os.mkdir(self.scratch, 0o700)
        self.cg = None
        if "cgroup" in plan.enabled and plan.cgroup_parents:
            try:
                self.cg = cgroup_make(plan.cgroup_parents, f"{CGROUP_PREFIX}{os.getpid()}-{os.path.basename(self.scratch)}")
            except OSError:
                pass  # the child reports the layer missing
        if plan.root and "user" in plan.enabled:
            os.chown(self.scratch, plan.uid, plan.gid)
        go_r, self.go_w = os.pipe()
        self.got_r, got_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                for fd in private + [self.go_w, self.got_r]:  # the other supervisor's pipes
                    os.close(fd)
                Supervisor(chan, plan, self.scratch, go_r, got_w, self.cg).run()
            except BaseException:  # noqa: BLE001 - logged for the parent's diagnostics
                import traceback

                traceback.print_exc()
            finally:
                os._exit(1)
        os.close(go_r)
        os.close(got_w)

    def fds(self) -> list[int]:
        return [self.go_w, self.got_r]

    def close(self) -> None:
        for fd in self.fds():
            try:
                os.close(fd)
            except OSError:
                pass


def serve(chan: Channel, plan: Plan) -> None:
    """One supervisor per submission, in turn; the next one is forked (and forks and isolates
    its first child) while the current one runs, so that neither fork is on the grader's path."""
    reaper = Reaper()
    stale: list[dict] = []  # cgroups that could not be removed yet
    current, spare = _Slot(chan, plan, []), None
    os.write(current.go_w, b"g")
    while True:
        got = b""
        try:
            got = os.read(current.got_r, 1)  # b"r": it has its submission; b"": it left without one
        except OSError:
            pass
        if got:
            spare = _Slot(chan, plan, current.fds())
        reaper.reap(block_pid=current.pid)
        status = reaper.statuses.pop(current.pid, (0, None))[0]
        reaper.sweep(os.getpid(), spare=spare.pid if spare else None)
        _remove(current.scratch)
        if current.cg is not None and not cgroup_remove(current.cg):
            stale.append(current.cg)
        stale[:] = [cg for cg in stale if not cgroup_remove(cg, timeout=0)]
        current.close()
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) in (EXIT_QUIT, EXIT_GONE):
            return
        current, spare = spare or _Slot(chan, plan, []), None
        try:
            # The next supervisor (and its one idle child) is all that runs now.
            chan.send({"event": "clean", "supervisor_status": status, "next": current.pid,
                       "next_scratch": os.path.basename(current.scratch)})
        except OSError:
            return
        os.write(current.go_w, b"g")


if __name__ == "__main__":
    main()
