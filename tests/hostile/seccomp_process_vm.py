# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# process_vm_readv(2) on its own memory: with another pid, a way to read a process without ptrace.
from _refused import errno_of


def probe():
    import ctypes
    import os

    src, dst = ctypes.create_string_buffer(b"secret", 8), ctypes.create_string_buffer(8)
    local = (ctypes.c_void_p * 2)(ctypes.cast(dst, ctypes.c_void_p), 8)
    remote = (ctypes.c_void_p * 2)(ctypes.cast(src, ctypes.c_void_p), 8)
    return errno_of("process_vm_readv", os.getpid(), local, 1, remote, 1, 0)
