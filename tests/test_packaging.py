"""The wheel works without the source tree: a fresh venv, `pip install <wheel>`, run elsewhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # build from a clean copy: the checkout's own build/ folder may hold stale files or be
    # in use by another build
    source = tmp_path_factory.mktemp("source") / "cyclerctl"
    skip = (".venv", "build", "dist", "*.egg-info", ".git", "__pycache__", "*_cache", "*.db*")
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*skip))
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("cyclerctl-*.whl")
    return built


def test_every_package_of_the_tree_is_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    inits = [p.relative_to(REPO) for p in (REPO / "cyclerctl").rglob("__init__.py")]
    inits += [
        Path("cyclerctl") / p.relative_to(REPO) for p in (REPO / "drivers").rglob("__init__.py")
    ]
    assert inits
    missing = sorted(str(p) for p in inits if str(p) not in names and "__pycache__" not in str(p))
    assert not missing, f"packages missing from pyproject's list: {missing}"


def test_wheel_installs_only_the_cyclerctl_package_with_library_and_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"cyclerctl"}
    assert "cyclerctl/drivers/base.py" in names
    assert "cyclerctl/drivers/sim/__init__.py" in names
    assert "cyclerctl/library/ncm622-cycling.toml" in names
    assert "cyclerctl/library/cells/ncm622-coin.toml" in names
    assert "cyclerctl/migrations/env.py" in names
    assert "cyclerctl/web/static/app.js" in names and "cyclerctl/web/static/app.css" in names
    assert any(n.startswith("cyclerctl/migrations/versions/") for n in names)


@pytest.mark.slow
def test_installed_wheel_runs_from_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = venv / "bin" / "pip"
    subprocess.run(
        [str(pip), "install", "-q", str(wheel)], check=True, timeout=900, capture_output=True
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    cli = str(venv / "bin" / "cyclerctl")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], cwd=work, capture_output=True, text=True, timeout=600)

    validated = run("validate", "ncm622-cycling", "--cell", "ncm622-coin")
    assert validated.returncode == 0, validated.stderr
    planned = run("plan", "ncm622-cycling", "--cell", "ncm622-coin", "--set", "cycles=3", "--json")
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["estimated_duration_s"] > 0
    done = run(
        "run",
        "ncm622-cycling",
        "--cell",
        "ncm622-coin",
        "--set",
        "cycles=2",
        "--set",
        "formation_cycles=1",
        "--db",
        "sqlite:///runs.db",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run"]["status"] == "completed"
    assert (work / "runs.db").is_file()
    # the package imports from the venv, not from a source tree
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import cyclerctl.drivers.sim, cyclerctl; print(cyclerctl.__file__)",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in where.stdout
