"""An IPC namespace per child: SysV shared memory, message queues and semaphores made by one
submission are invisible to every other and are freed with the child."""

from __future__ import annotations

from .. import linux
from .base import Layer


class IpcNs(Layer):
    key, name, phase = "ipcns", "IPC namespace", "ns"

    def prepare(self, plan, info):
        plan.host["ipc"] = linux.readlink("/proc/self/ns/ipc")

    def apply(self, plan, ctx):
        linux.unshare(linux.CLONE_NEWIPC)
        return "own IPC namespace: SysV objects are this child's alone"

    def held(self, plan, ctx):
        return linux.readlink("/proc/self/ns/ipc") not in ("", plan.host["ipc"])


LAYER = IpcNs()
