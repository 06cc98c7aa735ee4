"""Exporters: one file per format, each registering itself by name."""
