# expect: load=ok forward=crashed sigmoid=ok
# message: forward~SIGSEGV
# Reads address 8 (the never-mapped first page) through ctypes: a segmentation fault on every
# Python, in the child alone.
import ctypes

import numpy as np


def forward(x, W1, b1, W2, b2):
    return ctypes.c_long.from_address(8).value  # ctypes.string_at(0, 8) would not: it takes 0 for NULL


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
