"""Shared fixtures: a tiny CNN (fast exporter/runner tests) and isolated result stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


def make_tiny_cnn(num_classes: int = 10):
    """A 3×32×32 → num_classes CNN with conv, depthwise conv, BN, ReLU, pool and Linear."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),
        nn.Conv2d(8, 16, 1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes),
    ).eval()


@pytest.fixture
def tiny_cnn():
    import torch

    torch.manual_seed(0)
    return make_tiny_cnn()


@pytest.fixture
def tiny_zoo_entry():
    """Registers ``tiny_cnn`` in the zoo for one test (3×32×32 input, 10 classes)."""
    from edgebench.models.input_spec import InputSpec
    from edgebench.models.zoo import ZooEntry, zoo

    def build(num_classes: int):
        import torch

        torch.manual_seed(0)
        return make_tiny_cnn(num_classes)

    entry = ZooEntry("tiny_cnn", build, InputSpec(shape=(1, 3, 32, 32), num_classes=10),
                     "test CNN", "tests")
    zoo.add("tiny_cnn", entry)
    yield entry
    zoo.remove("tiny_cnn")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "results.db"
