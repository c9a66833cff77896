# expect: load=ok forward=invalid_output sigmoid=ok
# message: forward~more than the limit
# A well-framed result whose .npy header claims 10**12 float64 values in a few bytes of data.
import os
import struct

import numpy as np

HEADER = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }"


def forward(x, W1, b1, W2, b2):
    header = HEADER + b" " * (64 - 10 - len(HEADER) % 64 - 1) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 64
    item = struct.pack("<cQ", b"N", len(npy)) + npy
    payload = struct.pack("<I", 1) + item
    os.write(4, struct.pack("<4scIQ", b"GRF1", b"R", 0, len(payload)) + payload)
    # The forged frame is taken as this call's result; the harness's own frame that follows
    # is stale by the next call and dropped.
    return np.zeros((2, 1)), np.zeros((2, 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
