"""Library errors. The CLI turns each into an ``Error: …`` line and an exit status."""


class GraderError(Exception):
    """Base class: something the user can fix. ``exit_code`` is the CLI's exit status."""

    exit_code = 2


class UsageError(GraderError):
    """Bad command-line usage (a missing option, an unknown exercise)."""


class SpecError(GraderError):
    """An exercise spec is invalid. The message names the file and the JSON path."""


class AnswersError(GraderError):
    """An answers file cannot be read as a whole (broken JSON, wrong top level)."""


class SubmissionError(GraderError):
    """A submission file cannot be read (missing, not Python, broken notebook)."""


class SubmissionSyntaxError(SubmissionError):
    """A submission that is readable but does not compile: graded (0 points, the error shown)."""


class SandboxUnavailable(GraderError):
    """The sandbox cannot grade safely here (``--isolation strict`` or a failed worker)."""

    exit_code = 3
