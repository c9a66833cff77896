# expect: load=ok probe=ok
# calls: probe()
# check: escapes_failed
# needs: PID namespace
# Looks for other processes: in /proc, and by signalling pids (signal 0) from 1 to 400. Only
# its own namespace's may be seen; init (pid 1) must not be signalable by it.
import os


def probe():
    me = os.getpid()
    try:
        others = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in (1, me)]
    except OSError:
        others = []
    reachable = 0
    for pid in range(1, 400):
        if pid == me:
            continue
        try:
            os.kill(pid, 0)
            reachable += 1
        except ProcessLookupError:
            pass
        except PermissionError:
            reachable += pid != 1  # pid 1 is its namespace's init, root's: visible, not reachable
    print("OTHERS", others, "REACHABLE", reachable)
    return float(len(others) + reachable)
