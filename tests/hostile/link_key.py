# expect: load=ok forward=ok
# links: h.py->@key
# check: helpers_refused
# Its helper module is a symlink to the exercise's answer key (solutions/…key.json).
from _linked import forward  # noqa: F401 - imports h.py beside it
