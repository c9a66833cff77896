# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# unshare(CLONE_NEWUSER): a fresh user namespace gives back every capability inside it.
from _refused import errno_of


def probe():
    return errno_of("unshare", 0x10000000)
