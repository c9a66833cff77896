"""The ``grade`` command (and ``python -m grader``): the sandbox worker of a ``grade FILE`` of
code is spawned before anything else is imported (:mod:`grader.prespawn`), then the CLI runs."""

import sys

from . import prespawn


def main() -> int:
    prespawn.spawn(sys.argv[1:])
    from .cli import main as cli_main

    return cli_main()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
