"""Contract tests run on two workers in `make test-fast` (``-n 2 --dist loadgroup``): every test that
uses one format's export ``matrix`` joins that format's xdist group, so each format's matrix is
built once, on one worker."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "matrix" in params:
            item.add_marker(pytest.mark.xdist_group(f"matrix-{params['matrix']}"))
