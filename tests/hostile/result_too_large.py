# expect: load=ok forward=invalid_output sigmoid=ok
# message: forward~limit
# limits: result=1
import numpy as np


def forward(x, W1, b1, W2, b2):
    return np.zeros((2, 1)), np.zeros((1000, 1000))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
