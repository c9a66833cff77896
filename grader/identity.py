"""A cache of values computed from immutable objects (a loaded exercise, its functions and
cases), keyed by those objects' identity: what depends only on the exercise is computed once.

The objects are kept beside the value, so an id is never reused while it is cached; per-student
variants are new objects each time, so the cache is emptied once it holds ``bound`` entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class IdentityCache(dict):
    """key -> (objects, value); a plain dict otherwise (``clear()``, iteration over the keys)."""

    def __init__(self, bound: int = 256):
        super().__init__()
        self.bound = bound

    def value(self, key: tuple[Any, ...], objs: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """``make()``, once per ``key`` while ``objs`` are the very objects it was made from."""
        hit = self.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], objs, strict=True)):
            return hit[1]
        if len(self) > self.bound:
            self.clear()
        value = make()
        self[key] = (objs, value)
        return value
