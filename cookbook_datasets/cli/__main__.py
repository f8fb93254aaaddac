"""``python -m cookbook_datasets.cli``: the ``cookbook`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
