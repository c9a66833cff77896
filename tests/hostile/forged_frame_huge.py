# expect: load=ok forward=invalid_output sigmoid=ok
# message: forward~more than the limit
# Writes a forged frame header (a 2**60-byte result) to the result channel, then returns. The
# grader must reject it without allocating anything, and the next call must still work.
import os
import struct

import numpy as np


def forward(x, W1, b1, W2, b2):
    for fd in (3, 4, 5, 6):
        try:
            os.write(fd, struct.pack("<4scIQ", b"GRF1", b"R", 0, 2 ** 60) + b"\x93NUMPY")
        except OSError:
            pass
    return np.zeros((2, 1)), np.zeros((2, 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
