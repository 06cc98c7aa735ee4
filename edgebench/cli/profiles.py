"""Commands of the profiles group (added as their issues land)."""

from edgebench.cli import app  # noqa: F401
