# expect: load=ok forward=timeout
# limits: wall=2 processes=24
# Forks without end; every process spins. Bounded by the process limit, killed at the end.
import os


def forward(x, W1, b1, W2, b2):
    print("BOMB", os.getpid())
    while True:
        try:
            os.fork()
        except OSError:
            pass
