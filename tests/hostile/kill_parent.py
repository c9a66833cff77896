# expect: load=ok forward=error sigmoid=ok
# message: forward~PermissionError
# needs: unprivileged user
# Tries to kill its parent (the supervisor; in a PID namespace of its own, where the parent is
# outside and getppid() is 0, the namespace's init, pid 1).
import os
import signal

import numpy as np


def forward(x, W1, b1, W2, b2):
    os.kill(os.getppid() or 1, signal.SIGKILL)
    return np.zeros((2, 1)), np.zeros((2, 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
