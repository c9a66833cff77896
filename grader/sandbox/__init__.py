"""Running untrusted submissions: a separate, isolated process that never holds the answer key.

``Sandbox`` owns one worker server (``python -I``, NumPy preloaded) that forks a child per
submission; ``doctor()`` reports which isolation layers really work on this machine.
"""

from ._sandbox import Sandbox
from .model import STATUSES, Call, CallOutcome, Limits, SubmissionRun

__all__ = ["STATUSES", "Call", "CallOutcome", "Limits", "Sandbox", "SubmissionRun", "doctor"]


def __getattr__(name: str):
    # ``grade FILE`` imports this package to launch the worker first: nothing here may import
    # NumPy or the doctor's probes before that
    if name == "doctor":
        from ._doctor import doctor

        return doctor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
