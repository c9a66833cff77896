"""The interface every isolation layer has (see the package's docstring), and how a child runs one."""

from __future__ import annotations

PHASES = ("join", "ns", "user", "drop", "late")


class Layer:
    key = name = ""
    scope, phase = "child", "drop"

    def prepare(self, plan, info: dict) -> None:
        pass

    def apply(self, plan, ctx: dict) -> str:
        return ""

    def held(self, plan, ctx: dict) -> bool:
        return True


class Note(Layer):
    scope = "note"

    def __init__(self, key: str, name: str):
        self.key, self.name = key, name


def run(layer: Layer, plan, ctx: dict) -> list:
    """[applied and held?, note] for one child layer."""
    if layer.key not in plan.enabled:
        return [False, plan.notes.get(layer.key, "disabled")]
    try:
        note = layer.apply(plan, ctx)
    except OSError as exc:
        return [False, str(exc)]
    if not layer.held(plan, ctx):
        return [False, f"{note}; but it did not hold when read back"]
    return [True, note]
