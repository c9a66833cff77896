"""As root, the worker's own mount namespace: the interpreter made reachable for an
unprivileged user with what sits next to it hidden, the grader's files masked, and scratch on
a tmpfs of its own."""

from __future__ import annotations

import os
import stat
import sys

from .. import linux
from ..linux import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT
from .base import Layer


def find_gate(needed: list[str]):
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
                         if linux.within(p, here) and p != here}
                return here, names
    return None



def setup_mount_namespace(needed: list[str], masks: list[str], scratch_root: str, tmpfs_mb: int) -> str:
    """Root only, in the worker itself: make the interpreter reachable for an unprivileged
    user, hide what sits next to it, mask the grader's files, and give scratch its own tmpfs."""
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, MS_REC | MS_PRIVATE)
    notes = []
    for _ in range(16):
        gate = find_gate(needed)
        if gate is None:
            break
        here, names = gate
        if not names:
            raise OSError(f"{here} is needed but not readable by other users")
        keep = {n: os.open(os.path.join(here, n), os.O_PATH | os.O_CLOEXEC) for n in sorted(names)}
        linux.mount("tmpfs", here, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        for name, fd in keep.items():
            target = os.path.join(here, name)
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
            linux.mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            os.close(fd)
        linux.mount(None, here, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        notes.append(f"{here} hidden except {', '.join(sorted(names))}")
    for path in masks:
        linux.mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000,size=4k")
        notes.append(f"{path} masked")
    linux.mount("tmpfs", scratch_root, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0711,size={tmpfs_mb}m")
    notes.append(f"scratch on a {tmpfs_mb} MiB tmpfs")
    return "; ".join(notes)



class MountNs(Layer):
    key, name, scope = "mountns", "mount namespace", "worker"

    def prepare(self, plan, info):
        if sys.platform != "linux":
            info[self.key] = [False, f"not available on {sys.platform}"]
        elif not plan.root:
            info[self.key] = [False, "not root: the interpreter and scratch are used in place"]
        elif self.key in plan.disabled:
            info[self.key] = [False, "disabled"]
        else:
            maskable = [d for d in plan.denied + plan.hidden if os.path.isdir(d)
                        and not any(linux.within(r, d) for r in plan.path + [plan.scratch_root])]
            masks = list(dict.fromkeys(d for d in maskable if not any(linux.within(d, o) and d != o for o in maskable)))
            try:
                info[self.key] = [True, setup_mount_namespace(plan.path + [plan.scratch_root], masks,
                                                              plan.scratch_root, plan.tmpfs_mb)]
            except OSError as exc:
                info[self.key] = [False, f"could not be set up: {exc}"]
        if plan.root and not info[self.key][0] and "user" in plan.enabled:
            blocked = find_gate(plan.path)
            if blocked:
                plan.off("user", f"{blocked[0]} is not reachable for an unprivileged user")


LAYER = MountNs()
