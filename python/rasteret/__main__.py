"""``python -m rasteret``: the command line."""

import sys

from rasteret.cli import main

sys.exit(main())
