# expect: load=ok forward=memory_limit sigmoid=ok
# message: forward~ran out of memory
# limits: memory=256 processes=24 wall=10
# needs: cgroup
# check: no_cgroup_left
# The process and 4 forked children each allocate and touch about 0.55 x the memory limit: every
# process stays within its own RLIMIT_AS, all of them together do not. Only a cgroup holding the
# whole submission sees the sum. forward() returns how many children got their share.
import os
import time

import numpy as np

MB = 1024 * 1024
SHARE = 140 * MB  # 0.55 x 256 MB: what RLIMIT_AS leaves one process beside Python and NumPy
CHILDREN = 4


def _hog() -> bytearray:
    buf = bytearray(SHARE)
    memoryview(buf)[::4096] = b"\x01" * len(range(0, SHARE, 4096))  # touch every page
    return buf


def forward(x, W1, b1, W2, b2):
    pids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            try:
                _hog()
                time.sleep(1.5)  # all shares held at once
                os._exit(0)
            except BaseException:
                os._exit(1)
        pids.append(pid)
    mine = _hog()
    time.sleep(1.5)
    ok = sum(1 for pid in pids if os.waitpid(pid, 0)[1] == 0)
    print("CHILDREN_OK", ok, len(mine) // MB)
    return np.array([[float(ok)], [float(len(mine) // MB)]])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
