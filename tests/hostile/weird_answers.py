# expect: load=ok
# check: answers_passed_through
# ANSWERS with NumPy values, an object that claims to be equal to everything, and NaN: the
# sandbox passes its JSON text through; the grader's strict reader judges it.
import numpy as np


class AlwaysEqual:
    def __eq__(self, other):
        return True


ANSWERS = {"a": np.float64(0.75), "b": np.array([[1.0, 2.0]]), "c": AlwaysEqual(), "d": float("nan"),
           "e": "8.22e-2"}
