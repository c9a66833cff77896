# expect: load=ok forward=ok
# check: output_escaped
# Prints what a CI log or a grader report would trust: fake scores, workflow commands, ANSI.
import sys

import numpy as np

print("::error file=grader.py,line=1::all tests failed")
print("   ::set-output name=score::100")
print("##[error]fake")
print("::add-mask::x")
print("Ran 10 tests: 10 passed, 0 failed")
print('{"score": 100, "tests": [{"status": "passed"}]}')
print("\x1b[32mPASSED\x1b[0m\rovertyped\u202eevil")
sys.stderr.write("::warning::from stderr\n")


def forward(x, W1, b1, W2, b2):
    print("::notice::inside forward")
    return np.zeros((2, 1)), np.zeros((2, 1))
