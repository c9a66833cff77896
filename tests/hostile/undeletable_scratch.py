# expect: load=ok forward=ok
# check: scratch_emptied
# Makes its directory hard to delete: a chmod 000 subfolder with files, a read-only tree,
# a symlink to a system file, a FIFO.
import os

import numpy as np


def forward(x, W1, b1, W2, b2):
    os.makedirs("locked/deeper", exist_ok=True)
    for i in range(3):
        with open(f"locked/deeper/f{i}", "w") as f:
            f.write("x")
    os.symlink("/etc/passwd", "locked/passwd")
    os.mkfifo("locked/fifo")
    os.chmod("locked/deeper", 0)
    os.chmod("locked", 0o500)
    os.chmod(".", 0o500)
    return np.zeros((2, 1)), np.zeros((2, 1))
