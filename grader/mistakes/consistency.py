r"""Self-consistency with the student's own loss: which common loss a student's backward is the
gradient of, through the student's own forward pass.

The grader compares ``backward`` with central finite differences of the exercise's loss through
the student's ``forward``. When they disagree, the same differences are taken of the other
common losses (½Σ(y − t)², Σ(y − t)², each summed or averaged over samples, binary and
categorical cross-entropy); a backward that matches one of them is right for that loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .. import solver
from ..spec import Network

LOSSES = (("half_sse", "sum"), ("sse", "sum"), ("half_sse", "mean"), ("sse", "mean"),
          ("binary_cross_entropy", "sum"), ("binary_cross_entropy", "mean"),
          ("cross_entropy", "sum"), ("cross_entropy", "mean"))
WORDS = {"half_sse": "E = ½ Σ(y − t)²", "sse": "E = Σ(y − t)² (no ½)", "mse": "the mean squared error",
         "binary_cross_entropy": "binary cross-entropy", "cross_entropy": "cross-entropy −Σ t log y"}


def describe(loss: str, reduction: str) -> str:
    return WORDS.get(loss, loss) + (", averaged over samples" if reduction == "mean" else ", summed over samples")


def _agrees(net: Network, t: np.ndarray, rows: Sequence[tuple[np.ndarray, np.ndarray, float, float]]) -> bool:
    for y_plus, y_minus, h, mine in rows:
        e = [float(solver.loss(net, np.asarray(y, float)[..., None], t[..., None])[0]) for y in (y_plus, y_minus)]
        fd = (e[0] - e[1]) / (2 * h)
        if not np.isfinite(fd) or abs(mine - fd) > 1e-5 + 1e-4 * abs(fd):
            return False
    return True


def consistent_loss(net: Network, t: np.ndarray, rows: Sequence[tuple[np.ndarray, np.ndarray, float, float]]) -> str | None:
    """The sentence naming the other loss the student's backward agrees with, or None.

    ``rows``: for each checked entry, the student's forward output with that entry moved by +h
    and by −h, h, and the student's backward's value there."""
    if not rows:
        return None
    with np.errstate(all="ignore"):
        for loss, reduction in LOSSES:
            if (loss, reduction) == (net.loss, net.reduction):
                continue
            if _agrees(dataclasses.replace(net, loss=loss, reduction=reduction), t, rows):
                return (f"your backward is consistent with {describe(loss, reduction)}, through your own forward; "
                        f"this exercise uses {describe(net.loss, net.reduction)}")
    return None
