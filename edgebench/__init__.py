"""edgebench: take trained PyTorch vision checkpoints to phones and measure them honestly."""

__version__ = "0.1.0"
