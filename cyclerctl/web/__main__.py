"""``python -m cyclerctl.web …``: the same as ``cyclerctl web …``."""

from __future__ import annotations

import sys

from cyclerctl.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["web", *sys.argv[1:]]))
