r"""Mistake diagnosis: which back-propagation step a wrong value got wrong, or which other
convention it is right for.

Each known mistake and convention is a *switch of the solver's own passes*
(:mod:`grader.switches`), not a table of numbers and not a copy of the solver: σ′ left out,
taken of z, of the output, twice, or replaced by the activation; the hidden δ from the output
error; one path only; another neuron's output (or z) as an edge's input; the bias gradient not
summed; one sample only; t − y; the ½ applied twice; W instead of Wᵀ; ``*`` where ``@`` belongs,
as NumPy broadcasts it; the update uphill, without η, or through already-updated weights (in
training, or inside backward with the exercise's η); and, named rather than blamed, the mean instead of the
sum over samples (or the reverse), no ½ (or a ½ added), the cross-entropy or binary
cross-entropy gradient, no biases, biases never trained, η divided by the batch size.

The search (:mod:`grader.mistakes.search`; typed answers in :mod:`grader.mistakes.typed`) tries
every single part, then pairs, then triples where cheap, each size in one batched solver call,
and reports the simplest combination that reproduces every value the student gave (every entry
of every wrong typed answer; every return of every case of a function). Within one size the order of :data:`PRIORITY` decides:

- a transposed answer is exactly the right numbers in the wrong layout, the most specific finding;
- in training questions a wrong update explains every parameter at once and is indistinguishable
  from some gradient mistakes there (a flipped y − t trains exactly like +η; with η = ½ a dropped
  ½ trains exactly like a missing η), so the update step is named first;
- then the steps of the chain rule in the order a student meets them going backwards
  (activation derivative, the hidden δ, the sum over paths, the edge's input, the bias sum);
- then what scales the whole gradient (−1, ½) and the conventions (mean, no ½, cross-entropy …),
  which any other wrong number in such a ratio also produces;
- a back-propagation through an untransposed square matrix last: a shape accident that other
  mistakes explain better.

A mistake is found only where it shows (W(1) after one small step is often within 1% of the
right value whatever its gradient was, and then the answer is right). Variants that diverge give
non-finite values and are left out. When another combination gives the same value, the message
names it too ("or, giving the same value: …"). Messages name the step in the exercise's own
names and never contain a number of the answer.
"""

from __future__ import annotations

from .catalogue import CONVENTIONS, PRIORITY
from .consistency import consistent_loss
from .patterns import hard_coded, shape_error
from .search import Mistake, case_variants, diagnose_cases, diagnose_function
from .typed import diagnose, diagnose_answers, variant_answers

__all__ = ["CONVENTIONS", "Mistake", "PRIORITY", "case_variants", "consistent_loss", "diagnose", "diagnose_answers",
           "diagnose_cases", "diagnose_function", "hard_coded", "shape_error", "variant_answers"]
