# expect: load=ok forward=invalid_output sigmoid=invalid_output
# message: forward~boolean array
# message: sigmoid~boolean
import numpy as np


def forward(x, W1, b1, W2, b2):
    return np.ones((2, 1), dtype=bool), np.ones((2, 1), dtype=bool)


def sigmoid(z):
    return True
