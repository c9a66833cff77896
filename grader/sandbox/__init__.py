"""Running untrusted submissions: a separate, isolated process that never holds the answer key.

``Sandbox`` owns one worker server (``python -I``, NumPy preloaded) that forks a child per
submission; ``doctor()`` reports which isolation layers really work on this machine.
"""

from ._doctor import doctor
from ._sandbox import Sandbox
from .model import STATUSES, Call, CallOutcome, Limits, SubmissionRun

__all__ = ["STATUSES", "Call", "CallOutcome", "Limits", "Sandbox", "SubmissionRun", "doctor"]
