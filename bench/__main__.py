"""``python -m bench [--quick]``: print each figure, its baseline and the machine."""

from __future__ import annotations

import argparse

from bench import (
    daemon,
    daemon_memory,
    dry_run,
    export,
    importer,
    ingest,
    readback,
    scale,
    tui,
    web,
)
from bench.machine import describe, print_rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, so CI can check the benchmarks still run"
    )
    args = parser.parse_args()
    print(f"machine: {describe()}")
    rows = dry_run.run(cycles=3 if args.quick else 100)
    rows += daemon.run(channels=4 if args.quick else 64, window_s=5.0 if args.quick else 30.0)
    rows += export.run(export.QUICK_POINTS if args.quick else export.FULL_POINTS)
    rows += ingest.table(args.quick)
    rows += readback.table(args.quick)
    rows += daemon_memory.table(args.quick)
    rows += scale.table(args.quick)  # issue 20: many channels on one daemon
    rows += importer.table(args.quick)
    rows += tui.table(args.quick)  # in its own process, bounded in time
    rows += web.table(args.quick)  # likewise (a server thread and a headless browser)
    print_rows(rows)


if __name__ == "__main__":
    main()
