# expect: load=ok probe=ok
# calls: probe()
# before: planter.py
# check: probe_found_nothing
# Scans every object the garbage collector knows, and every module, for the grader's marker
# and for a secret planted in an earlier student's submission (tests run planter.py first).
import gc
import sys

PREFIXES = ("GRADER-PARENT-" + "MARKER-", "PREVIOUS-" + "SUBMISSION-SECRET-")


def probe():
    found = 0
    for obj in gc.get_objects():
        try:
            values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else [obj]
            for v in list(values):
                if isinstance(v, str) and any(v.startswith(p) and v != p for p in PREFIXES):
                    found += 1
                    print("FOUND", v[:60])
        except Exception:
            pass
    for mod in list(sys.modules.values()):
        for v in list(getattr(mod, "__dict__", {}).values()):
            if isinstance(v, str) and any(v.startswith(p) and v != p for p in PREFIXES):
                found += 1
    return float(found)
