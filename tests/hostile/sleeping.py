# expect: load=ok forward=timeout
# message: forward~wall-clock
# limits: wall=1.5
import time


def forward(x, W1, b1, W2, b2):
    time.sleep(1000)
