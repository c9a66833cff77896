# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# umount2(MNT_DETACH) of /proc: taking apart the filesystem view.
from _refused import errno_of


def probe():
    return errno_of("umount2", b"/proc", 2)
