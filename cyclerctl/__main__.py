"""``python -m cyclerctl``."""

import sys

from cyclerctl.cli import main

sys.exit(main())
