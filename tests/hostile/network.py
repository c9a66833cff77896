# expect: load=ok connect=error
# calls: connect(port)
# message: connect~Error
# needs: network namespace
# Connects to a listener that the test opened on 127.0.0.1 in the grader's network namespace.
import socket


def connect(port):
    with socket.create_connection(("127.0.0.1", int(port)), timeout=2) as s:
        s.sendall(b"hello from the sandbox")
    return 1.0
