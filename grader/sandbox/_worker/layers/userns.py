"""A user namespace mapping the child's uid to itself, with nested user namespaces disabled.
As root it comes after the uid change (so ``nobody`` holds no capability outside); without root
it comes first, and gives the right to make the other namespaces. Capabilities are dropped
by the child after its namespace layers."""

from __future__ import annotations

import os

from .. import linux
from .base import Layer


class UserNs(Layer):
    key, name, phase = "userns", "user namespace", "user"

    def prepare(self, plan, info):
        plan.host["user"] = linux.readlink("/proc/self/ns/user")

    def apply(self, plan, ctx):
        uid, gid = os.geteuid(), os.getegid()
        linux.unshare(linux.CLONE_NEWUSER)
        linux.write_file("/proc/self/setgroups", "deny")
        linux.write_file("/proc/self/uid_map", f"{uid} {uid} 1")
        linux.write_file("/proc/self/gid_map", f"{gid} {gid} 1")
        note = f"uid {uid} mapped to itself"
        try:  # creating nested user namespaces would give back capabilities
            linux.write_file("/proc/sys/user/max_user_namespaces", "0")
            note += ", nested user namespaces disabled"
        except OSError:
            pass
        return note + ", capabilities dropped"

    def held(self, plan, ctx):
        return linux.readlink("/proc/self/ns/user") not in ("", plan.host["user"])


LAYER = UserNs()
