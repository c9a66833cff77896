# expect: load=ok forward=no_result sigmoid=ok
# message: forward~result channel
# Closes the descriptors the harness uses, then returns normally.
import os

import numpy as np


def forward(x, W1, b1, W2, b2):
    for fd in range(3, 10):
        try:
            os.close(fd)
        except OSError:
            pass
    return np.zeros((2, 1)), np.zeros((2, 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
