"""Commands of the export group (added as their issues land)."""

from edgebench.cli import app  # noqa: F401
