# expect: load=error forward=error
# message: load~ZeroDivisionError
# message: load~File "raise_at_import.py", line 8, in helper
# The module code fails at import; every call is reported as not run.


def helper():
    return 1 / 0


VALUE = helper()
