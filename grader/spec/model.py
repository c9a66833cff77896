"""The compiled exercise as plain dataclasses, and the spec's constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax")
LOSSES = ("half_sse", "sse", "mse", "binary_cross_entropy", "cross_entropy")

MAX_WEIGHTS = 5_000_000

# Default tolerances (README, Tolerances): typed-in numbers vs code held to float64 accuracy.
DEFAULT_RTOL, DEFAULT_ATOL = 1e-2, 1e-8
CODE_RTOL, CODE_ATOL = 1e-6, 1e-9


# ---------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class Network:
    r"""The structure of a layered network, as the solver needs it.

    Layer ``l`` (1..L) computes :math:`z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}`,
    :math:`a^{(l)} = f_l(z^{(l)})`, with ``W[l]`` of shape ``(sizes[l], sizes[l-1])``.
    ``W_train[l]``/``b_train[l]`` mark the entries that gradient descent moves (edges that exist
    and are not ``fixed``); ``ties`` lists groups of entries that share one parameter, each entry
    as ``("W", l, (i, j))`` or ``("b", l, (i,))``.
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]  # index l-1 for layer l
    loss: str = "half_sse"
    reduction: str = "sum"
    W_train: tuple[np.ndarray, ...] = ()
    b_train: tuple[np.ndarray, ...] = ()
    ties: tuple[tuple[tuple[str, int, tuple[int, ...]], ...], ...] = ()

    @property
    def L(self) -> int:
        return len(self.sizes) - 1


@dataclass(frozen=True)
class Ref:
    """What a name refers to.

    ``kind`` is one of ``E``, ``a`` (a neuron's output; layer 0 = an input), ``z`` (a
    pre-activation), ``param`` (a named parameter), ``W``/``b`` (a layer's weight matrix or bias
    vector), ``Z``/``A`` (a layer's pre-activation or output vector).
    """

    name: str
    kind: str
    layer: int = 0
    index: int = 0

    @property
    def per_sample(self) -> bool:
        return self.kind in ("a", "z", "Z", "A")


@dataclass(frozen=True)
class Parameter:
    """A named parameter and the entries of ``W``/``b`` it sets (several when tied)."""

    name: str
    uses: tuple[tuple[str, int, tuple[int, ...]], ...]
    shape: tuple[int, ...]  # () for a scalar, (n, m) for a whole weight matrix, (n,) for a bias vector
    fixed: bool
    path: str  # JSON path of its definition


@dataclass(frozen=True)
class Tolerance:
    mode: str = "relabs"
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    digits: int = 3


@dataclass(frozen=True)
class Quantity:
    """A parsed ``ask``: the value of ``b`` (when ``a`` is None) or the total derivative d a / d b."""

    b: Ref
    a: Ref | None = None

    @property
    def is_derivative(self) -> bool:
        return self.a is not None


@dataclass(frozen=True)
class Accept:
    """An alternative answer of a question: a ``value``, or the answer to ``quantity`` (another
    ask under the question's conditions; None: the question's own), transposed if ``transpose``."""

    fraction: float = 1.0
    value: Any = None  # a number or nested lists
    quantity: Quantity | None = None
    ask: str = ""
    transpose: bool = False
    feedback: str = ""

    @property
    def label(self) -> str:
        what = "an accepted value" if self.value is not None else self.ask
        return f"the transpose of {what}" if self.transpose else what


@dataclass(frozen=True)
class Question:
    id: str
    ask: str
    quantity: Quantity
    points: float = 1.0
    text: str = ""
    given: tuple[tuple[str, Any], ...] = ()
    after_epochs: int = 0
    sample: int | None = None
    tolerance: Tolerance = Tolerance()
    reveal: bool = False
    feedback: str = ""
    uses: tuple[str, ...] = ()  # earlier questions whose product this answer is (error carried forward)
    carried_forward: float = 0.5
    answer: str = "either"  # what a typed answer may be: "number", "formula" or "either"
    accept: tuple[Accept, ...] = ()  # other answers that earn (a fraction of) the points


# The id of a function's case on the exercise's own values: the only case that holds a student's
# values when the exercise has per-student variants (the random cases are every student's).
EXERCISE_CASE = "exercise"


@dataclass(frozen=True)
class Case:
    """One call of a student function: its inputs by conventional name (``x``, ``W1``, ``lr``…)."""

    id: str  # EXERCISE_CASE, "hidden-1", "vectorized-1000", …
    label: str  # for feedback: sizes and sample count, never values
    net: Network
    inputs: tuple[tuple[str, Any], ...]  # name -> float64 ndarray, float or int
    visible: bool
    group: str = ""  # cases of one group form one test (the vectorized pair)


@dataclass(frozen=True)
class Function:
    """A function a code submission must define (README, Student code).

    ``args``/``returns`` are conventional names: ``x``, ``t``, ``W1``, ``b1``… (biases are
    columns), ``z1``, ``a1``…, ``dW1``, ``db1``, ``delta1``, ``E``, ``lr``, ``epochs``, and ``z``,
    ``a`` for an elementwise activation. ``labels`` keep the spelling the spec used.
    """

    name: str
    args: tuple[str, ...]
    returns: tuple[str, ...]
    labels: tuple[str, ...]  # display names of the returns
    points: float
    cases: tuple[Case, ...]
    vectorized: bool
    vectorized_points: float
    activation: str | None  # for an elementwise function such as sigmoid
    reveal: bool
    visibility: str
    path: str
    learning_rate: float = 0.5  # η of the function's training, and of a backward that updates in place


@dataclass(frozen=True)
class Exercise:
    r"""A compiled exercise: the network, its starting values and the questions.

    ``W[l-1]`` is :math:`W^{(l)}` of shape (n_l, n_{l-1}); ``b[l-1]`` is (n_l,); ``x`` is
    (n_0, S) and ``t`` is (n_L, S); ``has_samples`` is False when the spec gave scalars (one
    sample, answers without a sample axis).
    """

    id: str
    title: str
    description: str
    path: str
    net: Network
    W: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]
    x: np.ndarray
    t: np.ndarray
    has_samples: bool
    learning_rate: float
    mode: str
    tolerance: Tolerance
    questions: tuple[Question, ...]
    names: dict[str, Ref] = field(repr=False)
    parameters: dict[str, Parameter] = field(repr=False)
    neurons: tuple[tuple[str, ...], ...] = ()  # per layer, the neuron names
    nets: tuple[tuple[str, ...], ...] = ()  # per layer (0 is empty), the pre-activation names
    layer_names: tuple[dict[str, str], ...] = ()  # per layer: weights/bias/net/output -> name
    aliases: tuple[str, ...] = ()
    functions: tuple[Function, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    variant_seed: int | None = None  # set for one student's variant
    student: str | None = None

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[1])

    @property
    def max_score(self) -> float:
        return float(sum(q.points for q in self.questions))


_KIND = {
    "E": "loss", "a": "neuron", "z": "pre-activation", "param": "parameter",
    "W": "weight matrix", "b": "bias vector", "Z": "pre-activation vector", "A": "layer output vector",
}
