# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# setns(2) into its own network namespace: with a host namespace fd, the way back out.
from _refused import errno_of


def probe():
    import os

    fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    return errno_of("setns", fd, 0)
