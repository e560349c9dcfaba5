"""`python -m localbatch run script.py`, the same as the `localbatch` command."""

import sys

from localbatch.cli import main

sys.exit(main())
