# expect: load=ok forward=ok
# check: no_results_json_outside
# Writes results.json files: in its own directory (scratch, removed afterwards) and wherever
# the grader might look (its cwd, /tmp, home, parent directories).
import json
import os

import numpy as np

FAKE = json.dumps({"score": 100, "tests": []})
TARGETS = ["results.json", "../results.json", "/tmp/results.json", os.path.expanduser("~/results.json"),
           "/work/main/results.json", "/autograder/results/results.json"]


def forward(x, W1, b1, W2, b2):
    wrote = []
    for path in TARGETS:
        try:
            with open(path, "w") as f:
                f.write(FAKE)
            wrote.append(path)
        except OSError:
            pass
    print("WROTE", wrote)
    return np.zeros((2, 1)), np.zeros((2, 1))
