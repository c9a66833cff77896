# expect: load=ok probe=ok
# calls: probe()
# check: tmp_planted_here_only
# needs: filesystem view
# Writes files into /tmp and /dev/shm (a private tmpfs each) for the next submission
# (fsview_tmp_read.py) to find; returns how many it could write.
MARK = "grader-hostile-tmp-plant"


def probe():
    made = 0
    for folder in ("/tmp", "/dev/shm"):
        try:
            with open(f"{folder}/{MARK}", "w") as f:
                f.write("planted")
            made += 1
        except OSError as exc:
            print("could not write", folder, exc)
    return float(made)
