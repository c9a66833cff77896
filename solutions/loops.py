"""Correct results computed with Python loops over samples and neurons: every case passes, and the
vectorized check reports the loops (the sheet asks for matrix form)."""

import math

import numpy as np

EXERCISE = "tutorial-4"


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    for idx in np.ndindex(*z.shape):
        out[idx] = 1.0 / (1.0 + math.exp(-z[idx]))
    return out


def _layer(W, b, a):
    n, S = W.shape[0], a.shape[1]
    out = np.zeros((n, S))
    for s in range(S):
        for i in range(n):
            total = b[i, 0]
            for j in range(W.shape[1]):
                total += W[i, j] * a[j, s]
            out[i, s] = 1.0 / (1.0 + math.exp(-total))
    return out


def forward(x, W1, b1, W2, b2):
    o = _layer(W1, b1, x)
    return o, _layer(W2, b2, o)


def backward(x, t, W1, b1, W2, b2):
    o, y = forward(x, W1, b1, W2, b2)
    dW1, db1 = np.zeros_like(W1), np.zeros_like(b1)
    dW2, db2 = np.zeros_like(W2), np.zeros_like(b2)
    for s in range(x.shape[1]):
        d2 = (y[:, s] - t[:, s]) * y[:, s] * (1 - y[:, s])
        d1 = (W2.T @ d2) * o[:, s] * (1 - o[:, s])
        dW2 += np.outer(d2, o[:, s])
        dW1 += np.outer(d1, x[:, s])
        db2[:, 0] += d2
        db1[:, 0] += d1
    return dW1, db1, dW2, db2


def train(x, t, W1, b1, W2, b2, lr, epochs):
    for _ in range(epochs):
        dW1, db1, dW2, db2 = backward(x, t, W1, b1, W2, b2)
        W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
    return W1, b1, W2, b2
