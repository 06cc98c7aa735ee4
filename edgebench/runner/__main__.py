"""``python -m edgebench.runner …`` and the entry of ``runner.pyz``."""

import sys

from edgebench.runner.protocol import main

if __name__ == "__main__":
    sys.exit(main())
