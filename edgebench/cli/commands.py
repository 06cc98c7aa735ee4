"""Imports every command group so that each adds its commands to the app."""

from edgebench.cli import devices, export, models, profiles, report, run  # noqa: F401
