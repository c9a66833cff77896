"""``python -I grader/sandbox/_worker``: the sandbox worker, standalone.

Run as a directory, this file is ``__main__`` and the directory is ``sys.path[0]``; it puts the
directory's parent there instead and imports the package as the top-level ``_worker``, so that
nothing of ``grader`` (its ``__init__``, its other modules) is ever imported.
"""

import os
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    from _worker.server import main

    main()
