"""requirements.txt, pyproject.toml and environment.yml pin the same versions."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from helpers.config import PROJECT_ROOT

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)$")


def _normalise(name: str) -> str:
    """Package name as pip compares them (PEP 503): lower case, runs of -_. as -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str], source: str) -> dict[str, str]:
    """Map normalised names to versions; raise on a line not ``name==version``."""
    pins: dict[str, str] = {}
    for line in lines:
        match = PIN.match(line.strip())
        if match is None:
            raise ValueError(f"{source}: {line!r} is not an exact name==version pin")
        name = _normalise(match["name"])
        if name in pins:
            raise ValueError(f"{source}: {match['name']} is pinned twice")
        pins[name] = match["version"]
    return pins


@pytest.fixture(scope="module")
def requirements() -> dict[str, str]:
    text = (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8")
    lines = [
        line for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    return _pins(lines, "requirements.txt")


@pytest.fixture(scope="module")
def environment() -> dict:
    with open(PROJECT_ROOT / "environment.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)


def test_requirements_every_line_pinned(requirements):
    assert len(requirements) > 100  # the full lock, not only the direct dependencies
    assert requirements["torch"] == "2.13.0"


def test_environment_yml_conda_settings(environment):
    assert environment["name"] == "movie-recommendation-ai"
    assert environment["channels"] == ["conda-forge"]
    conda_packages = [d for d in environment["dependencies"] if isinstance(d, str)]
    assert conda_packages == ["python=3.11", "pip"]


def test_environment_yml_pip_matches_requirements(environment, requirements):
    sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert len(sections) == 1
    pins = _pins(sections[0], "environment.yml")
    assert set(pins.items()) == set(requirements.items())


def test_pyproject_pins_torch_2_13_0(pyproject):
    assert "torch==2.13.0" in pyproject["project"]["dependencies"]


def test_pyproject_pins_match_requirements(pyproject, requirements):
    project = pyproject["project"]
    listed = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        listed += extra
    pins = _pins(listed, "pyproject.toml")
    mismatched = {
        name: (version, requirements.get(name))
        for name, version in pins.items()
        if requirements.get(name) != version
    }
    assert mismatched == {}
