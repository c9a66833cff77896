# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# keyctl(KEYCTL_GET_KEYRING_ID, session keyring): the kernel keyring holds other processes' secrets.
from _refused import errno_of


def probe():
    return errno_of("keyctl", 0, -3, 1)
