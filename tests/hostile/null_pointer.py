# expect: load=ok forward=crashed sigmoid=ok
# message: forward~SIGSEGV
# Reads address 0 through ctypes: a segmentation fault on every Python, in the child alone.
import ctypes

import numpy as np


def forward(x, W1, b1, W2, b2):
    return ctypes.c_long.from_address(8).value  # (ctypes.string_at(0, 8) reads nothing: 0 is NULL to it)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
