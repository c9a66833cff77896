"""A helper for the seccomp cases (not a case itself): call a syscall by name, return its errno."""
import ctypes
import os

NUMBERS = {
    "x86_64": {"io_uring_setup": 425, "ptrace": 101, "process_vm_readv": 310, "keyctl": 250, "add_key": 248,
               "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "mount": 165, "unshare": 272, "setns": 308,
               "personality": 135, "kexec_load": 246, "init_module": 175, "finit_module": 313,
               "delete_module": 176, "name_to_handle_at": 303, "open_by_handle_at": 304, "clone": 56,
               "chroot": 161, "pivot_root": 155, "fsopen": 430, "request_key": 249, "umount2": 166,
               "getpid": 39},
    "aarch64": {"io_uring_setup": 425, "ptrace": 117, "process_vm_readv": 270, "keyctl": 219, "add_key": 217,
                "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "mount": 40, "unshare": 97, "setns": 268,
                "personality": 92, "kexec_load": 104, "init_module": 105, "finit_module": 273,
                "delete_module": 106, "name_to_handle_at": 264, "open_by_handle_at": 265, "clone": 220,
                "chroot": 51, "pivot_root": 41, "fsopen": 430, "request_key": 218, "umount2": 39,
                "getpid": 172},
}
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def arg(a):
    if isinstance(a, (bytes, ctypes.Array)):
        return ctypes.cast(a if isinstance(a, ctypes.Array) else ctypes.c_char_p(a), ctypes.c_void_p)
    return ctypes.c_long(a)


def errno_of(name, *args, nr=None):
    """0.0 if the syscall succeeded, else its errno (EPERM, 1, is what the filter answers)."""
    nr = NUMBERS[os.uname().machine][name] if nr is None else nr
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    return 0.0 if result >= 0 else float(ctypes.get_errno())
