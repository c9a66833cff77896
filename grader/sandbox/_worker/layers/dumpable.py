"""Non-dumpable: no core dumps, and no ptrace or /proc access by processes of the same user."""

from __future__ import annotations

from .. import linux
from .base import Layer


class Dumpable(Layer):
    key, name, phase = "dumpable", "non-dumpable", "drop"

    def apply(self, plan, ctx):
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
        return "no core dumps, no ptrace or /proc access by the same user"

    def held(self, plan, ctx):
        return linux.prctl(linux.PR_GET_DUMPABLE) == 0


LAYER = Dumpable()
