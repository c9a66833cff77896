# expect: load=ok probe=ok
# calls: probe()
# before: sysv_plant.py
# check: sysv_found_nothing
# needs: IPC namespace
# Looks for the SysV shared memory, message queue and semaphore set that sysv_plant.py made
# just before (the same key), and for any other SysV object at all.
import ctypes

KEY = 0x6772AD01
libc = ctypes.CDLL(None, use_errno=True)


def probe():
    found = 0
    found += libc.shmget(KEY, 0, 0) >= 0
    found += libc.msgget(KEY, 0) >= 0
    found += libc.semget(KEY, 0, 0) >= 0
    for name in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{name}") as f:
                found += len(f.read().splitlines()) - 1  # the header line
        except OSError:
            pass
    return float(found)
