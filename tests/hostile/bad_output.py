# expect: load=ok forward=ok
# check: bad_output_escaped
# Invalid UTF-8, control characters and workflow commands, written below Python's text layer.
import os

import numpy as np

os.write(1, b"bad \xff\xfe utf8 \xc3\n")
os.write(2, b"::error::injected from stderr\n")
os.write(1, b"\x00nul\x07bell\x1b]0;title\x07\n")


def forward(x, W1, b1, W2, b2):
    os.write(1, b"  ::error file=a.py::indented\n")
    return np.zeros((2, 1)), np.zeros((2, 1))
