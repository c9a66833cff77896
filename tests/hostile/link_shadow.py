# expect: load=ok forward=ok
# links: h.py->/etc/shadow
# check: helpers_refused
# Its helper module is a symlink to /etc/shadow, a root-only file.
from _linked import forward  # noqa: F401 - imports h.py beside it
