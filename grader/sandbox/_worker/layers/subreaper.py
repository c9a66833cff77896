"""Subreaper: the worker (which forks every child) adopts its orphaned descendants, so that a
daemonised process of a submission is found and killed."""

from __future__ import annotations

from .. import linux
from .base import Layer


class Subreaper(Layer):
    key, name, scope = "subreaper", "subreaper", "worker"

    def prepare(self, plan, info):
        try:
            linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
            info["subreaper"] = [True, "the worker adopts and kills orphaned descendants"]
        except (OSError, AttributeError) as exc:
            info["subreaper"] = [False, str(exc)]


LAYER = Subreaper()
