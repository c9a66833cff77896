"""seccomp: a syscall filter, installed last before the student's code runs.

A small BPF program of our own (no libseccomp needed): a syscall of another architecture (the
i386 or x32 ABI on x86_64) or one on the list below fails with EPERM, so that the student sees an
ordinary ``PermissionError``, not a kill; ``clone`` with a namespace flag fails with EPERM too,
and ``clone3`` (whose flags a filter cannot read) with ENOSYS, so that libc falls back to
``clone``. Everything CPython, NumPy, threads, ``mmap`` and BLAS use is allowed.
"""

from __future__ import annotations

import ctypes
import errno
import struct

from .. import linux
from .base import Layer

# The refused syscalls: io_uring (it runs operations past any filter), tracing and reading
# other processes, the kernel keyring, BPF, perf, userfaultfd (a race-widening primitive),
# mounts and namespaces (a way back out of the filesystem view), kernel modules and kexec,
# file handles (open_by_handle_at walks past a mount's root), personality.
REFUSED = ("io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace", "process_vm_readv",
           "process_vm_writev", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
           "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount", "fsopen",
           "fsconfig", "fsmount", "fspick", "mount_setattr", "kexec_load", "kexec_file_load", "init_module",
           "finit_module", "delete_module", "open_by_handle_at", "name_to_handle_at", "personality")
_COMMON = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428,
           "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435,
           "mount_setattr": 442}
SYSCALLS = {
    "x86_64": dict(_COMMON, ptrace=101, process_vm_readv=310, process_vm_writev=311, keyctl=250, add_key=248,
                   request_key=249, bpf=321, perf_event_open=298, userfaultfd=323, mount=165, umount2=166,
                   pivot_root=155, chroot=161, unshare=272, setns=308, kexec_load=246, kexec_file_load=320,
                   init_module=175, finit_module=313, delete_module=176, open_by_handle_at=304,
                   name_to_handle_at=303, personality=135, clone=56),
    "aarch64": dict(_COMMON, ptrace=117, process_vm_readv=270, process_vm_writev=271, keyctl=219, add_key=217,
                    request_key=218, bpf=280, perf_event_open=241, userfaultfd=282, mount=40, umount2=39,
                    pivot_root=41, chroot=51, unshare=97, setns=268, kexec_load=104, kexec_file_load=294,
                    init_module=105, finit_module=273, delete_module=106, open_by_handle_at=265,
                    name_to_handle_at=264, personality=92, clone=220),
}
SYSCALLS["arm64"] = SYSCALLS["aarch64"]
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7, "arm64": 0xC00000B7}
X32_BIT = 0x40000000
NS_FLAGS = 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00020000 | 0x00000080

LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_GET_SECCOMP = 22, 2, 21
_FILTER = struct.Struct("<HBBI")


def program(machine: str) -> bytes:
    """The filter for one architecture, as sock_filter structs."""
    table, arch = SYSCALLS[machine], AUDIT_ARCH[machine]
    refused = sorted({table[name] for name in REFUSED})
    ins: list[tuple[int, int, int, int]] = []
    eperm = RET_ERRNO | errno.EPERM
    ins.append((LD_W_ABS, 0, 0, 4))  # seccomp_data.arch
    ins.append((JEQ, 1, 0, arch))
    ins.append((RET, 0, 0, eperm))
    ins.append((LD_W_ABS, 0, 0, 0))  # seccomp_data.nr
    if machine == "x86_64":
        ins.append((JGE, 0, 1, X32_BIT))
        ins.append((RET, 0, 0, eperm))
    for i, nr in enumerate(refused):  # jump to the EPERM return after the list
        ins.append((JEQ, len(refused) - i - 1 + 6, 0, nr))
    ins.append((JEQ, 0, 1, table["clone3"]))
    ins.append((RET, 0, 0, RET_ERRNO | errno.ENOSYS))
    ins.append((JEQ, 0, 2, table["clone"]))
    ins.append((LD_W_ABS, 0, 0, 16))  # args[0], its low 32 bits (little-endian): the flags
    ins.append((JSET, 1, 0, NS_FLAGS))
    ins.append((RET, 0, 0, RET_ALLOW))
    ins.append((RET, 0, 0, eperm))
    return b"".join(_FILTER.pack(*i) for i in ins)


class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Seccomp(Layer):
    key, name, phase = "seccomp", "seccomp filter", "late"  # last in the table: the last layer applied

    def prepare(self, plan, info):
        if linux.MACHINE not in SYSCALLS:
            plan.off(self.key, f"no syscall table for {linux.MACHINE or 'this machine'}")
            return
        plan.seccomp = program(linux.MACHINE)
        # The filter's buffer, its sock_fprog and prctl found once here: a child only calls it
        # (ctypes objects made in each child cost a tenth of a millisecond, pages copied).
        buf = ctypes.create_string_buffer(plan.seccomp, len(plan.seccomp))
        prog = Fprog(len(plan.seccomp) // _FILTER.size, ctypes.cast(buf, ctypes.c_void_p))
        plan.seccomp_call = (linux.fn("prctl"), ctypes.byref(prog), buf, prog)
        plan.notes[self.key] = (f"{len(REFUSED)} syscalls refused with EPERM (io_uring, ptrace, bpf, mount, "
                                "unshare, setns, keyctl, …), other ABIs refused, clone into a namespace refused")

    def apply(self, plan, ctx):
        prctl, prog_ref = plan.seccomp_call[:2]  # the buffer and struct it points to are kept beside it
        linux.check(prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), prog_ref, ctypes.c_ulong(0),
                          ctypes.c_ulong(0)), "prctl(PR_SET_SECCOMP)")
        return plan.notes[self.key]

    def held(self, plan, ctx):
        return linux.prctl(PR_GET_SECCOMP) == SECCOMP_MODE_FILTER


LAYER = Seccomp()
