# expect: load=ok forward=crashed sigmoid=ok
# message: forward~SIGSEGV
# Raises the recursion limit and recurses through C (map), until the C stack overflows.
import sys

import numpy as np

sys.setrecursionlimit(10 ** 6)


def _deep(n):
    return list(map(lambda _: _deep(n + 1), [0]))


def forward(x, W1, b1, W2, b2):
    _deep(0)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
