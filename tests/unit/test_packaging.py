"""What `pip install .` (and so the container image) ships: every package of the source tree and every data file
the code reads. An editable install hides a package left out; this does not."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _packages_on_disk() -> set[str]:
    return {".".join(init.parent.relative_to(ROOT).parts) for top in ("bot", "handlers")
            for init in (ROOT / top).rglob("__init__.py")}


def test_every_package_is_shipped() -> None:
    shipped = set(find_packages(where=str(ROOT), include=SETUPTOOLS["packages"]["find"]["include"]))
    assert _packages_on_disk() - shipped == set()


def test_every_data_file_is_shipped() -> None:
    patterns: dict[str, list[str]] = SETUPTOOLS["package-data"]
    missing = []
    for package in _packages_on_disk():
        folder = ROOT.joinpath(*package.split("."))
        for path in folder.iterdir():
            if path.is_file() and path.suffix not in (".py", ".pyc") and not any(
                    fnmatch.fnmatch(path.name, pattern) for pattern in patterns.get(package, [])):
                missing.append(f"{package}/{path.name}")
    assert missing == []
