"""The missing-layer report: which isolation layers a submission ran without, from the worker's
hello, the child's own account of its layers and the supervisor's read-back of its cgroup."""

from __future__ import annotations

import os

from . import _worker as W
from .model import Limits


def applied(layers, key: str) -> bool:
    entry = layers.get(key) if isinstance(layers, dict) else None
    return isinstance(entry, list) and bool(entry) and entry[0] is True


def missing_layers(hello: dict, layers: dict | None, cgroup: dict | None, limits: Limits) -> tuple[str, ...]:
    missing = []
    if not hello.get("isolated", False) or hello.get("grader_imported"):
        missing.append(W.LAYERS["isolated"])
    layers = layers if layers is not None else hello.get("layers", {})
    for key in W.CHILD_LAYERS:
        if not applied(layers, key) or key == "cgroup" and not cgroup_limited(cgroup, limits):
            missing.append(W.LAYERS[key])
    mountns = hello.get("mountns", [False, ""])
    if os.geteuid() == 0 and not mountns[0]:
        missing.append(W.LAYERS["mountns"])
    if not hello.get("subreaper", [False])[0]:
        missing.append(W.LAYERS["subreaper"])
    masked = mountns[0] and "masked" in str(mountns[1])
    landlock_hides = applied(layers, "landlock") and W.layers.landlock.LISTABLE not in str(layers.get("landlock", ""))
    if not landlock_hides and not masked:
        missing.append(W.LAYERS["hidden"])
    return tuple(missing)


def cgroup_limited(cgroup: dict | None, limits: Limits) -> bool:
    """The child said it joined its cgroup (and checked); the supervisor read back the limits
    and found it in (unless it had already exited)."""
    cg = cgroup or {}
    want = int(limits.memory_mb * 1024 * 1024)
    try:
        memory = int(cg.get("memory"))
    except (TypeError, ValueError):
        return False
    return (not cg.get("error") and cg.get("member") in (True, None) and want - 65536 < memory <= want
            and cg.get("pids") in (str(int(limits.processes)), None))
