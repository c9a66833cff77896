"""grader: an autograder for backpropagation exercises."""

from ._about import DEFAULT_EXERCISE, __version__

__all__ = ["DEFAULT_EXERCISE", "__version__", "check"]


def check(exercise=None, function=None, *, answers=None, show_expected=False, isolation="best-effort"):
    """Grade, inside a notebook, the functions defined so far (or one), or typed ``answers``.

    ``grader.check("tutorial-4")``, ``grader.check("tutorial-4", "backward")``,
    ``grader.check("tutorial-4-output-layer", answers={"w6": "(y1 - t1) * y1 * (1 - y1) * o2"})``.
    The functions run in the sandbox, as ``grade notebook.ipynb`` runs them; the report shows
    as HTML in Jupyter, JupyterLab, VS Code and Colab, and as text elsewhere.
    """
    from .notebook import check as _check  # imported on use: `import grader` stays cheap for the CLI

    return _check(exercise, function, answers=answers, show_expected=show_expected, isolation=isolation,
                  _depth=3)
