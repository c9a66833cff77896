"""pdeathsig: the child is killed when the worker (its parent) dies (set after every uid change, which
would clear it)."""

from __future__ import annotations

import signal

from .. import linux
from .base import Layer


class PdeathSig(Layer):
    key, name, phase = "pdeathsig", "pdeathsig", "drop"

    def apply(self, plan, ctx):
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        return "SIGKILL when the worker dies"

    def held(self, plan, ctx):
        return linux.prctl_get(linux.PR_GET_PDEATHSIG) == signal.SIGKILL


LAYER = PdeathSig()
