r"""How a diagnosis reads: the step, in the exercise's own names, never with a number.

A mistake is told as the step that went wrong ("∂y/∂z(2) in the output layer: the derivative of
the activation seems to be missing"); a convention as what the student's work is right for
("your gradient is right for the mean over samples; this exercise sums over samples"). A
combination names each of its parts, mistakes first.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Exercise, Network, Question
from .catalogue import Candidate, Part

@dataclass(frozen=True)
class Names:
    """How to name each layer in a message: symbols for its outputs, pre-activations, weights."""

    net: Network
    out: tuple[str, ...]
    z: tuple[str, ...]
    W: tuple[str, ...]
    neurons: tuple[tuple[str, ...], ...]

    @classmethod
    def of_exercise(cls, ex: Exercise) -> Names:
        L = ex.net.L
        names = ex.layer_names or tuple({} for _ in range(L + 1))
        return cls(
            ex.net,
            tuple(names[l].get("output", "x" if l == 0 else "a") for l in range(L + 1)),
            tuple(names[l].get("net", "z") for l in range(L + 1)),
            tuple(names[l].get("weights", f"W({l})") for l in range(L + 1)),
            ex.neurons or tuple(() for _ in range(L + 1)),
        )

    @classmethod
    def of_case(cls, net: Network) -> Names:
        L = net.L
        return cls(net, ("x", *(f"a{l}" for l in range(1, L + 1))), tuple(f"z{l}" for l in range(L + 1)),
                   tuple(f"W{l}" for l in range(L + 1)), tuple(() for _ in range(L + 1)))

    def layer(self, l: int) -> str:
        L = self.net.L
        what = "the inputs" if l == 0 else "the output layer" if l == L else \
            "the hidden layer" if L == 2 else f"hidden layer {l}"
        names = self.neurons[l]
        if names:
            shown = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
            what += f" ({shown})"
        return what


_DERIVATIVE = {
    "sigmoid": "{a}(1 − {a}) for a sigmoid",
    "tanh": "1 − {a}² for tanh",
    "relu": "1 where {z} > 0, else 0, for a ReLU",
    "softmax": "the softmax Jacobian diag({a}) − {a}{a}ᵀ",
}


_LOSS_WORDS = {
    "half_sse": "E = ½ Σ(y − t)²",
    "sse": "E = Σ(y − t)² (no ½)",
    "mse": "the mean squared error",
    "binary_cross_entropy": "binary cross-entropy",
    "cross_entropy": "cross-entropy",
}


def _reduction(net: Network) -> str:
    return "averages over samples" if net.reduction == "mean" else "sums over samples"


def convention(p: Part, names: Names) -> str:
    """What a convention part is right for, and what the exercise uses instead."""
    net = names.net
    m = p.id
    this = f"this exercise uses {_LOSS_WORDS.get(net.loss, net.loss)}"
    if m == "mean_over_samples":
        return "your gradient is right for the mean over samples; this exercise sums over samples"
    if m == "sum_over_samples":
        return "your gradient is right for the sum over samples; this exercise averages over samples"
    if m == "half_dropped":
        return ("your gradient is right for E = Σ(y − t)² without the ½ (twice as large); "
                "this exercise uses E = ½ Σ(y − t)², whose ½ cancels the 2 of the square: ∂E/∂y = y − t")
    if m == "half_added":
        return f"your gradient is right for E = ½ Σ(y − t)²; {this}"
    if m == "binary_cross_entropy_gradient":
        return (f"your gradient is right for binary cross-entropy (through a sigmoid, δ = y − t); {this}, "
                "whose δ is (y − t) times the activation's derivative")
    if m == "cross_entropy_gradient":
        return f"your gradient is right for the cross-entropy loss −Σ t log y; {this}"
    if m == "squared_error_gradient":
        return f"your gradient is right for squared error E = ½ Σ(y − t)²; {this}"
    if m == "no_biases":
        return ("your code is right for a network without biases; this exercise has biases: "
                "z = W a + b, and ∂E/∂b = Σ δ")
    if m == "biases_not_trained":
        return "your training is right for biases that stay fixed; in this exercise the biases are trained too"
    if m == "learning_rate_over_batch":
        return ("your training is right for a learning rate divided by the number of samples; "
                f"this exercise {_reduction(net)} with the learning rate as given")
    return m  # pragma: no cover - every convention above has a message


def message(c: Candidate, names: Names, ex: Exercise | None = None, q: Question | None = None) -> str:
    """The whole diagnosis: each part's step, mistakes first, then the conventions."""
    mistakes = [step(p, names, ex, q) for p in c.parts if not p.convention]
    conventions = [convention(p, names) for p in c.parts if p.convention]
    if len(mistakes) > 1:
        mistakes = [f"({i}) {m}" for i, m in enumerate(mistakes, start=1)]
        mistakes[0] = f"{len(mistakes)} mistakes together: {mistakes[0]}"
    out = "; ".join(mistakes)
    if conventions:
        joined = "; ".join(conventions)
        out = f"{out}; and {joined}" if out else joined
    return out


