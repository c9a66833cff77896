# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# add_key(2): planting a key in the kernel keyring for a later process to find.
from _refused import errno_of


def probe():
    return errno_of("add_key", b"user", b"grader-hostile", b"data", 4, -2)
