# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# bpf(BPF_PROG_LOAD): loading a BPF program into the kernel.
from _refused import errno_of


def probe():
    import ctypes

    attr = ctypes.create_string_buffer(128)
    return errno_of("bpf", 5, attr, 128)