def step(p: Part, names: Names, ex: Exercise | None = None, q: Question | None = None) -> str:
    """One mistake part as the step that went wrong."""
    net = names.net
    v = p.variant
    m = p.id
    if m == "transposed":
        return ("the matrix seems to be transposed, as from the outer product in the wrong order: its rows are "
                "the neurons the weights lead to (∂E/∂W = δ aᵀ, the shape of W)")
    if m == "transposed_backprop":
        l = v.backprop_T
        return (f"back-propagating into {names.layer(l - 1)}: the error goes back through "
                f"{names.W[l]}ᵀ δ, the transpose; {names.W[l]} seems to be used without it")
    if m == "update_wrong_sign":
        return ("the update seems to go uphill: gradient descent subtracts the gradient, θ ← θ − η ∂E/∂θ "
                "(check the sign of the update and of y − t)")
    if m == "update_no_learning_rate":
        return "the update seems to leave out the learning rate: θ ← θ − η ∂E/∂θ"
    if m == "updated_weights_backprop":
        return ("the hidden layer's error seems to be back-propagated through weights that were already "
                "updated: compute every gradient with the old weights first, then update them all")
    if m in ("no_activation_derivative", "sigmoid_derivative_of_z", "derivative_of_output", "derivative_twice",
             "activation_for_derivative", "derivative_replaces_error"):
        layers = sorted(l for l, _ in v.act)
        l = layers[-1]
        act = net.activations[l - 1]
        a, z = (names.out[l], names.z[l]) if len(layers) == 1 else ("a", "z")
        where = names.layer(l) if len(layers) == 1 else "every layer"
        formula = _DERIVATIVE.get(act, "f′(z)").format(a=a, z=z)
        head = f"∂{a}/∂{z} in {where}: "
        if m == "no_activation_derivative":
            if len(layers) == 1 and l < net.L:
                return head + (f"the derivative of the activation seems to be missing: the error is back-propagated "
                               f"as {names.W[l + 1]}ᵀ δ without the factor {formula}")
            return head + f"the derivative of the activation seems to be missing ({formula})"
        if m == "derivative_twice":
            return head + f"the derivative of the activation seems to be applied twice ({formula}, once)"
        if m == "derivative_replaces_error":
            return head + (f"the derivative of the activation seems to replace the incoming error instead of "
                           f"multiplying it: δ = ∂E/∂{a} ⊙ f′({z}), with f′ = {formula}")
        if m == "activation_for_derivative":
            return head + f"the activation itself seems to be used where its derivative belongs ({formula})"
        right = f"{a}(1 − {a})" if act == "sigmoid" else f"1 − {a}²"
        if m == "derivative_of_output":
            wrong = f"σ({a})(1 − σ({a}))" if act == "sigmoid" else f"1 − tanh²({a})"
            return head + (f"the derivative seems to be applied to the output as if it were the pre-activation, "
                           f"{wrong}; with the output it is {right}")
        wrong = f"{z}(1 − {z})" if act == "sigmoid" else f"1 − {z}²"
        return head + (f"the derivative of the {act} seems to be taken of the pre-activation, "
                       f"{wrong}, instead of the output, {right}")
    if m == "hidden_delta_from_output_error":
        l = max(v.from_output)
        return (f"δ of {names.layer(l - 1)}: it comes from δ of {names.layer(l)}, {names.W[l]}ᵀ δ⁽{l}⁾; "
                f"the error ∂E/∂{names.out[l]} (as y − t) seems to be back-propagated instead")
    if m == "sign_flipped":
        if net.loss in ("half_sse", "sse", "mse"):
            return "∂E/∂y: the sign seems to be flipped: the error term is (y − t), not (t − y)"
        return "∂E/∂y: the sign of the loss gradient seems to be flipped"
    if m == "half_doubled":
        return ("the ½ of E = ½ Σ(y − t)² seems to be applied twice: it cancels the 2 of the square, "
                "so ∂E/∂y = y − t with no ½ left")
    if m == "single_path_delta":
        l = v.path[0]
        return (f"∂E/∂{names.out[l - 1]} in {names.layer(l - 1)}: a neuron's error sums over every path, "
                f"Σₖ wₖⱼ δₖ over all the neurons of {names.layer(l)} it feeds; only one path seems to be followed")
    if m == "elementwise_product" and v.elementwise:
        l = v.elementwise
        return (f"back-propagating into {names.layer(l - 1)}: {names.W[l]}ᵀ δ is a matrix product (@, np.dot) "
                f"summing over the neurons of {names.layer(l)}; an elementwise product {names.W[l]}ᵀ * δ seems to "
                "be used, which NumPy broadcasts to other numbers")
    if m == "elementwise_product":
        l = v.elementwise_dW
        W, a = (names.W[l], names.out[l - 1]) if l else ("W", "a")  # the returned form: any layer
        return (f"∂E/∂{W}: it is the matrix product δ {a}ᵀ (@, np.dot) summing over the samples, with the "
                f"shape of {W}; an elementwise product δ * {a} seems to be used")
    if m in ("wrong_edge_input", "z_instead_of_a"):
        return _edge_step(m, v.edge[0], names, ex, q)
    if m == "bias_not_summed":
        B = q.quantity.b if q is not None else None
        b = B.name if B is not None and B.kind in ("b", "param") and q.after_epochs == 0 else "b"
        if p.form == "db_delta":
            return f"∂E/∂{b}: a bias gradient sums δ over every sample, a column (n, 1); δ itself seems to be returned"
        if v.tie_use >= 0:
            return (f"∂E/∂{b}: a bias shared by several neurons gets the sum of the gradients of all its uses; "
                    "only one use seems to be counted")
        return f"∂E/∂{b}: a bias gradient sums δ over every sample; only one sample seems to be used"
    if m == "bias_axis":
        return "∂E/∂b: a bias gradient sums δ over the samples (axis 1, keepdims); it seems to be summed over the neurons"
    if m == "one_sample_only":
        which = "first" if v.sample == 0 else "last"
        return (f"only the {which} sample seems to be used: the gradient of E sums over every sample "
                "(every column of x), not one")
    return m  # pragma: no cover - every mistake above has a message


