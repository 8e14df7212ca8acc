"""The service package installs beside the FastAPI a team already runs: its declared ranges hold at
their oldest end too. The package's own tests run again on Python 3.10 with the oldest versions
(instrumentation/requirements-oldest.txt, installed by `make test` into .venv-oldest); the newest
end is the project's own pins, on which they run in the suite itself."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "instrumentation"
OLDEST = ROOT / ".venv-oldest" / "bin" / "python"


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
