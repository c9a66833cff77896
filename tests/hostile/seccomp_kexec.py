# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# kexec_load(2): replacing the running kernel.
from _refused import errno_of


def probe():
    return errno_of("kexec_load", 0, 0, 0, 0)
