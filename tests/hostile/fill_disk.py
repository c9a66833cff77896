# expect: load=ok forward=error sigmoid=ok
# message: forward~File too large
# limits: file=2
import numpy as np


def forward(x, W1, b1, W2, b2):
    chunk = b"x" * (1 << 20)
    with open("big.bin", "wb") as f:
        for _ in range(64):
            f.write(chunk)
            f.flush()


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