def _edge_step(m: str, l: int, names: Names, ex: Exercise | None, q: Question | None) -> str:
    edge = _edge_of_question(ex, q, l) if ex is not None and q is not None else None
    if edge is not None:
        p, src, dst_z, src_z = edge
        if m == "wrong_edge_input" and l == 1:
            return f"∂{dst_z}/∂{p}: it is the input the edge {p} comes from ({src}), not another input"
        if m == "wrong_edge_input":
            return (f"∂{dst_z}/∂{p}: it is the output of the neuron the edge {p} comes from ({src}), "
                    "not another neuron's output")
        return f"∂{dst_z}/∂{p}: it is the output {src} of the neuron the edge comes from, not its pre-activation {src_z}"
    if m == "wrong_edge_input" and l == 1:
        return (f"∂{names.z[l]}/∂{names.W[l]}: each weight's gradient uses the input its edge comes from "
                f"({names.layer(0)}); another input seems to be used")
    if m == "wrong_edge_input":
        return (f"∂{names.z[l]}/∂{names.W[l]}: each weight's gradient uses the output of the neuron its edge "
                f"comes from in {names.layer(l - 1)}; another neuron's output seems to be used")
    return (f"∂{names.z[l]}/∂{names.W[l]}: a weight's gradient uses the output {names.out[l - 1]} of "
            f"{names.layer(l - 1)}, not its pre-activation {names.z[l - 1]}")


def _edge_of_question(ex: Exercise, q: Question, l: int) -> tuple[str, str, str, str] | None:
    """(parameter, source neuron, destination net, source net) when q asks about one named edge of layer l."""
    B = q.quantity.b
    if B.kind != "param":
        return None
    p = ex.parameters.get(B.name)
    if p is None or p.shape != () or len(p.uses) != 1 or p.uses[0][0] != "W" or p.uses[0][1] != l:
        return None
    _, _, (i, j) = p.uses[0]
    try:
        src = ex.neurons[l - 1][j]
        dst_z = ex.nets[l][i]
        src_z = ex.nets[l - 1][j] if l > 1 else ""
    except IndexError:
        return None
    return p.name, src, dst_z, src_z
