# expect: load=ok forward=ok
# check: none
# A submission holding a secret; gc_scan.py, run after it in the same worker, must not find it.
import numpy as np

SECRET = "PREVIOUS-SUBMISSION-SECRET-3f9a1c"
KEEP = [SECRET * 2, {"s": SECRET}]


def forward(x, W1, b1, W2, b2):
    return np.zeros((2, 1)) + len(SECRET), np.zeros((2, 1))
