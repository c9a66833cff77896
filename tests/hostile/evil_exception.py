# expect: load=ok forward=error sigmoid=ok
# message: forward~<unprintable Evil object>
# message from 3.11: forward~<exception str() failed>
# An exception whose __str__ itself raises.
import numpy as np


class Evil(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")


def forward(x, W1, b1, W2, b2):
    raise Evil()


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
