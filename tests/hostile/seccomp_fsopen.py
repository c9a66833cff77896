# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# fsopen("tmpfs"): the new mount API, a second way to mount.
from _refused import errno_of


def probe():
    return errno_of("fsopen", b"tmpfs", 0)
