"""The lock and the image stay in step with pyproject.toml: pure file parsing, no network."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK_TEXT = (ROOT / "requirements.lock").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")

# The image runs CPython 3.11 on Linux, built for both architectures.
TARGETS = {
    arch: {
        "python_version": "3.11",
        "python_full_version": "3.11.16",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": arch,
    }
    for arch in ("x86_64", "aarch64")
}


@dataclass(frozen=True)
class Pin:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> Version:
        (spec,) = self.requirement.specifier
        return Version(spec.version)

    def applies_to(self, environment: dict[str, str]) -> bool:
        marker = self.requirement.marker
        return marker is None or marker.evaluate(environment)


def parse_lock(text: str) -> list[Pin]:
    """One Pin per requirement line of the lock, its continuation lines (hashes) joined on."""
    logical = re.sub(r"\\\n", " ", text)
    pins = []
    for line in logical.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = tuple(HASH.findall(line))
        requirement = HASH.sub("", line).strip()
        pins.append(Pin(Requirement(requirement), hashes))
    return pins


PINS = parse_lock(LOCK_TEXT)


def declared(requirements: list[str]) -> list[Requirement]:
    return [Requirement(r) for r in requirements]


RUNTIME = declared(PYPROJECT["project"]["dependencies"])
IMAGE_TOOLS = declared(PYPROJECT["dependency-groups"]["image"])
BUILD = declared(PYPROJECT["build-system"]["requires"])


def test_every_lock_entry_is_an_exact_pin_with_hashes() -> None:
    assert len(PINS) > 20
    for pin in PINS:
        specifiers = list(pin.requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{pin.requirement} is not an exact pin"
        assert pin.hashes, f"{pin.requirement} carries no --hash"


def test_lock_names_no_index_and_no_local_path() -> None:
    options = [line for line in LOCK_TEXT.splitlines() if line.lstrip().startswith("-") and "--hash" not in line]
    assert options == []
    assert not re.search(r"https?://|file:", LOCK_TEXT)


@pytest.mark.parametrize("arch", sorted(TARGETS))
@pytest.mark.parametrize("requirement", RUNTIME + IMAGE_TOOLS + BUILD, ids=lambda r: str(r).replace(" ", ""))
def test_lock_pins_each_declared_dependency_within_its_floor(requirement: Requirement, arch: str) -> None:
    environment = TARGETS[arch]
    if requirement.marker is not None and not requirement.marker.evaluate(environment):
        pytest.skip(f"{requirement} does not apply on {arch}")
    name = canonicalize_name(requirement.name)
    applicable = [pin for pin in PINS if pin.name == name and pin.applies_to(environment)]
    assert len(applicable) == 1, f"{name}: expected one pin for CPython 3.11 on {arch}, found {applicable}"
    assert requirement.specifier.contains(applicable[0].version, prereleases=True), (
        f"{name}=={applicable[0].version} in the lock does not satisfy {requirement}"
    )


def test_lock_header_carries_the_command_that_regenerates_it_and_the_readme_shows_it() -> None:
    header = [line.lstrip("# ").strip() for line in LOCK_TEXT.splitlines()[:3] if line.startswith("#")]
    commands = [line for line in header if line.startswith("uv pip compile")]
    assert len(commands) == 1, header
    assert "--generate-hashes" in commands[0] and "--output-file requirements.lock" in commands[0]
    assert commands[0] in (ROOT / "README.md").read_text()


def dockerfile_instructions() -> list[str]:
    """Instructions of the Dockerfile, continuation lines joined and comments dropped."""
    lines = [line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_dockerfile_pins_its_base_image_by_digest() -> None:
    froms = [line for line in dockerfile_instructions() if line.upper().startswith("FROM ")]
    assert len(froms) == 1, froms
    assert re.fullmatch(r"FROM python:3\.11-slim(-[a-z]+)?@sha256:[0-9a-f]{64}", froms[0]), froms[0]


def test_dockerfile_installs_dependencies_only_from_the_lock() -> None:
    instructions = dockerfile_instructions()
    copy_lock = next(i for i, line in enumerate(instructions) if re.match(r"COPY requirements\.lock\b", line))
    pip_installs = [
        (i, command.strip())
        for i, line in enumerate(instructions)
        if line.startswith("RUN ")
        for command in re.split(r"&&|;", line[4:])
        if re.match(r"\s*(python -m )?pip install\b", command)
    ]
    assert len(pip_installs) == 2, pip_installs
    (lock_at, from_lock), (_, project) = pip_installs
    assert lock_at > copy_lock
    assert from_lock.split() == ["pip", "install", "--require-hashes", "-r", "requirements.lock"]
    # costbot itself: nothing resolved, nothing fetched (the build uses the locked setuptools).
    assert project.split() == ["pip", "install", "--no-deps", "--no-build-isolation", "."]
