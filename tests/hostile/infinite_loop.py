# expect: load=ok forward=timeout sigmoid=ok
# message: forward~CPU time limit
# limits: cpu=1 wall=5
import numpy as np


def forward(x, W1, b1, W2, b2):
    while True:
        pass


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
