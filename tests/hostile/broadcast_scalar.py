# expect: load=ok forward=ok sigmoid=ok
# check: scalars_arrive_0d
# A scalar where arrays are expected: it arrives as 0-d arrays; shapes are the grader's check.
import numpy as np


def forward(x, W1, b1, W2, b2):
    return 0.5, np.float32(0.25)


def sigmoid(z):
    return 3
