# expect: load=ok forward=error
# message: forward~EOFError
# Waits for input that never comes: stdin is /dev/null.


def forward(x, W1, b1, W2, b2):
    return input("answer? ")
