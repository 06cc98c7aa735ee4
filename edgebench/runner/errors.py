"""The runner's one error type (the runner is a leaf package: it cannot use edgebench.errors)."""

from __future__ import annotations


class RunnerError(Exception):
    """A failure with the ``stage`` it happened in (args, runtime, unsupported, load, input, run,
    output) and a ``hint`` saying what to do about it (None when there is nothing useful to say)."""

    def __init__(self, stage: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return "%s: %s%s" % (self.stage, self.message, " (%s)" % self.hint if self.hint else "")


def one_line(exc: BaseException) -> str:
    """An exception as one line of at most 500 characters (native runtimes write multi-line errors)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
