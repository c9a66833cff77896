"""Processes and files of the worker: finding and killing descendants, reaping, pipes, scratch."""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import time

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


def descendants(root: int, spare: int | set[int] | None = None, reaper: bool = False) -> list[int]:
    """Every descendant of ``root``, except ``spare`` (one pid or several) and their own
    descendants. ``reaper``: root is single-threaded and adopts its orphans (this process, a
    subreaper; or a PID namespace's init)."""
    spare = spare if isinstance(spare, set) else {spare}
    if root == os.getpid() or reaper:
        # Fast path: a single-threaded subreaper whose only child is the spare has no other
        # descendants (orphans would have been handed to it): one small read, no /proc scan.
        try:
            with open(f"/proc/{root}/task/{root}/children", "rb") as f:
                if {int(p) for p in f.read().split()} <= spare:
                    return []
        except (OSError, ValueError):
            pass
    tree, out, stack = _proc_children(), [], [root]
    while stack:
        for pid in tree.get(stack.pop(), ()):
            if pid not in spare:
                out.append(pid)
                stack.append(pid)
    return out


class Reaper:
    """Reaps this process's children, keeping the status of the ones it was asked about."""

    def __init__(self):
        self.statuses: dict[int, tuple] = {}

    def reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.statuses[pid] = (status, usage)

    def poll(self, pid: int):
        if pid not in self.statuses:
            try:
                got, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if got == pid:
                self.statuses[pid] = (status, usage)
        return self.statuses.get(pid)

    def sweep(self, root: int, timeout: float = 5.0, spare: int | set[int] | None = None, reaper: bool = False) -> None:
        """Kill every descendant of ``root`` (a subreaper, so orphans come back to it) but
        ``spare``, again and again until none is left: a fork bomb forks while being killed."""
        deadline = time.monotonic() + timeout
        while True:
            pids = descendants(root, spare, reaper)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.reap()
            if not pids or time.monotonic() > deadline:
                return
            time.sleep(0.001)


def grow_pipe(fd: int) -> None:
    try:
        fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer wake-ups for big results and floods
    except OSError:
        pass


def wipe(root: str) -> None:
    """Empty the scratch root (when the worker starts and stops)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if name != ".root":  # the filesystem view (layers/fsview.py), mounted there
            remove(os.path.join(root, name))


def remove(path: str) -> None:
    """Remove one submission's scratch directory. Every process that could write there is dead
    by now, so nothing races us; symlinks are never followed, and chmod (needed when not root)
    never touches one."""
    if os.path.isdir(path) and not os.path.islink(path):
        if os.geteuid() != 0:
            for here, dirs, _ in os.walk(path):
                for d in [here] + [os.path.join(here, x) for x in dirs]:
                    try:
                        if stat.S_ISDIR(os.lstat(d).st_mode):
                            os.chmod(d, 0o700)
                    except OSError:
                        pass
        if not _remove_flat(path):
            # Only for a tree: importing shutil loads bz2 and lzma, and the worker wipes the
            # probe's folder before it forks any child, which would then inherit them all.
            import shutil

            shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _remove_flat(path: str) -> bool:
    """Remove a folder that holds no folder (a submission's scratch, as a rule): its entries
    unlinked through the folder's fd (a symlink is removed, never followed), then the folder.
    False, having removed nothing, if it holds a folder; False too if it is still there after."""
    try:
        with os.scandir(path) as entries:
            names = []
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    return False
                names.append(entry.name)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        for name in names:
            try:
                os.unlink(name, dir_fd=fd)
            except OSError:
                pass
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        return False
    return True
