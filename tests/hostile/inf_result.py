# expect: load=ok forward=invalid_output backward=invalid_output
# message: forward~infinity
# message: backward~returned item 3 of 4 contains infinity
import numpy as np


def forward(x, W1, b1, W2, b2):
    return np.inf, np.array([[np.inf], [1.0]])


def backward(x, t, W1, b1, W2, b2):
    return np.zeros_like(W1), np.zeros_like(b1), np.full_like(W2, np.inf), np.zeros_like(b2)
