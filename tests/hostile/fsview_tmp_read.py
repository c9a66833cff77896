# expect: load=ok probe=ok
# calls: probe()
# before: fsview_tmp_plant.py
# check: escapes_failed
# needs: filesystem view
# Looks for what fsview_tmp_plant.py left in /tmp and /dev/shm just before, and for anything
# else in them but the scratch root and the import path (a virtualenv under /tmp is bound there
# read-only, as the standard library and NumPy are everywhere else).
import os
import sys

MARK = "grader-hostile-tmp-plant"


def probe():
    found = [f for f in ("/tmp/" + MARK, "/dev/shm/" + MARK) if os.path.exists(f)]
    found += [n for n in os.listdir("/dev/shm")]
    imports = {p.split("/")[2] for p in sys.path if p.startswith("/tmp/")}
    found += [n for n in os.listdir("/tmp") if not n.startswith("grader-sandbox-") and n not in imports]
    print("FOUND", found)
    return float(len(found))
