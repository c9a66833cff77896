# expect: load=ok probe=ok
# calls: probe()
# check: escapes_failed
# needs: user namespace
# Tries to gain privileges back: a new user namespace, a mount, raising its rlimits, ptrace.
import ctypes
import resource

libc = ctypes.CDLL(None, use_errno=True)


def probe():
    gained = 0
    if libc.unshare(0x10000000) == 0:  # CLONE_NEWUSER
        gained += 1
        print("GAINED userns")
    if libc.unshare(0x00020000) == 0:  # CLONE_NEWNS
        gained += 1
        print("GAINED mountns")
    if libc.mount(b"none", b".", b"tmpfs", 0, None) == 0:
        gained += 1
        print("GAINED mount")
    try:
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        gained += 1
        print("GAINED rlimit")
    except (ValueError, OSError):
        pass
    if libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH to init
        gained += 1
        print("GAINED ptrace")
    return float(gained)
