# expect: load=ok probe=ok
# calls: probe()
# check: sysv_planted_here_only
# needs: IPC namespace
# Creates SysV shared memory, a message queue and a semaphore set under a fixed key and writes
# a message into them, for a later submission (sysv_read.py) to find. Returns how many it made.
import ctypes

KEY = 0x6772AD01
IPC_CREAT = 0o1000
libc = ctypes.CDLL(None, use_errno=True)


def probe():
    made = 0
    shm = libc.shmget(KEY, 4096, IPC_CREAT | 0o666)
    if shm >= 0:
        libc.shmat.restype = ctypes.c_void_p
        addr = libc.shmat(shm, None, 0)
        if addr not in (None, ctypes.c_void_p(-1).value):
            ctypes.memmove(addr, b"PLANTED-BY-A-PREVIOUS-SUBMISSION", 32)
        made += 1
    if libc.msgget(KEY, IPC_CREAT | 0o666) >= 0:
        made += 1
    if libc.semget(KEY, 1, IPC_CREAT | 0o666) >= 0:
        made += 1
    return float(made)
