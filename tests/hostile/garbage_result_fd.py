# expect: load=ok forward=invalid_output sigmoid=ok backward=ok
# message: forward~malformed
# Writes random bytes into every descriptor it finds, then returns.
import os

import numpy as np

from correct import backward  # noqa: F401


def forward(x, W1, b1, W2, b2):
    junk = os.urandom(4096)
    for fd in range(3, 10):
        try:
            os.write(fd, junk)
        except OSError:
            pass
    return np.zeros((2, 1)), np.zeros((2, 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
