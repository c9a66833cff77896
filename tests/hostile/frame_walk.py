# expect: load=ok probe=ok
# calls: probe()
# check: probe_found_nothing
# Walks every frame it can reach (sys._getframe, inspect.stack, the traceback of an exception)
# looking for a marker that only the grader holds. There is nothing to find.
import inspect
import sys

PREFIX = "GRADER-PARENT-" + "MARKER-"


def _strings(obj, seen, depth=0):
    if id(obj) in seen or depth > 4:
        return
    seen.add(id(obj))
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, (bytes, bytearray)):
        yield bytes(obj).decode("latin-1")
    elif isinstance(obj, dict):
        for k, v in list(obj.items()):
            yield from _strings(k, seen, depth + 1)
            yield from _strings(v, seen, depth + 1)
    elif isinstance(obj, (list, tuple, set)):
        for v in list(obj):
            yield from _strings(v, seen, depth + 1)


def probe():
    seen, found = set(), 0
    frame = sys._getframe()
    while frame is not None:
        for s in _strings(frame.f_locals, seen):
            found += s.startswith(PREFIX) and s != PREFIX
        for s in _strings(frame.f_globals, seen):
            found += s.startswith(PREFIX) and s != PREFIX
        frame = frame.f_back
    for info in inspect.stack():
        for s in _strings(info.frame.f_locals, seen):
            found += s.startswith(PREFIX) and s != PREFIX
    print("FOUND", found)
    return float(found)
