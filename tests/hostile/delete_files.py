# expect: load=ok probe=ok
# calls: probe()
# check: victim_intact
# needs: landlock
# Deletes what it can outside its directory: a world-writable victim folder the test made.
import os
import shutil

VICTIM = "/tmp/grader_hostile_victim"


def probe():
    done = 0
    for fn in (lambda: os.remove(os.path.join(VICTIM, "victim.txt")),
               lambda: open(os.path.join(VICTIM, "victim.txt"), "w").write("overwritten"),
               lambda: shutil.rmtree(VICTIM)):
        try:
            fn()
            done += 1
        except OSError:
            pass
    return float(done)
