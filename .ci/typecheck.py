"""mypy over the source tree, each file under the name it has once installed.

    .venv/bin/python .ci/typecheck.py cyclerctl drivers tests bench

Same arguments and [tool.mypy] settings as ``mypy``. Why not plain ``mypy``: pyproject maps
folders into the package ([tool.setuptools.package-dir], e.g. ``drivers/`` → ``cyclerctl.drivers``).
The wheel copies them there; an editable install serves them through setuptools' import hook,
which a static checker cannot follow (python/mypy#13392, pypa/setuptools#3518); and mypy names
a file by its folders, so ``drivers/base.py`` would be ``drivers.base`` and every
``import cyclerctl.drivers.base`` would be unresolved. Neither ``mypy_path`` nor
``explicit_package_bases`` can rename a folder (measured: both still report import-not-found).
This runs mypy's own build (``mypy.build.build``) on the files ``mypy`` would find, renamed by
that same mapping: each file is checked once, under its installed name, errors at its real path.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from mypy import build
from mypy.errors import CompileError
from mypy.main import process_options
from mypy.modulefinder import BuildSource
from mypy.options import Options

REPO = Path(__file__).resolve().parent.parent


def package_dirs(repo: Path = REPO) -> dict[Path, str]:
    """Folder → the package name it is installed as, from pyproject."""
    config = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    mapped = config["tool"]["setuptools"].get("package-dir", {})
    return {(repo / folder).resolve(): name for name, folder in mapped.items() if name}


def installed_name(source: BuildSource, mapping: dict[Path, str]) -> BuildSource:
    if source.path is None:
        return source
    path = Path(source.path).resolve()
    for folder, package in mapping.items():
        if path.is_relative_to(folder):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            module = ".".join([package, *parts])
            return BuildSource(source.path, module, source.text, source.base_dir, source.followed)
    return source


def main(argv: list[str]) -> int:
    sources, options = process_options(argv, stdout=sys.stdout, stderr=sys.stderr)
    code = _check(sources, options)
    if options.fast_exit:  # as mypy does: skip freeing its whole heap at exit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _check(sources: list[BuildSource], options: Options) -> int:
    mapping = package_dirs()
    sources = [installed_name(s, mapping) for s in sources]
    try:
        messages = build.build(sources, options, stdout=sys.stdout, stderr=sys.stderr).errors
    except CompileError as exc:
        messages = exc.messages
    for line in messages:
        print(line)
    errors = [m for m in messages if ": error:" in m]
    files = {m.split(":", 1)[0] for m in errors}
    if errors:
        print(
            f"Found {len(errors)} error{'s' * (len(errors) != 1)} in {len(files)} "
            f"file{'s' * (len(files) != 1)} (checked {len(sources)} source files)"
        )
        return 1
    print(f"Success: no issues found in {len(sources)} source files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
