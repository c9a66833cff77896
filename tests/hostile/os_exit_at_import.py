# expect: load=no_result forward=no_result
# message: load~exited before returning a result
import os

print("leaving")
os._exit(0)
