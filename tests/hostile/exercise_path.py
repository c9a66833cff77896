# expect: load=ok forward=ok
# check: exercise_path_refused
# Names a spec by path in EXERCISE (one it could have written itself; here the bundled spec, by
# path). The sandbox runs it like any other; `grade FILE` must refuse the name (exit 2), and
# `--exercise` must still grade it.
import numpy as np

EXERCISE = "../../exercises/tutorial-4-matrix.json"


def forward(x, W1, b1, W2, b2):
    return np.zeros((2, 1)), np.zeros((2, 1))
