# expect: load=ok forward=invalid_output sigmoid=invalid_output
# message: forward~not a number or an array
# An object that claims to equal everything, returned where arrays are expected.


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __float__(self):
        return 0.5


def forward(x, W1, b1, W2, b2):
    return AlwaysEqual(), AlwaysEqual()


def sigmoid(z):
    return AlwaysEqual()
