"""The service package installs beside the FastAPI a team already runs: its declared ranges hold at
their oldest end too. The package's own tests run again on Python 3.10 with the oldest versions
(instrumentation/requirements-oldest.txt, installed by `make test` into .venv-oldest); the newest
end is the project's own pins, on which they run in the suite itself."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "instrumentation"
OLDEST = ROOT / ".venv-oldest" / "bin" / "python"


DEPENDENCIES = ("fastapi", "starlette", "prometheus-client", "opentelemetry-api")


def _pins(path: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return dict(line.split("==") for line in lines if line)


def test_the_oldest_pins_are_the_lower_bounds_the_package_declares():
    declared = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    ranges = [*declared["dependencies"], *(spec for extra in declared["optional-dependencies"].values() for spec in extra)]
    lower = {spec.split(">=")[0]: spec.split(">=")[1].split(",")[0] for spec in ranges}
    oldest = _pins(PACKAGE / "requirements-oldest.txt")
    assert lower == {name: oldest[name] for name in lower}
    assert all(",<" in spec for spec in ranges)  # an upper bound: the next major is not assumed to work


def test_the_package_tests_pass_with_its_oldest_dependencies():
    if not OLDEST.exists():
        pytest.fail(".venv-oldest is missing: `make test` installs it (make .venv-oldest/.installed)")
    version = subprocess.run([OLDEST, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, check=True, timeout=60)
    env = {**os.environ, "PYTHONPATH": str(PACKAGE / "src")}
    proc = subprocess.run(
        [OLDEST, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(PACKAGE), str(PACKAGE / "tests")],
        cwd=PACKAGE, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, f"on Python {version.stdout.strip()}:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
    assert " passed" in proc.stdout and "skipped" not in proc.stdout


def _resolve(python: Path | str, package: Path, pins: dict[str, str]) -> tuple[dict[str, str], str]:
    """pip's resolver, as `pip install` runs it, for the package with both extras beside `pins`
    (nothing installed: a dry run against the package index). The versions it would install, or
    its error."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        proc = subprocess.run(
            [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
             f"{package}[fastapi,otel]", *(f"{name}=={version}" for name, version in pins.items())],
            capture_output=True, text=True, timeout=600, cwd=tmp,
        )  # fmt: skip
        if proc.returncode:
            return {}, proc.stderr
        installed = json.loads(report.read_text())["install"]
        return {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"] for i in installed}, ""


def _bounds() -> dict[str, tuple[Path | str, dict[str, str]]]:
    oldest = _pins(PACKAGE / "requirements-oldest.txt")
    # The newest: what the project's own suite runs the package on.
    newest = {name: importlib.metadata.version(name) for name in DEPENDENCIES}
    return {"oldest": (OLDEST, {n: oldest[n] for n in DEPENDENCIES}), "newest": (sys.executable, newest)}


@pytest.mark.parametrize("bound", ["oldest", "newest"])
def test_pip_installs_the_package_beside_each_end_of_its_ranges(bound: str):
    """The reported failure was an install, not an import: exact pins made `pip install` beside
    fastapi 0.115.0 fail with ResolutionImpossible. Here pip resolves the package beside the oldest
    and the newest supported versions, on the Python of each end, and keeps them as they are."""
    python, pins = _bounds()[bound]
    if not Path(python).exists():
        pytest.fail(".venv-oldest is missing: `make test` installs it (make .venv-oldest/.installed)")
    resolved, error = _resolve(python, PACKAGE, pins)
    assert error == "", error
    assert {name: resolved[name] for name in pins} == pins
    assert resolved["eks-observability-service-contract"] == tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["version"]


def test_the_install_check_catches_exact_pins(tmp_path: Path):
    """Planted: the package pinning the newest starlette exactly, as it used to, cannot be
    installed beside the oldest FastAPI, and the check says so."""
    planted = tmp_path / "package"
    shutil.copytree(PACKAGE, planted, ignore=shutil.ignore_patterns("tests", "benchmarks", "examples", "*.egg-info", "build"))
    pyproject = planted / "pyproject.toml"
    starlette = importlib.metadata.version("starlette")
    pyproject.write_text(re.sub(r'"starlette>=[^"]+"', f'"starlette=={starlette}"', pyproject.read_text()))
    python, pins = _bounds()["oldest"]
    resolved, error = _resolve(sys.executable, planted, {"fastapi": pins["fastapi"]})
    assert resolved == {} and "ResolutionImpossible" in error, error
