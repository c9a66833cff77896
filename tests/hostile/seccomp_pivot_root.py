# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# pivot_root(2): swapping the root of the filesystem view.
from _refused import errno_of


def probe():
    return errno_of("pivot_root", b".", b".")
