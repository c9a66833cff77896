# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# perf_event_open(2): a side channel on other processes, and a long list of kernel bugs.
from _refused import errno_of


def probe():
    import ctypes

    attr = ctypes.create_string_buffer(128)
    attr[4] = 128  # size
    return errno_of("perf_event_open", attr, 0, -1, -1, 0)
