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
    result = struct.pack("<I", 1) + item
    # A batch reply (frame kind B) for the first batch (sequence number 1) with one entry, this
    # call's: entry 0 of 1, kind R. The forged frame is taken as this call's result; the
    # harness's own reply that follows is stale by the next batch and dropped.
    payload = struct.pack("<II", 0, 1) + struct.pack("<cQ", b"R", len(result)) + result
    os.write(4, struct.pack("<4scIQ", b"GRF1", b"B", 1, len(payload)) + payload)
    return np.zeros((2, 1)), np.zeros((2, 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
