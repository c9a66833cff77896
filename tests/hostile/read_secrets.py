# expect: load=ok probe=ok
# calls: probe()
# check: secrets_unreadable
# needs: grader not importable
# Tries to import the grader and to read the bundled exercises, keys and the grader's source.
# The paths come from a helper module that the test writes beside it (secret_targets.py).
import importlib.util
import os

import secret_targets


def _try(fn):
    try:
        fn()
        return 1
    except BaseException:
        return 0


def _read(path):
    if os.path.isdir(path):
        names = os.listdir(path)
        for n in names:
            p = os.path.join(path, n)
            if os.path.isfile(p):
                open(p, "rb").read(16)
        return
    open(path, "rb").read(16)


def probe():
    hits = 0
    hits += _try(lambda: __import__("grader").solver)
    hits += _try(lambda: __import__("grader.exercises"))
    spec = None
    try:
        spec = importlib.util.find_spec("grader")
    except BaseException:
        pass
    if spec is not None and spec.origin:
        hits += _try(lambda: open(spec.origin).read(10))
    for path in secret_targets.PATHS:
        ok = _try(lambda path=path: _read(path))
        if ok:
            print("READ", path)
        hits += ok
    return float(hits)
