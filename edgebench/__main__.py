"""``python -m edgebench`` is the ``edgebench`` command."""

from edgebench.cli import main

main()
