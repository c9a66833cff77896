# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# ptrace(PTRACE_TRACEME): the first step to tracing, or being traced by, another process.
from _refused import errno_of


def probe():
    return errno_of("ptrace", 0, 0, 0, 0)
