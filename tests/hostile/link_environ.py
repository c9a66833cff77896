# expect: load=ok forward=ok
# links: h.py->/proc/self/environ
# check: helpers_refused
# A folder submission whose helper module is a symlink to /proc/self/environ: read by the grader
# (root), it would bring GRADER_SECRET back in the report. It must be refused, the rest graded.
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
