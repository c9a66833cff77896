# expect: load=ok forward=ok
# links: h.py->@hardlink
# check: helpers_refused
# Its helper module is a hard link to a copy of the answer key outside the submission's folder.
from _linked import forward  # noqa: F401 - imports h.py beside it
