# expect: load=ok forward=memory_limit backward=memory_limit sigmoid=ok
# message: forward~ran out of memory
# limits: memory=400
import numpy as np


def forward(x, W1, b1, W2, b2):
    hog = []
    while True:
        hog.append(bytearray(32 * 1024 * 1024))


def backward(x, t, W1, b1, W2, b2):
    return np.ones((100000, 100000))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
