# expect: load=ok forward=timeout sigmoid=ok
# message: forward~time limit
# limits: cpu=1 wall=4
# Ignores every catchable signal (including SIGXCPU from the CPU rlimit) and spins.
import signal

import numpy as np

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU, signal.SIGQUIT, signal.SIGUSR1):
    signal.signal(sig, signal.SIG_IGN)


def forward(x, W1, b1, W2, b2):
    while True:
        try:
            pass
        except BaseException:
            pass


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
