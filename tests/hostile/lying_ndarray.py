# expect: load=ok forward=ok
# check: forward_is_zeros
# An ndarray subclass that lies about its contents: the grader must see the real data (zeros)
# as a plain ndarray, not what __eq__, tolist or __array__ claim.
import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __array__(self, dtype=None, copy=None):
        return np.full(self.shape, 0.75136507)

    def tolist(self):
        return [[0.75136507], [0.772928465]]

    def __float__(self):
        return 0.75136507


def forward(x, W1, b1, W2, b2):
    o = np.zeros((W1.shape[0], x.shape[1])).view(Liar)
    y = np.zeros((W2.shape[0], x.shape[1])).view(Liar)
    return o, y
