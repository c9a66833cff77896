"""What the sandbox worker's probe found on this machine, remembered between ``grade FILE`` runs.

The worker's probe (``_worker/server.py``) forks a child that applies every layer and checks that
Python still works there, dropping a layer that breaks it. Its verdict depends only on the machine
(kernel, interpreter, import path and its permissions, the layers enabled), which the worker
hashes into the verdict's ``key``. A fresh verdict comes back in the hello and is kept here, in
``$GRADER_CACHE_DIR/sandbox-probe.json``; a single run (``Sandbox(single=True)``) hands the kept
verdicts to its worker, which uses the one whose key it computes itself instead of probing again.

A verdict can only switch layers off (the worker accepts nothing else from it), and a submission's
child still reports and checks its own layers: ``--isolation strict`` refuses on what the child
applied, never on what a verdict says.
"""

from __future__ import annotations

import json
import os

from ..cachedir import cache_base

KEEP = 8  # verdicts of several interpreters or configurations, the newest first


def _path():
    return cache_base() / "sandbox-probe.json"


def remembered() -> list[dict]:
    """The verdicts kept (newest first), or [] when there are none or the file is not ours."""
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [v for v in data[:KEEP] if isinstance(v, dict) and isinstance(v.get("key"), str)]


def remember(verdict) -> None:
    """Keep a fresh verdict from a worker's hello (first, replacing one of the same key)."""
    if not isinstance(verdict, dict) or not isinstance(verdict.get("key"), str) or verdict.get("remembered"):
        return
    kept = [verdict] + [v for v in remembered() if v["key"] != verdict["key"]]
    path = _path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp.write_text(json.dumps(kept[:KEEP], sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only home: the next run probes again
        try:
            tmp.unlink()
        except OSError:
            pass
