# expect: load=ok forward=invalid_output backward=invalid_output
# message: forward~item 2 of 2 is a complex array
# message: backward~complex
import numpy as np


def forward(x, W1, b1, W2, b2):
    o = 1 / (1 + np.exp(-(W1 @ x + b1)))
    return o, o.astype(complex)


def backward(x, t, W1, b1, W2, b2):
    return tuple(np.zeros_like(p, dtype=np.complex128) + 1j for p in (W1, b1, W2, b2))
