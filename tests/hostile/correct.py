"""Reference solution: a 2-layer sigmoid network in the sheet's column convention, vectorised.

x is (inputs x samples), W1 (hidden x inputs), b1 (hidden x 1), W2 (outputs x hidden),
b2 (outputs x 1); E = 1/2 * sum over outputs and samples of (y - t)^2.
"""

import numpy as np

EXERCISE = "tutorial-4-matrix"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(x, W1, b1, W2, b2):
    o = sigmoid(W1 @ x + b1)
    y = sigmoid(W2 @ o + b2)
    return o, y


def backward(x, t, W1, b1, W2, b2):
    o, y = forward(x, W1, b1, W2, b2)
    d2 = (y - t) * y * (1.0 - y)  # dE/dz(2): one column per sample
    d1 = (W2.T @ d2) * o * (1.0 - o)  # dE/dz(1)
    return d1 @ x.T, d1.sum(axis=1, keepdims=True), d2 @ o.T, d2.sum(axis=1, keepdims=True)


def train(x, t, W1, b1, W2, b2, lr, epochs):
    W1, b1, W2, b2 = (np.array(p, dtype=np.float64) for p in (W1, b1, W2, b2))
    for _ in range(int(epochs)):  # full-batch gradient descent: one update per epoch
        dW1, db1, dW2, db2 = backward(x, t, W1, b1, W2, b2)
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
    return W1, b1, W2, b2
