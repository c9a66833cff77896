r"""Activations and losses, elementwise over (n, S, V) arrays, with their derivatives.

Part of the solver stage (:mod:`grader.solver` re-exports them): :math:`a = f(z)`, the
vector-Jacobian product :math:`f'(z)^T g`, E summed or averaged over samples, and
:math:`\partial E/\partial y`.
"""

from __future__ import annotations

import numpy as np

from .spec.model import Network

# ---------------------------------------------------------------------------- activations
def activate(name: str, z: np.ndarray) -> np.ndarray:
    r""":math:`a = f(z)` elementwise (softmax over the neuron axis 0)."""
    if name == "sigmoid":
        a = np.negative(z)  # 1 / (1 + exp(-z)), in place on one new array
        with np.errstate(over="ignore"):
            np.exp(a, out=a)
        a += 1.0
        return np.reciprocal(a, out=a)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "linear":
        return z.copy()
    if name == "softmax":
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    raise ValueError(f"unknown activation {name!r}")


def activation_vjp(name: str, z: np.ndarray, a: np.ndarray, ga: np.ndarray) -> np.ndarray:
    r""":math:`\partial A/\partial z = f'(z)^T \, \partial A/\partial a` for a cotangent ``ga``."""
    if name == "sigmoid":
        g = 1.0 - a  # ga ⊙ a ⊙ (1 − a), in place on one new array
        g *= a
        g *= ga
        return g
    if name == "tanh":
        return ga * (1.0 - a * a)
    if name == "relu":
        return ga * (z > 0)
    if name == "linear":
        return ga
    if name == "softmax":
        return a * (ga - (ga * a).sum(axis=0, keepdims=True))
    raise ValueError(f"unknown activation {name!r}")


# ---------------------------------------------------------------------------- loss
def _weight(net: Network, S: int) -> float:
    return 1.0 / S if net.reduction == "mean" else 1.0


def loss(net: Network, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    r"""E summed (or averaged) over samples: (n_L, S, V) -> (V,).

    half_sse :math:`\tfrac12\sum(y-t)^2`, sse :math:`\sum(y-t)^2`, mse :math:`\tfrac1K\sum(y-t)^2`
    per sample, binary_cross_entropy :math:`-\sum[t\log y+(1-t)\log(1-y)]`,
    cross_entropy :math:`-\sum t\log y`.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if net.loss == "half_sse":
            per = 0.5 * (y - t) ** 2
        elif net.loss == "sse":
            per = (y - t) ** 2
        elif net.loss == "mse":
            per = (y - t) ** 2 / y.shape[0]
        elif net.loss == "binary_cross_entropy":
            per = -(t * np.log(y) + (1.0 - t) * np.log1p(-y))
        elif net.loss == "cross_entropy":
            per = -(t * np.log(y))
        else:
            raise ValueError(f"unknown loss {net.loss!r}")
    return per.sum(axis=(0, 1)) * _weight(net, y.shape[1])


def loss_grad(net: Network, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    r""":math:`\partial E/\partial y`, per sample, with the reduction's 1/S: (n_L, S, V)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if net.loss == "half_sse":
            g = y - t
        elif net.loss == "sse":
            g = 2.0 * (y - t)
        elif net.loss == "mse":
            g = 2.0 * (y - t) / y.shape[0]
        elif net.loss == "binary_cross_entropy":
            g = (y - t) / (y * (1.0 - y))
        elif net.loss == "cross_entropy":
            g = -t / y
        else:
            raise ValueError(f"unknown loss {net.loss!r}")
    w = _weight(net, y.shape[1])
    if w != 1.0:  # g is a new array in every branch above
        g *= w
    return g
