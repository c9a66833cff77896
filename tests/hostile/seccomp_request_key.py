# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# request_key(2): asking the kernel (and its upcall helper) for a key.
from _refused import errno_of


def probe():
    return errno_of("request_key", b"user", b"grader-hostile", 0, -2)
