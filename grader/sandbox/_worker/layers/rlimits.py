"""rlimits on CPU time, address space, file size, open files, processes and core dumps, set
once the submission's limits are known (ctx["limits"], ctx["cpu_total"])."""

from __future__ import annotations

import math

from .base import Layer

MB = 1024 * 1024


class Rlimits(Layer):
    key, name, phase = "rlimits", "rlimits", "late"

    def apply(self, plan, ctx):
        import resource

        def cap(kind, value):
            soft, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(kind, (value, value))

        limits, rep = ctx["limits"], ctx["rep"]
        cpu = max(1, math.ceil(ctx["cpu_total"]))
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU,
                           (cpu, cpu + 1 if hard == resource.RLIM_INFINITY else min(cpu + 1, hard)))
        cap(resource.RLIMIT_CORE, 0)
        cap(resource.RLIMIT_FSIZE, int(limits["file_size_mb"] * MB))
        cap(resource.RLIMIT_NOFILE, int(limits["open_files"]))
        # NPROC counts every process of the real uid: meaningful only for a uid of our own.
        own_uid = (plan.root and rep["user"][0]) or rep["userns"][0]
        if own_uid:
            cap(resource.RLIMIT_NPROC, int(limits["processes"]))
        cap(resource.RLIMIT_AS, int(limits["memory_mb"] * MB))
        ctx["as_limit"] = int(limits["memory_mb"] * MB)
        what = "cpu, address space, file size, open files, core=0"
        return what + (", processes" if own_uid else "; no process limit (the uid is shared with the grader)")

    def held(self, plan, ctx):
        import resource

        return resource.getrlimit(resource.RLIMIT_AS)[1] <= ctx["as_limit"]


LAYER = Rlimits()
