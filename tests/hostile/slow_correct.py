# expect: load=ok forward=ok backward=ok
# check: forward_correct
# Correct, but slow: it sleeps and computes the product with Python loops over entries.
import time

import numpy as np


def _matmul(a, b):
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[i, j] = sum(a[i, k] * b[k, j] for k in range(a.shape[1]))
    return out


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(x, W1, b1, W2, b2):
    time.sleep(0.3)
    o = sigmoid(_matmul(W1, x) + b1)
    return o, sigmoid(_matmul(W2, o) + b2)


def backward(x, t, W1, b1, W2, b2):
    time.sleep(0.2)
    o, y = forward(x, W1, b1, W2, b2)
    d2 = (y - t) * y * (1 - y)
    d1 = (W2.T @ d2) * o * (1 - o)
    return d1 @ x.T, d1.sum(1, keepdims=True), d2 @ o.T, d2.sum(1, keepdims=True)
