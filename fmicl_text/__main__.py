import sys

from fmicl_text.cli import main

sys.exit(main())
