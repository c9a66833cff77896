# expect: load=ok forward=ok
# links: h.py->/proc/self/environ
# check: helpers_refused
# A folder submission whose helper module is a symlink to /proc/self/environ: read by the grader
# (root), it would bring GRADER_SECRET back in the report. It must be refused, the rest graded.
from _linked import forward  # noqa: F401 - imports h.py beside it
