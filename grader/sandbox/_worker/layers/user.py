"""As root, the child runs as the unprivileged user ``nobody`` (its scratch directory is
chowned to it); otherwise it already is unprivileged."""

from __future__ import annotations

import os

from .. import linux
from .base import Layer

NOBODY = 65534


class User(Layer):
    key, name, phase = "user", "unprivileged user", "user"

    def prepare(self, plan, info):
        if not plan.root:
            return
        try:
            import pwd

            entry = pwd.getpwnam("nobody")
            plan.uid, plan.gid, plan.user_name = entry.pw_uid, entry.pw_gid, "nobody"
        except (ImportError, KeyError):
            plan.uid = plan.gid = NOBODY
            plan.user_name = str(NOBODY)

    def apply(self, plan, ctx):
        if not plan.root:
            return f"already unprivileged (uid {os.getuid()})"
        os.setgroups([])
        os.setresgid(plan.gid, plan.gid, plan.gid)
        os.setresuid(plan.uid, plan.uid, plan.uid)
        linux.prctl(linux.PR_SET_DUMPABLE, 1)  # a uid change made /proc/self root's; the uid map needs it
        return f"uid {plan.uid} ({plan.user_name}), scratch owned by it"

    def held(self, plan, ctx):
        return 0 not in os.getresuid() and 0 not in os.getresgid()


LAYER = User()
