"""The sandbox worker, a standalone package run as ``python -I grader/sandbox/_worker``.

It never imports ``grader`` and never receives an exercise, a key or a secret: the grader sends
it a submission's source and the inputs of each call, nothing else. It imports NumPy once and
forks one long-lived *supervisor*, which reads every submission and runs it; the worker itself
stays a *zygote* (zygote.py): on the supervisor's request it forks each submission's PID
namespace init and one *child* per run of the student's module code, and reaps and kills them.
So no process that ever held a submission forks a child (a later child cannot find an earlier
student's code in its memory), and a submission costs two forks, not a Python start. Both
happen ahead of time: the next submission's init and child are forked, and the child isolates
itself, while the current submission runs.

Processes::

    grader (parent) --pipes--> supervisor (one, long-lived) --socket--> worker (zygote)
    worker --fork--> init (pid 1 of a submission's PID namespace)
    worker --fork, into that namespace--> child (student code) <--pipes--> supervisor

Modules: ``framing`` (the protocol), ``linux`` (ctypes primitives), ``layers`` (one module per
isolation layer, one interface, one table), ``plan`` (what the worker prepares once), ``child``
(isolation in the child), ``harness`` (the student's module and its calls), ``supervisor``,
``procs`` (descendants, reaping, scratch), ``slots`` (the supervisor's side of the zygote),
``kept`` (the class's calls and arrays, sent to the supervisor once),
``zygote`` (the worker forking, reaping and killing), ``server`` (the worker's start), ``__main__``.

The child isolates itself before any student code runs, then reports what it applied. It
returns results as framed ``.npy`` bytes on a dedicated fd; the supervisor checks the framing
and enforces CPU and wall time, the parent decodes and validates every byte. Nothing is ever
pickled, and no verdict comes from the child.

The grader imports this package for its framing constants and layer names; importing it has
no side effects.
"""

from .framing import *  # noqa: F403 - the protocol, for the grader's side
from .layers import CHILD_LAYERS, LAYERS, TABLE  # noqa: F401
