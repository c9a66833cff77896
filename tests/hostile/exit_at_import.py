# expect: load=no_result forward=no_result
# message: load~exited before returning a result
import sys

sys.exit(0)


def forward(x, W1, b1, W2, b2):
    return 0
