# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# userfaultfd(UFFD_USER_MODE_ONLY): the primitive that widens kernel race windows.
from _refused import errno_of


def probe():
    return errno_of("userfaultfd", 1)
