"""Commands of the devices group (added as their issues land)."""

from edgebench.cli import app  # noqa: F401
