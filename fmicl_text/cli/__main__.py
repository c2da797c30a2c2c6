"""``python -m fmicl_text.cli`` (as ``python -m fmicl_text``)."""

import sys

from fmicl_text.cli import main

sys.exit(main())
