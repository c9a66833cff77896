"""grader: an autograder for backpropagation exercises."""

__version__ = "0.1.0"
