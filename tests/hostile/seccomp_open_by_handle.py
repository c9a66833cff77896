# expect: load=ok probe=ok
# calls: probe()
# check: refused_eperm
# needs: seccomp filter
# name_to_handle_at and open_by_handle_at: a file handle opens a file past the root of a mount.
from _refused import errno_of


def probe():
    import ctypes

    handle = ctypes.create_string_buffer(136)
    handle[0] = 128  # handle_bytes
    mount_id = ctypes.c_int()
    first = errno_of("name_to_handle_at", -100, b"/", handle, ctypes.addressof(mount_id), 0)
    second = errno_of("open_by_handle_at", -100, handle, 0)
    return first if first == second else -1.0
