"""The isolation layers: one module each, one small interface, one table.

Every layer is an object with

    key     its internal key (in reports, ``Sandbox(_disable=...)``, ``require``)
    name    what ``doctor()`` and ``SubmissionRun.missing_layers`` call it
    scope   "child" (each child applies it to itself), "worker" (the worker, once, in
            ``prepare``) or "note" (a property that doctor() checks; nothing to apply)
    phase   for child layers, when: "join" (first, as root), "ns" (while privileged),
            "user" (giving up the uid), "drop" (after capabilities are dropped), "late" (once
            the submission's limits are known, just before its code runs; seccomp last)
    prepare(plan, info)    in the worker, once, before any child: may switch itself off
                           (``plan.off(key, why)``); ``info`` is what the worker's hello reports
    apply(plan, ctx) -> str    apply it to this process; a note for doctor; OSError if it cannot
    held(plan, ctx) -> bool    read back that it is in place

``TABLE`` is the one list: doctor() rows, ``missing_layers`` and the child's order all come from it.
"""

from __future__ import annotations

from . import (cgroup, dumpable, fsview, ipcns, landlock, mountns, netns, pdeathsig, pidns, rlimits, seccomp,
               subreaper, user, userns)
from .base import PHASES, Layer, Note, run  # noqa: F401 - the interface, named here too


def child_order(root: bool) -> list[Layer]:
    """The child's layers in the order applied. Without root the user namespace comes first:
    it is what gives the right to make the other namespaces."""
    def phase(layer):
        return "join" if layer.key == "userns" and not root else layer.phase
    return sorted((lay for lay in TABLE if lay.scope == "child"), key=lambda lay: PHASES.index(phase(lay)))


TABLE: tuple[Layer, ...] = (
    Note("process", "separate process"),
    Note("isolated", "python -I worker"),
    mountns.LAYER,
    subreaper.LAYER,
    cgroup.LAYER,
    user.LAYER,
    netns.LAYER,
    ipcns.LAYER,
    pidns.LAYER,
    fsview.LAYER,
    userns.LAYER,
    landlock.LAYER,
    pdeathsig.LAYER,
    dumpable.LAYER,
    rlimits.LAYER,
    seccomp.LAYER,
    Note("hidden", "grader not importable"),
)
LAYERS = {layer.key: layer.name for layer in TABLE}
CHILD_LAYERS = tuple(layer.key for layer in TABLE if layer.scope == "child")
BY_KEY = {layer.key: layer for layer in TABLE}
