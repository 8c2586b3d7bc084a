"""``python -m codeindex``: the ``codeindex`` command."""

import sys

from codeindex.cli import main

sys.exit(main())
