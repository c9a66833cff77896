"""The sandbox worker, a standalone package run as ``python -I grader/sandbox/_worker``.

It never imports ``grader`` and never receives an exercise, a key or a secret: the grader sends
it a submission's source and the inputs of each call, nothing else. It imports NumPy once, then
for every submission forks a *supervisor*, which reads that submission and forks one *child*
per run of the student's module code. So the worker's own memory never holds any submission
(a later child cannot find an earlier student's code), and a submission costs two forks, not a
Python start. Both forks happen ahead of time: the next supervisor is forked while the current
submission runs, and it forks and isolates its first child before its submission arrives.

Processes::

    grader (parent) --pipes--> worker --fork--> supervisor --fork--> child (student code)

Modules: ``framing`` (the protocol), ``linux`` (ctypes primitives), ``layers`` (one module per
isolation layer, one interface, one table), ``plan`` (what the worker prepares once), ``child``
(isolation in the child), ``harness`` (the student's module and its calls), ``supervisor``,
``procs`` (descendants, reaping, scratch), ``server`` (the worker's main loop), ``__main__``.

The child isolates itself before any student code runs, then reports what it applied. It
returns results as framed ``.npy`` bytes on a dedicated fd; the supervisor checks the framing
and enforces CPU and wall time, the parent decodes and validates every byte. Nothing is ever
pickled, and no verdict comes from the child.

The grader imports this package for its framing constants and layer names; importing it has
no side effects.
"""

from .framing import *  # noqa: F403 - the protocol, for the grader's side
from .layers import CHILD_LAYERS, LAYERS, TABLE  # noqa: F401
