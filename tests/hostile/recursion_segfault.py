# expect: load=ok forward=crashed sigmoid=ok
# message: forward~SIGSEGV
# expect from 3.12: forward=error
# message from 3.12: forward~RecursionError
# Raises the recursion limit and recurses through C (map), until the C stack overflows (from
# Python 3.12 on, the interpreter's own C recursion limit stops it first: a RecursionError).
import sys

import numpy as np

sys.setrecursionlimit(10 ** 6)


def _deep(n):
    return list(map(lambda _: _deep(n + 1), [0]))


def forward(x, W1, b1, W2, b2):
    _deep(0)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
