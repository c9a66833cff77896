# expect: load=ok forward=error sigmoid=ok
# message: forward~can't start new thread
# limits: processes=24
# Starts sleeping threads until the process or memory limit stops it, then gives up.
import threading
import time

import numpy as np


def forward(x, W1, b1, W2, b2):
    threads = []
    while True:
        t = threading.Thread(target=time.sleep, args=(1000,), daemon=True)
        t.start()
        threads.append(t)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
