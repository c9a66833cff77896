"""Linux primitives through ctypes (libc), for the isolation layers."""

from __future__ import annotations

import ctypes
import os
import struct
import sys

PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 1, 2
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC = 0x00020000, 0x10000000, 0x40000000, 0x08000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
MACHINE = os.uname().machine if hasattr(os, "uname") else ""
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}


_libc = None


def lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def fn(name: str):
    found = getattr(lib(), name, None)
    if found is None:
        raise OSError(38, f"{name}() is not available on {sys.platform}")  # ENOSYS
    return found


def check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, arg: int = 0) -> int:
    c = ctypes.c_ulong
    return check(fn("prctl")(option, c(arg), c(0), c(0), c(0)), f"prctl({option})")


def unshare(flags: int) -> None:
    check(fn("unshare")(flags), "unshare")


def mount(source, target, fstype, flags: int, data=None) -> None:
    enc = (lambda s: None if s is None else os.fsencode(s))
    check(fn("mount")(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
          f"mount {target}")


def drop_capabilities() -> None:
    header = struct.pack("<Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two empty {effective, permitted, inheritable} sets
    check(fn("capset")(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")
    try:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass  # no ambient capabilities before Linux 4.3


def prctl_get(option: int) -> int:
    """A PR_GET_* value returned through a pointer (PR_GET_PDEATHSIG)."""
    value = ctypes.c_int(-1)
    check(fn("prctl")(option, ctypes.byref(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)),
          f"prctl({option})")
    return value.value


def umount(target: str, flags: int = 0) -> None:
    check(fn("umount2")(os.fsencode(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    check(lib().syscall(ctypes.c_long(SYS_PIVOT_ROOT.get(MACHINE, -1)), os.fsencode(new_root), os.fsencode(put_old)),
          "pivot_root")


def setns(fd: int, nstype: int) -> None:
    check(fn("setns")(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")

def readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
