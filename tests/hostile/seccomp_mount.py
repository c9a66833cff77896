# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# mount(2) of a tmpfs over its own scratch directory.
from _refused import errno_of


def probe():
    import os

    return errno_of("mount", b"none", os.getcwd().encode(), b"tmpfs", 0, 0)
