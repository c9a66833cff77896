"""Tutorial 4: backpropagation for a 2-layer sigmoid network, vectorised with NumPy.

Columns are samples: x is (inputs x samples), W1 is (hidden x inputs), b1 is (hidden x 1).
"""

import numpy as np

EXERCISE = "tutorial-4"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(x, W1, b1, W2, b2):
    o = sigmoid(W1 @ x + b1)  # z(1) = W(1) x + b(1)
    y = sigmoid(W2 @ o + b2)  # z(2) = W(2) o + b(2)
    return o, y


def backward(x, t, W1, b1, W2, b2):
    o, y = forward(x, W1, b1, W2, b2)
    delta2 = (y - t) * y * (1 - y)  # δ(2) = (y − t) ⊙ y ⊙ (1 − y)
    delta1 = (W2.T @ delta2) * o * (1 - o)  # δ(1) = (W(2)ᵀ δ(2)) ⊙ o ⊙ (1 − o)
    dW2 = delta2 @ o.T
    dW1 = delta1 @ x.T
    db2 = delta2.sum(axis=1, keepdims=True)
    db1 = delta1.sum(axis=1, keepdims=True)
    return dW1, db1, dW2, db2


def train(x, t, W1, b1, W2, b2, lr, epochs):
    W1, b1, W2, b2 = (np.array(p, dtype=float) for p in (W1, b1, W2, b2))
    for _ in range(epochs):
        dW1, db1, dW2, db2 = backward(x, t, W1, b1, W2, b2)
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
    return W1, b1, W2, b2
