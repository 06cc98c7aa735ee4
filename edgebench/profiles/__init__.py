"""Device profiles (data with sources) and the projection of a desktop measurement onto them.

- :mod:`edgebench.profiles.profiles` — loading and validating profile TOML files (core table defaults);
- :mod:`edgebench.profiles.references` — reference models and the devices' reference rows, with sources;
- :mod:`edgebench.profiles.anchored` — the projection anchored on references measured side by side;
- :mod:`edgebench.profiles.validation` — its leave-one-device-out check;
- :mod:`edgebench.profiles.workload` — a model's work split by operator class;
- :mod:`edgebench.profiles.projection` — the roofline (pure), the host-efficiency fallback and ``project_run``;
- :mod:`edgebench.profiles.calibration` — the least-squares fit of that fallback on published latencies.

Imports are lazy: ``import edgebench.profiles`` costs nothing.
"""

from __future__ import annotations

__all__ = ["load_profiles", "project_run"]


def load_profiles(extra_dirs=()):
    """Every profile by name (built-in, ``~/.config/edgebench/profiles/``, then ``extra_dirs``)."""
    from edgebench.profiles.profiles import load_profiles as _load

    return _load(extra_dirs)


def project_run(run, profiles, threads=("1-big", "all-big"), **kwargs):
    """Projections of a stored run onto ``profiles`` (see :func:`edgebench.profiles.projection.project_run`)."""
    from edgebench.profiles.projection import project_run as _project

    return _project(run, profiles, threads, **kwargs)
