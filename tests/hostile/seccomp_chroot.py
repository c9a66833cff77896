# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# chroot(2) into its scratch directory, the first step of the classic chroot escape.
from _refused import errno_of


def probe():
    return errno_of("chroot", b".")
