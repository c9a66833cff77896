"""The plan: what the worker prepares once (every layer's ``prepare``) for every child it forks."""

from __future__ import annotations

import os
import sys

from . import layers
from .linux import within


def _installed_grader() -> list[str]:
    """Where this interpreter would import ``grader`` from (an installed copy may differ from
    the grader that started us, e.g. a checkout run with a package installed in a venv).
    Located, never imported."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("grader")
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    places = list(spec.submodule_search_locations or [])
    if spec.origin and os.path.exists(spec.origin):
        places.append(os.path.dirname(spec.origin))
    return sorted({os.path.realpath(p) for p in places})


def python_roots(denied: list[str], hidden: list[str]) -> list[str]:
    """The interpreter's import path, without anything inside a denied path, nor inside a
    hidden one (a source checkout) unless it belongs to the interpreter (a venv in it)."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    roots = []
    for entry in sys.path:
        if not entry:
            continue
        real = os.path.realpath(entry)
        if not os.path.exists(real) or real in roots or any(within(real, d) for d in denied):
            continue
        if any(within(real, h) for h in hidden) and not any(within(real, p) for p in prefixes):
            continue
        roots.append(real)
    return roots


class Plan:
    """What the worker prepared once, for every child it will fork."""

    def __init__(self, config: dict):
        self.disabled = set(config.get("disable", ()))
        self.enabled = set(layers.CHILD_LAYERS) - self.disabled
        self.strict = bool(config.get("strict"))
        self.scratch_root = config["scratch_root"]
        self.tmpfs_mb = int(config.get("tmpfs_mb", 256))
        self.denied = [os.path.realpath(p) for p in config.get("deny", ())] + _installed_grader()
        self.hidden = [os.path.realpath(p) for p in config.get("hide", ())]
        self.root = os.geteuid() == 0
        # The child's layers in the order applied, sorted once here rather than twice in each child.
        order = layers.child_order(self.root)
        self.early = tuple(layer for layer in order if layer.phase != "late")
        self.late = tuple(layer for layer in order if layer.phase == "late")
        self.notes: dict[str, str] = {key: "disabled" for key in self.disabled}
        self.host: dict[str, str] = {}  # the worker's namespaces before any layer, to read back against
        self.uid = self.gid = None
        self.user_name = ""
        self.landlock_rules: list = []  # [(path, rights)] every child's ruleset starts from
        self.landlock_held: list = []  # their rules, each naming a path opened once (landlock.held_rules)
        self.landlock_rest: list = []  # [(path, rights)] each child opens itself (past the fd limit)
        self.shared_netns = False
        self.abi = 0
        self.seccomp = b""  # the BPF program
        self.seccomp_call: tuple = ()  # (prctl, a reference to its sock_fprog, what that points to)
        self.view: str | None = None  # the filesystem view's root (fsview)
        self.view_ns: int | None = None  # a mount namespace rooted in it, kept by this fd (fsview)
        self.init_argv: list[str] | None = None  # a PID namespace's init, when spawned (pidns)
        self.worker_pid = os.getpid()
        self.cgroup_parents: dict | None = None
        self.path = python_roots(self.denied, self.hidden)
        if sys.platform != "linux":  # best effort elsewhere: a separate process with rlimits
            for key in set(layers.CHILD_LAYERS) - {"rlimits", "user"}:
                self.off(key, f"not available on {sys.platform}")
        self.env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG")}
        self.env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")

    def off(self, key: str, why: str) -> None:
        """Switch a layer off for every child, saying why."""
        self.enabled.discard(key)
        self.notes[key] = why


def make_plan(config: dict) -> tuple[Plan, dict]:
    """Every layer prepares itself, in the table's order (the mount namespace first: the rest
    of the plan sees the world through it); returns the plan and what the hello reports."""
    plan = Plan(config)
    info: dict[str, list] = {}
    for layer in layers.TABLE:
        layer.prepare(plan, info)
    return plan, info
