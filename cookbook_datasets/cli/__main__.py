"""``python -m cookbook_datasets.cli``: the ``cookbook`` command."""

import sys

from . import main

sys.exit(main())
