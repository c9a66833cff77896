"""The grader's cache folder, shared by what it remembers between runs (valid specs, exercise values)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_base() -> Path:
    """``$GRADER_CACHE_DIR``, else ``$XDG_CACHE_HOME/backprop-grader`` (default
    ``~/.cache/backprop-grader``)."""
    base = os.environ.get("GRADER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "backprop-grader")
    return Path(base)
