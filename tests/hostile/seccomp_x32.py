# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# A syscall of the x32 ABI (the number with bit 30 set): another syscall table that a filter must not miss.
from _refused import errno_of


def probe():
    import os

    if os.uname().machine != "x86_64":
        return 1.0  # no other ABI to try
    return errno_of("getpid", nr=39 | 0x40000000)
