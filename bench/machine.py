"""What machine a figure was measured on, printed with every benchmark table."""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} cores{mem}; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )


Rows = list[tuple[str, str]]


def print_rows(rows: Rows) -> None:
    """The benchmark table: names padded to one column, then the figures."""
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def standalone(
    prog: str, quick_help: str, table: Callable[[bool], Rows], argv: list[str] | None
) -> None:
    """``python -m bench.<one> [--quick]``: the machine, then that benchmark's table."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args(argv)
    print(f"machine: {describe()}")
    print_rows(table(args.quick))
