"""A filesystem view of its own: the child's root is a read-only tmpfs holding only the Python
standard library and site directories (NumPy), the system's libraries (``/usr``), the scratch
directories, a minimal ``/dev`` and ``/etc``; a fresh ``/tmp``, ``/dev/shm`` and ``/proc`` of its
own; nothing else of the host (no ``/home``, ``/root``, ``/run``, ``/var``; no host Unix socket
by path).

The worker (root, in its own mount namespace) builds the tree once under the scratch root, and
once makes a mount namespace rooted in it (a helper process ``pivot_root``\\ s into the tree and
detaches the host's, as bubblewrap does; the worker keeps the namespace by an fd). Each child
enters that namespace (``setns``), makes a copy of its own (``unshare``: the view's dozen mounts,
not the host's) and mounts its private ``/tmp``, ``/dev/shm`` and a ``/proc`` of its PID
namespace; what those cover (the scratch root, an import path under ``/tmp``) it binds again
from ``/.keep``, where the namespace holds them. Where the namespace cannot be made, each child
copies the worker's mount namespace and pivots into the tree itself, as before. Landlock alone
would not do: it does not cover ``connect()`` to a socket path, and a path it allows still shows
the host's files.
"""

from __future__ import annotations

import os
import stat

from .. import linux
from ..linux import MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT
from .base import Layer

VIEW_NAME = ".root"  # under the scratch root, which the worker mounts as a tmpfs of its own
KEEP = "/.keep"  # in the view: the scratch root and covered import paths, for each child to bind
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
DEVICES = ("null", "zero", "full", "random", "urandom")
PASSWD = "root:x:0:0::/:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
TMP_OPTS = "mode=1777,size=64m"


def _inside(view: str, path: str) -> str:
    return os.path.join(view, path.lstrip("/"))


def _mkdirs(view: str, path: str) -> str:
    target = _inside(view, path)
    os.makedirs(target, mode=0o755, exist_ok=True)
    return target


