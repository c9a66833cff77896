# expect: load=ok forward=ok
# links: h.py->@hardlink
# check: helpers_refused
# Its helper module is a hard link to a copy of the answer key outside the submission's folder.
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
