"""Exercise specs: load JSON, validate against the packaged schema, compile to dataclasses.

Every error is a :class:`~grader.errors.SpecError` whose message starts with the file and the
JSON path (``tutorial.json: questions[3].given.x9: …``). Names live in one namespace (neurons,
pre-activations, parameters, layer names and ``E``); a duplicate names both places.

The stages, one module each: :mod:`.schema` (JSON Schema validation), :mod:`.names` (spellings,
``dA/dB``, hints for unknown names), :mod:`.compiler` (the network and data), :mod:`.questions`,
:mod:`.functions` (the ``functions`` section), :mod:`.check` (every problem, for ``grade
validate``), :mod:`.files` (reading files, bundled exercises), :mod:`.catalog` (exercises by id);
:mod:`.model` holds the dataclasses.
"""

from __future__ import annotations

from .check import check_spec
from .compiler import compile_spec
from .catalog import add_dirs
from .files import bundled, exercises_folder, find, find_id, load, load_exercise, read_spec
from .model import (
    ACTIVATIONS, CODE_ATOL, CODE_RTOL, DEFAULT_ATOL, DEFAULT_RTOL, EXERCISE_CASE, LOSSES, MAX_WEIGHTS, Case, Exercise,
    Function, Network, Parameter, Quantity, Question, Ref, Tolerance,
)
from .names import did_you_mean, lookup, normalise_name, parse_ask
from .schema import schema, validate

__all__ = [
    "ACTIVATIONS", "CODE_ATOL", "CODE_RTOL", "DEFAULT_ATOL", "DEFAULT_RTOL", "EXERCISE_CASE", "LOSSES", "MAX_WEIGHTS", "Case",
    "Exercise", "Function", "Network", "Parameter", "Quantity", "Question", "Ref", "Tolerance", "add_dirs", "bundled",
    "check_spec", "compile_spec", "did_you_mean", "exercises_folder", "find", "find_id", "load", "load_exercise",
    "lookup", "normalise_name", "parse_ask", "read_spec", "schema", "validate",
]
