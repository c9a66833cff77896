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


# The typed questions, answered with the functions above at the sheet's values
x = np.array([[0.05], [0.10]])
t = np.array([[0.01], [0.99]])
W1, b1 = np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.35], [0.35]])
W2, b2 = np.array([[0.40, 0.45], [0.50, 0.55]]), np.array([[0.60], [0.60]])
o, y = forward(x, W1, b1, W2, b2)
dW1, db1, dW2, db2 = backward(x, t, W1, b1, W2, b2)
delta2 = (y - t) * y * (1 - y)
W1_new, _, W2_new, _ = train(x, t, W1, b1, W2, b2, 0.5, 1)
_, y_1000 = forward(x, *train(x, t, W1, b1, W2, b2, 0.5, 1000))
ANSWERS = {
    "z2": (W2 @ o + b2).ravel(),
    "y": y.ravel(),
    "E": 0.5 * np.sum((y - t) ** 2),
    "delta2": delta2.ravel(),
    "dW2": dW2,
    "delta1": ((W2.T @ delta2) * o * (1 - o)).ravel(),
    "dW1": dW1,
    "W2_new": W2_new,
    "W1_new": W1_new,
    "E_1000": 0.5 * np.sum((y_1000 - t) ** 2),
}
