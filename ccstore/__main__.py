"""``python -m ccstore``: the command line (see :mod:`ccstore.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
