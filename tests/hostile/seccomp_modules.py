# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# init_module, finit_module and delete_module: loading code into the kernel; all three must be refused.
from _refused import errno_of


def probe():
    codes = {errno_of("init_module", b"\0" * 64, 64, b""), errno_of("finit_module", 0, b"", 0),
             errno_of("delete_module", b"loop", 0)}
    return codes.pop() if len(codes) == 1 else -1.0
