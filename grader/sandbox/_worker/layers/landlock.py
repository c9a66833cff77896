"""Landlock: the system read-only, writing only in the submission's scratch directory, the
grader, its exercises and keys unreadable; TCP denied and signals and abstract sockets scoped
where the kernel's ABI has them. The worker computes the rules every child shares and opens
their paths once; each child builds its ruleset from those and its own scratch directory (and
private /tmp, /dev/shm), and enforces it."""

from __future__ import annotations

import ctypes
import fcntl
import os
import platform
import stat
import struct
import sys

from .. import linux
from ..framing import CLOSED_BELOW, HIGH_FD
from .base import Layer

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
               "/sys/devices/system/cpu")
DEV_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
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
ALL_FS = (1 << 16) - 1  # every filesystem right (masked to the ABI's)
# in the note when Landlock cannot keep the grader's file names from a listing (no mount namespace to mask them)
LISTABLE = "names listable, contents unreadable"

def landlock_abi() -> tuple[int, str]:
    numbers = _LANDLOCK_SYSCALLS.get(platform.machine())
    if sys.platform != "linux" or numbers is None:
        return 0, f"not supported on {sys.platform}/{platform.machine()}"
    abi = linux.lib().syscall(ctypes.c_long(numbers[0]), None, ctypes.c_size_t(0),
                         ctypes.c_uint32(LL_CREATE_RULESET_VERSION))
    if abi < 0:
        return 0, f"not available in this kernel ({os.strerror(ctypes.get_errno())})"
    return int(abi), f"ABI {abi}"


def _handled(abi: int) -> int:
    """The filesystem rights this ABI knows."""
    fs = (1 << 13) - 1
    fs |= LL_REFER if abi >= 2 else 0
    fs |= LL_TRUNCATE if abi >= 3 else 0
    fs |= LL_IOCTL_DEV if abi >= 5 else 0
    return fs


def _rule(pfd: int, rights: int, fs: int) -> ctypes.Array:
    """The ``landlock_path_beneath_attr`` of an open path: its rights masked to the ABI's, and to a
    file's rights when it is not a directory."""
    rights &= fs if stat.S_ISDIR(os.fstat(pfd).st_mode) else (fs & LL_FILE_RIGHTS)
    return ctypes.create_string_buffer(struct.pack("<Qi", rights, pfd), 12)


