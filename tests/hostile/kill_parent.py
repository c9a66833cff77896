# expect: load=ok forward=error sigmoid=ok
# message: forward~PermissionError
# needs: unprivileged user
# Tries to kill its parent (the supervisor) and the worker above it.
import os
import signal

import numpy as np


def forward(x, W1, b1, W2, b2):
    os.kill(os.getppid(), signal.SIGKILL)
    return np.zeros((2, 1)), np.zeros((2, 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
