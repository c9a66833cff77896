# expect: load=ok forward=no_result sigmoid=ok backward=no_result
# message: forward~exited before returning a result
# message: backward~exited before returning a result
import sys

import numpy as np


def forward(x, W1, b1, W2, b2):
    sys.exit(0)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def backward(x, t, W1, b1, W2, b2):
    raise SystemExit("bye")