def _bind(view: str, path: str, read_only: bool = True, source: str | None = None) -> None:
    """``source`` (``path`` itself unless given; and whatever is mounted below it, such as the
    grader's masks) at ``path`` in the view."""
    source = source or path
    if os.path.isdir(source):
        target = _mkdirs(view, path)
    else:
        _mkdirs(view, os.path.dirname(path))
        target = _inside(view, path)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    linux.mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        linux.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build(plan, view: str) -> str:
    """The view, in the worker's mount namespace; returns a note of what it holds."""
    os.makedirs(view, 0o755, exist_ok=True)
    linux.mount("tmpfs", view, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    linux.mount(None, view, None, MS_PRIVATE)
    held = []
    for path in SYSTEM:
        if os.path.islink(path):  # a merged /usr: /lib -> usr/lib
            os.symlink(os.readlink(path), _inside(view, path))
        elif os.path.isdir(path):
            _bind(view, path)
            held.append(path)
    for path in plan.path:
        if not any(linux.within(path, s) for s in SYSTEM if os.path.isdir(s) and not os.path.islink(s)):
            _bind(view, path)
            held.append(path)
    _mkdirs(view, plan.scratch_root)  # each child binds the scratch root here (it may lie in /tmp)
    etc = _mkdirs(view, "/etc")
    for path in ETC_FILES:
        if os.path.islink(path):  # /etc/localtime -> /usr/share/zoneinfo/…: the same link, into the view's /usr
            os.symlink(os.readlink(path), _inside(view, path))
        elif os.path.isfile(path):
            _bind(view, path)
    for name, text in (("passwd", PASSWD), ("group", GROUP), ("nsswitch.conf", "passwd: files\ngroup: files\n")):
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)
    dev = _mkdirs(view, "/dev")
    for name in DEVICES:
        _bind(view, f"/dev/{name}", read_only=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    for path in ("/dev/shm", "/tmp", "/proc", "/.old", f"{KEEP}/scratch",
                 *(f"{KEEP}/{i}" for i, _ in enumerate(_covered(plan)))):
        os.makedirs(_inside(view, path), 0o755, exist_ok=True)
    linux.mount(None, view, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return f"root: a read-only tmpfs holding {', '.join(held)}, scratch, /etc (ld.so.cache, localtime, passwd), /dev"


def _covered(plan) -> list[str]:
    """Import paths under /tmp or /dev/shm, which each child's fresh tmpfs covers."""
    return [p for p in plan.path if any(linux.within(p, t) for t in ("/tmp", "/dev/shm"))]


def namespace(plan, view: str) -> int | None:
    """A mount namespace rooted in the view, made once by a helper process and kept by an fd
    (close-on-exec); None if it cannot be made (each child then pivots into the view itself)."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(done_w)
            linux.unshare(linux.CLONE_NEWNS)
            linux.mount(plan.scratch_root, _inside(view, f"{KEEP}/scratch"), None, MS_BIND)  # not the view in it
            for i, path in enumerate(_covered(plan)):
                _bind(view, f"{KEEP}/{i}", source=path)
            os.chdir(view)
            linux.pivot_root(".", ".old")
            linux.umount("/.old", MNT_DETACH)
            os.write(ready_w, b"1")
            os.read(done_r, 1)  # until the worker holds the namespace
        except BaseException:  # noqa: BLE001 - no namespace: the worker falls back
            pass
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    fd = None
    try:
        if os.read(ready_r, 1) == b"1":
            fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        fd = None
    finally:
        os.close(done_w)
        os.close(ready_r)
        os.waitpid(pid, 0)
    return fd


class FsView(Layer):
    key, name, phase = "fsview", "filesystem view", "ns"

    def prepare(self, plan, info):
        plan.view = None
        if self.key not in plan.enabled:
            return
        if not plan.root or not info.get("mountns", [False])[0]:
            plan.off(self.key, "needs root and the worker's own mount namespace")
            return
        view = os.path.join(plan.scratch_root, VIEW_NAME)
        try:
            plan.notes[self.key] = build(plan, view)
            plan.view = view
        except OSError as exc:
            plan.off(self.key, f"could not be built: {exc}")
            return
        # "fsview-setns" disabled (tests): each child pivots into the view itself, the fallback
        plan.view_ns = None if "fsview-setns" in plan.disabled else namespace(plan, view)

    def apply(self, plan, ctx):
        # Into the view: its prepared namespace entered (root and working directory become the
        # view's), else the worker's copied, with the view still at plan.view inside it
        entered = plan.view_ns is not None
        if entered:
            linux.setns(plan.view_ns, linux.CLONE_NEWNS)
        linux.unshare(linux.CLONE_NEWNS)  # a copy of its own
        root = "/" if entered else plan.view
        for path in ("/tmp", "/dev/shm"):
            linux.mount("tmpfs", _inside(root, path), "tmpfs", MS_NOSUID | MS_NODEV, TMP_OPTS)
        # an import path under /tmp (a virtualenv in a CI checkout there) was bound into the view's
        # /tmp, which the fresh tmpfs now covers: bind it again, read-only, inside the fresh one
        for i, path in enumerate(_covered(plan)):
            _bind(root, path, source=f"{KEEP}/{i}" if entered else path)
        scratch = _inside(root, plan.scratch_root)
        os.makedirs(scratch, 0o711, exist_ok=True)  # inside the fresh /tmp when the scratch root is there
        # not the view mounted inside it (the namespace holds the scratch root alone at /.keep)
        linux.mount(f"{KEEP}/scratch" if entered else plan.scratch_root, scratch, None, MS_BIND)
        proc = "no /proc (no PID namespace of its own)"
        if ctx.get("rep", {}).get("pidns", [False])[0]:
            linux.mount("proc", _inside(root, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            proc = "/proc of its own PID namespace"
        if not entered:
            os.chdir(root)
            linux.pivot_root(".", ".old")
            linux.umount("/.old", MNT_DETACH)
        os.chdir("/")
        how = "the view's namespace, entered and copied" if entered else "pivot_root"
        return f"{plan.notes[self.key]}; private /tmp and /dev/shm; {proc}; host root detached ({how})"

    def held(self, plan, ctx):
        try:
            return not os.path.exists("/home") and not os.path.exists("/run") and \
                stat.S_ISDIR(os.stat("/tmp").st_mode) and os.listdir("/.old") == []
        except OSError:
            return False


LAYER = FsView()
