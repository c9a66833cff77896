# expect: load=ok forward=error backward=error train=error sigmoid=ok
# message: forward~KeyboardInterrupt
# message: backward~GeneratorExit
# message: train~Sneaky
import numpy as np


class Sneaky(BaseException):
    pass


def forward(x, W1, b1, W2, b2):
    raise KeyboardInterrupt


def backward(x, t, W1, b1, W2, b2):
    raise GeneratorExit


def train(x, t, W1, b1, W2, b2, lr, epochs):
    raise Sneaky("not an Exception")


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
