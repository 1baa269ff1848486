"""``python -m cyclerctl.web --config lab.toml [--db URL] [--listen HOST:PORT]``: the same
as ``cyclerctl web``, usable before (and besides) the CLI's own subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from cyclerctl.config import ConfigError, load_config
    from cyclerctl.web import add_arguments, command

    parser = argparse.ArgumentParser(prog="python -m cyclerctl.web", description=__doc__)
    parser.add_argument("--config", metavar="PATH", default=None, help="the lab's config file")
    parser.add_argument("--db", metavar="URL", default=None, help="database URL (no password)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return command(args, config)


if __name__ == "__main__":
    raise SystemExit(main())
