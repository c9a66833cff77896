"""No network: a network namespace with no interface up (abstract Unix sockets live in it too).

As root, one network namespace for the worker and all its children: creating (and tearing
down) one per child costs about a millisecond each, and the worker needs no network. Children
run one submission at a time and are all killed in between. Without root, each child makes its
own inside its user namespace."""

from __future__ import annotations

from .. import linux
from .base import Layer


class NetNs(Layer):
    key, name, phase = "netns", "network namespace", "ns"

    def prepare(self, plan, info):
        plan.host["net"] = linux.readlink("/proc/self/ns/net")
        if plan.root and self.key in plan.enabled:
            try:
                linux.unshare(linux.CLONE_NEWNET)
                plan.shared_netns = True
            except OSError as exc:
                plan.off(self.key, str(exc))

    def apply(self, plan, ctx):
        if plan.root:
            return "the worker's own network namespace, no interface up"
        linux.unshare(linux.CLONE_NEWNET)
        return "own network namespace, no interface up"

    def held(self, plan, ctx):
        return linux.readlink("/proc/self/ns/net") not in ("", plan.host["net"])


LAYER = NetNs()
