# expect: load=ok forward=ok
# check: forward_correct
# Imports a helper module that sits beside it.
from _helper_layers import dense

import numpy as np


def forward(x, W1, b1, W2, b2):
    o = dense(x, W1, b1)
    return o, dense(o, W2, b2)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