def held_rules(abi: int, rules: list, root: str | None = None) -> tuple[list[int], list, list]:
    """``rules`` [(path, rights)] opened once, each path (under ``root``, the view the children
    will see, when given) as an ``O_PATH`` fd kept open above the fds a child sets up: (the fds,
    each one's rule, the rules left to open in each child). A child then adds them to its ruleset
    without a path lookup, an open or a stat of its own (159 rules took 1.8 ms of every child's
    CPU). A path that does not open is left out, as a child would leave it; past the fd limit,
    the rest are left to each child."""
    fs = _handled(abi)
    fds, held = [], []
    for at, (path, rights) in enumerate(rules):
        try:
            pfd = os.open(os.path.join(root, path.lstrip("/")) if root else path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError:  # no fd left (EMFILE) or another refusal: the child tries it itself
            return fds, held, rules[at:]
        try:  # above HIGH_FD: a child moves its pipes onto low fds before Landlock is applied
            high = fcntl.fcntl(pfd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD + 256)
        except OSError:
            return fds, held, rules[at:]
        finally:
            os.close(pfd)
        if high >= CLOSED_BELOW:  # a child closes fds below this before the submission runs
            os.close(high)
            return fds, held, rules[at:]
        fds.append(high)
        held.append(_rule(high, rights, fs))
    return fds, held, []


def landlock_ruleset(abi: int, rules: list, held: list | None = None) -> int:
    """A ruleset fd handling every right of ``abi``, allowing the ``held`` rules
    (:func:`held_rules`) and ``rules`` [(path, rights)]."""
    create, add, _ = _LANDLOCK_SYSCALLS[platform.machine()]
    fs = _handled(abi)
    attr = struct.pack("<QQQ", fs, LL_NET_ALL if abi >= 4 else 0, LL_SCOPE_ALL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    syscall = linux.lib().syscall
    buf = ctypes.create_string_buffer(attr[:size], size)
    fd = linux.check(syscall(ctypes.c_long(create), buf, ctypes.c_size_t(size), ctypes.c_uint32(0)),
                     "landlock_create_ruleset")
    call, ruleset, beneath, flags = ctypes.c_long(add), ctypes.c_int(fd), ctypes.c_int(LL_RULE_PATH_BENEATH), \
        ctypes.c_uint32(0)
    for rule in held or ():
        linux.check(syscall(call, ruleset, beneath, rule, flags), "landlock_add_rule")
    for path, rights in rules:
        try:
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            linux.check(syscall(call, ruleset, beneath, _rule(pfd, rights, fs), flags), f"landlock_add_rule {path}")
        finally:
            os.close(pfd)
    return fd


def landlock_restrict(fd: int) -> None:
    _, _, restrict = _LANDLOCK_SYSCALLS[platform.machine()]
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.check(linux.lib().syscall(ctypes.c_long(restrict), ctypes.c_int(fd), ctypes.c_uint32(0)),
           "landlock_restrict_self")


def carve(path: str, rights: int, denied: list[str]) -> list:
    """Rules allowing ``path`` with ``rights`` except the ``denied`` subtrees (Landlock only
    knows allow rules, so a parent of a denied path gets listing rights and its other children
    get full rules)."""
    inside = [d for d in denied if linux.within(d, path)]
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



class Landlock(Layer):
    key, name, phase = "landlock", "landlock", "drop"

    def prepare(self, plan, info):
        """The rules every child shares, computed once (and tried once, so that a kernel that
        refuses them switches the layer off here rather than in every child)."""
        abi, detail = landlock_abi()
        plan.abi = abi
        if self.key not in plan.enabled:
            return
        if abi <= 0:
            plan.off(self.key, detail)
            return
        rules = []
        for p in plan.path + [d for d in SYSTEM_DIRS if os.path.exists(d)]:
            rules += carve(p, LL_READ, plan.denied + plan.hidden)
        rules += [(d, LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV) for d in DEV_FILES]
        # Opened here, in the view the children will see (its /etc is the view's), not in each child.
        # A child that then failed to enter the view would find its host /etc denied, not more allowed.
        fds, held, rest = held_rules(abi, rules, plan.view)
        try:  # the ruleset a child builds, tried with the scratch root for its scratch
            os.close(landlock_ruleset(abi, rest + [(plan.scratch_root, ALL_FS)], held=held))
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            plan.off(self.key, f"ruleset could not be built: {exc}")
            return
        plan.landlock_rules, plan.landlock_held, plan.landlock_rest = rules, held, rest
        # A denied directory beneath an allowed one (the installed grader in site-packages) can be
        # listed: listing rights are inherited, and the import system needs them on site-packages.
        allowed = plan.path + [d for d in SYSTEM_DIRS if os.path.exists(d)]
        listable = sorted(d for d in plan.denied + plan.hidden if any(linux.within(d, a) and d != a for a in allowed))
        plan.notes[self.key] = (f"ABI {abi}: system read-only, write only in the submission's scratch"
                                + (" and its private /tmp, /dev/shm" if plan.view else "")
                                + f", {len(rules) + 1} rules" + (", TCP denied" if abi >= 4 else "")
                                + (", signals scoped" if abi >= 6 else "")
                                + (f"; {LISTABLE}: {', '.join(listable)}" if listable else ""))

    def apply(self, plan, ctx):
        """Built in the child, after its filesystem view is in place: a rule must name the root
        of a mount (its private /tmp) for Landlock to see it, never a mount point."""
        own = [(ctx["scratch"], ALL_FS)] + ([("/tmp", ALL_FS), ("/dev/shm", ALL_FS)] if plan.view else [])
        fd = landlock_ruleset(plan.abi, plan.landlock_rest + own, held=plan.landlock_held)
        try:
            landlock_restrict(fd)
        finally:
            os.close(fd)
        return plan.notes.get(self.key, "")


LAYER = Landlock()
