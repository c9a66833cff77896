# expect: load=ok forward=ok
# check: forward_correct
# needs: seccomp filter
# Everything an honest submission does must still work under the syscall filter: threads, mmap,
# BLAS, a forked process, a subprocess and a temporary file.
import mmap
import os
import subprocess
import tempfile
import threading

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(x, W1, b1, W2, b2):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("o", sigmoid(W1 @ x + b1)))
    t.start()
    t.join()
    m = mmap.mmap(-1, 4096)
    m[:4] = b"ok!!"
    assert np.linalg.inv(np.eye(64) * 2.0).trace() == 32.0
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    assert os.waitpid(pid, 0)[1] >> 8 == 7
    assert subprocess.run(["true"]).returncode == 0
    with tempfile.TemporaryFile() as f:
        f.write(b"x")
    o = out["o"]
    return o, sigmoid(W2 @ o + b2)
