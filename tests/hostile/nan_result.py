# expect: load=ok forward=invalid_output sigmoid=invalid_output
# message: forward~returned item 2 of 2 contains NaN
# message: sigmoid~the returned value contains NaN and infinity
import numpy as np


def forward(x, W1, b1, W2, b2):
    o = 1 / (1 + np.exp(-(W1 @ x + b1)))
    return o, np.full((W2.shape[0], x.shape[1]), np.nan)


def sigmoid(z):
    out = np.zeros_like(z)
    out.flat[0] = np.nan
    out.flat[1] = -np.inf
    return out
