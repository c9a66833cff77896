# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# clone(CLONE_NEWUSER | SIGCHLD): a child in a new user namespace, past the unshare rule.
from _refused import errno_of


def probe():
    import os

    result = errno_of("clone", 0x10000000 | 17, 0, 0, 0, 0)
    if result == 0.0 and os.getpid() != PID:
        os._exit(0)  # the clone ran: this is the new child
    return result


PID = __import__("os").getpid()
