"""Errors that reach a user: one line naming the stage, what went wrong and what to do."""

from __future__ import annotations


class EdgebenchError(Exception):
    """An error a user can act on.

    ``stage`` names the pipeline stage (``load``, ``export``, ``parity``, ``deploy``, ``run``,
    ``config``, ``store`` …); ``hint`` says what to do about it. ``str(err)`` is the one line the
    CLI prints.
    """

    stage = "edgebench"

    def __init__(self, message: str, *, hint: str | None = None, stage: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if stage is not None:
            self.stage = stage

    def __str__(self) -> str:
        line = f"{self.stage}: {self.message}"
        if self.hint:
            line += f" — {self.hint}"
        return " ".join(line.split("\n"))


class ConfigError(EdgebenchError):
    """A flag, spec file, profile or devices file is wrong."""

    stage = "config"


class LoadError(EdgebenchError):
    """A model or checkpoint could not be loaded."""

    stage = "load"


class ExportError(EdgebenchError):
    """A converter failed or rejected an operator."""

    stage = "export"


class UnsupportedError(EdgebenchError):
    """A (format, variant, target) combination cannot be done; becomes an 'unsupported' row."""

    stage = "unsupported"


class TargetError(EdgebenchError):
    """A device could not be reached, deployed to or run on."""

    stage = "deploy"


class RunError(EdgebenchError):
    """Measuring an artifact failed."""

    stage = "run"
