# expect: load=ok forward=ok
# links: h.py->@fifo
# check: helpers_refused
# Its helper module is a FIFO: opening it to read would block the grader forever.
from _linked import forward  # noqa: F401 - imports h.py beside it
