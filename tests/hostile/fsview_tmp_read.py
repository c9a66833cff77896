# expect: load=ok probe=ok
# calls: probe()
# before: fsview_tmp_plant.py
# check: escapes_failed
# needs: filesystem view
# Looks for what fsview_tmp_plant.py left in /tmp and /dev/shm just before, and for anything
# else in them but the scratch root.
import os

MARK = "grader-hostile-tmp-plant"


def probe():
    found = [f for f in ("/tmp/" + MARK, "/dev/shm/" + MARK) if os.path.exists(f)]
    found += [n for n in os.listdir("/dev/shm")]
    found += [n for n in os.listdir("/tmp") if not n.startswith("grader-sandbox-")]
    print("FOUND", found)
    return float(len(found))
