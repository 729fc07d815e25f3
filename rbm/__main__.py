"""``python -m rbm``: the ``rbm`` command line (see :mod:`rbm.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
