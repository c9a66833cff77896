# expect: load=ok forward=ok sigmoid=ok
# check: forward_is_zeros parent_untouched
# Patches numpy and builtins so that "everything is close": irrelevant, the grader compares in
# its own process. The values it receives are the zeros this code really returns.
import builtins
import json

import numpy as np

np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isfinite = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.asarray = lambda *a, **k: "not an array"
np.lib.format.write_array = lambda *a, **k: None
builtins.isinstance = lambda *a: True
builtins.len = lambda *a: 0
builtins.abs = lambda *a: 0
json.dumps = lambda *a, **k: '{"score": 100}'


def forward(x, W1, b1, W2, b2):
    return np.zeros((2, 1)), np.zeros((2, 1))


def sigmoid(z):
    return np.zeros((2, 2))
