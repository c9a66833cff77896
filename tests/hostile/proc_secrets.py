# expect: load=ok probe=ok
# calls: probe()
# check: no_secret_seen
# Looks for GRADER_SECRET (planted in the grader's environment by the test) in its own
# environment, /proc/self/environ, its parents' environ and memory, and every /proc/*/environ.
import os


def probe():
    found = 0
    if "planted" in repr(dict(os.environ)) or "GRADER_SECRET" in os.environ:
        found += 1
    extra = sorted(set(os.environ) - {"PATH", "LANG", "HOME", "TMPDIR"})
    print("ENV", sorted(os.environ), "EXTRA", extra)
    paths = ["/proc/self/environ", f"/proc/{os.getppid()}/environ", f"/proc/{os.getppid()}/mem",
             "/proc/1/environ"]
    try:
        paths += [f"/proc/{p}/environ" for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pass
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 20)
            if b"planted" in data:
                found += 1
                print("FOUND in", path)
        except OSError:
            pass
    return float(found), float(len(extra))
