# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# personality(READ_IMPLIES_EXEC): changes how the kernel maps memory for this process.
from _refused import errno_of


def probe():
    return errno_of("personality", 0x0400000)
