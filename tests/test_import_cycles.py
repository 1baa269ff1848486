"""Imports go one way, down the map (DESIGN.md): no two modules of the package import each other.

Every module of the installed package is read with ``ast`` from the folders pyproject's
``[tool.setuptools.package-dir]`` maps (``cyclerctl/``, ``drivers/`` as ``cyclerctl.drivers``, …).
What counts as an import of module B by module A:

- every ``import``/``from … import`` statement anywhere in A: at module level, inside functions
  and methods (a lazy import still runs, only later) and under ``if TYPE_CHECKING:`` (a type-only
  import back up the map is still a dependency on the layer above);
- ``from P import n`` is an import of ``P.n`` when that is a module of the package, else of ``P``;
- the parent packages Python runs on the way (``import a.b.c`` also runs ``a/b/__init__``) do
  not count, as in grimp/import-linter: otherwise every package whose ``__init__`` re-exports
  from its submodules would be a cycle with each of them.

A cycle is a strongly connected component of that graph with more than one module.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Cycles tolerated for now: each entry is a package prefix, and a cycle is allowed only if
# every module in it lies under that prefix. None: every cycle fails the suite.
ALLOWED_CYCLES_UNDER: tuple[str, ...] = ()


def package_roots(repo: Path) -> dict[str, Path]:
    """Import name → folder, for the package and every folder pyproject maps into it."""
    config = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    mapped = config["tool"]["setuptools"].get("package-dir", {})
    roots = {"cyclerctl": repo / "cyclerctl"}
    roots.update({name: repo / folder for name, folder in mapped.items()})
    return roots


def modules(repo: Path) -> dict[str, Path]:
    """Every module of the package by its import name (a package by its ``__init__.py``)."""
    found: dict[str, Path] = {}
    for name, root in package_roots(repo).items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([name, *parts])] = path
    return found


def imported_modules(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every module of ``known`` the file imports, at any depth, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, source] if source else base)
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    yield f"{source}.{alias.name}"
                elif source in known:
                    yield source


def import_graph(repo: Path) -> dict[str, set[str]]:
    """Module → the modules of the package it imports."""
    known = modules(repo)
    return {
        name: set(imported_modules(name, path, set(known))) - {name} for name, path in known.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _allowed(component: list[str]) -> bool:
    return any(
        all(m == prefix or m.startswith(prefix + ".") for m in component)
        for prefix in ALLOWED_CYCLES_UNDER
    )


def test_the_package_has_no_import_cycle() -> None:
    found = cycles(import_graph(REPO))
    unexpected = [c for c in found if not _allowed(c)]
    assert not unexpected, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in unexpected)


def test_the_check_sees_modules_of_every_mapped_folder_and_lazy_imports() -> None:
    known = modules(REPO)
    assert "cyclerctl.cli" in known and "cyclerctl.drivers.base" in known
    assert "cyclerctl.drivers.sim" in known  # drivers/ is read under its installed name
    graph = import_graph(REPO)
    # cyclerctl.cli imports its command modules at the top; the run command imports the
    # engine only inside its handler: both are edges
    assert "cyclerctl.cli.run" in graph["cyclerctl.cli"]
    assert "cyclerctl.engine.session" in graph["cyclerctl.cli.run"]


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools.package-dir]\n"cyclerctl.drivers" = "drivers"\n', encoding="utf-8"
    )
    (tmp_path / "cyclerctl").mkdir()
    (tmp_path / "drivers").mkdir()
    (tmp_path / "cyclerctl" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "cyclerctl" / "cli.py").write_text(
        "from cyclerctl.drivers import base\n", encoding="utf-8"
    )
    (tmp_path / "drivers" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "drivers" / "base.py").write_text(
        "def f() -> None:\n    from ..cli import main\n", encoding="utf-8"
    )
    (tmp_path / "drivers" / "sim.py").write_text("from . import base\n", encoding="utf-8")
    found = cycles(import_graph(tmp_path))
    assert found == [["cyclerctl.cli", "cyclerctl.drivers.base"]]


if __name__ == "__main__":  # `python tests/test_import_cycles.py [REPO]`: list every cycle
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO
    for component in cycles(import_graph(root)):
        print(" ↔ ".join(component))
