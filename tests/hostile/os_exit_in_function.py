# expect: load=ok forward=no_result sigmoid=ok
# message: forward~exited before returning a result
import os

import numpy as np


def forward(x, W1, b1, W2, b2):
    os._exit(0)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
