# expect: load=ok probe=ok
# calls: probe()
# check: host_sockets_unreachable
# needs: filesystem view, network namespace
# Connects to Unix sockets of root on the host: a listener on a 0777 socket under /tmp (by path)
# and one on an abstract name. Neither may be reachable. The names come from a helper module
# that the test writes beside it (socket_targets.py).
import socket

import socket_targets


def _connect(address):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(address)
        s.sendall(b"hello from a submission")
        return 1
    except OSError:
        return 0
    finally:
        s.close()


def probe():
    return float(_connect(socket_targets.PATH) + _connect("\0" + socket_targets.ABSTRACT))
