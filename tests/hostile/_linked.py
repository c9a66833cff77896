"""The body of the link_*.py cases (not a case itself): import the helper beside the
submission, and show what came of it."""
import os

try:
    import h

    LEAK = repr(vars(h))[:2000]
except Exception as exc:  # noqa: BLE001 - whatever the copy would have been
    LEAK = f"no helper: {type(exc).__name__}"

import numpy as np


def forward(x, W1, b1, W2, b2):
    print("LEAK", LEAK, "FILES", sorted(os.listdir(".")))
    return np.zeros((2, 1)), np.zeros((2, 1))
