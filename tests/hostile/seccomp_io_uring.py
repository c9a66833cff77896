# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# io_uring_setup(2) with valid parameters: io_uring runs reads, writes and connects past any syscall filter.
from _refused import errno_of


def probe():
    import ctypes

    params = ctypes.create_string_buffer(120)
    return errno_of("io_uring_setup", 8, params)
