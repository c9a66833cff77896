# expect: load=ok forward=ok
# check: flood_trimmed
# limits: wall=20
# Writes 1 GB to stdout. The grader keeps the first bytes and drains the rest quickly.
import os

import numpy as np


def forward(x, W1, b1, W2, b2):
    chunk = b"flood " * (1 << 17) + b"\n"
    for _ in range(1024 * 1024 * 1024 // len(chunk) + 1):
        os.write(1, chunk)
    return np.zeros((2, 1)), np.zeros((2, 1))
