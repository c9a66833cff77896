# expect: load=ok forward=ok
# check: daemon_killed
# A double-forked setsid daemon that outlives its call and writes a file later. It must be
# killed when the submission ends; the file must never appear.
import os
import time

import numpy as np

LATE_FILE = "/tmp/grader-hostile-daemon-wrote-this"


def forward(x, W1, b1, W2, b2):
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            try:  # in a PID namespace of its own, the pid alone names nothing on the host
                ns = os.readlink("/proc/self/ns/pid")
            except OSError:
                ns = "-"
            os.write(w, f"{os.getpid()} {ns}".encode())
            time.sleep(0.8)
            for path in (LATE_FILE, os.path.expanduser("~/late"), "late.txt"):
                try:
                    with open(path, "w") as f:
                        f.write("still alive")
                except OSError:
                    pass
            time.sleep(1000)
        os._exit(0)
    pid = os.read(r, 64).decode()
    print("DAEMON", pid)
    return np.zeros((2, 1)), np.zeros((2, 1))
