# expect: load=ok forward=missing backward=missing sigmoid=missing
# message: forward~did you mean 'foward'
# message: backward~did you mean 'backwards'
# message: sigmoid~is defined but is not a function
import numpy as np

sigmoid = 0.5


def foward(x, W1, b1, W2, b2):
    return np.zeros((2, 1)), np.zeros((2, 1))


def backwards(x, t, W1, b1, W2, b2):
    return ()
