"""A typical wrong attempt: the output error signal leaves out the sigmoid derivative.

forward and sigmoid are right; backward and train are wrong from the first step.
"""

import numpy as np

EXERCISE = "tutorial-4"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(x, W1, b1, W2, b2):
    o = sigmoid(W1 @ x + b1)
    y = sigmoid(W2 @ o + b2)
    return o, y


def backward(x, t, W1, b1, W2, b2):
    o, y = forward(x, W1, b1, W2, b2)
    delta2 = y - t  # mistake: missing ⊙ y ⊙ (1 − y)
    delta1 = (W2.T @ delta2) * o * (1 - o)
    return delta1 @ x.T, delta1.sum(axis=1, keepdims=True), delta2 @ o.T, delta2.sum(axis=1, keepdims=True)


def train(x, t, W1, b1, W2, b2, lr, epochs):
    for _ in range(epochs):
        dW1, db1, dW2, db2 = backward(x, t, W1, b1, W2, b2)
        W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
    return W1, b1, W2, b2
