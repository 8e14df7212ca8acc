"""Shared fixtures: run the real program under the Pulumi mock runtime and inspect what it registers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.conventions import REDACTED, SECRET_CONFIG_KEYS  # noqa: E402
from tests.stackfixtures import fixture_values, to_pulumi_config  # noqa: E402
from tools.mockrun import RunResult, load_stack_file, run_program, with_redacted_secrets  # noqa: E402
from tools.render import render  # noqa: E402

# ../shared/schemas beside the project (CI), else $SHARED_SCHEMAS_DIR, else what `make schemas` fetched.
SHARED_SCHEMAS = next(
    (
        p
        for p in (ROOT.parent / "shared" / "schemas", Path(os.environ.get("SHARED_SCHEMAS_DIR", "/nonexistent")), ROOT / ".schemas")
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "schemas",
)
# Every run, in-process or in a subprocess (a clone rendered by `make diff`), reads the pinned charts from
# the mirror beside the project when it is there, never from the network.
if (ROOT.parent / "shared" / "charts").is_dir():
    os.environ.setdefault("CHARTS_DIR", str(ROOT.parent / "shared" / "charts"))
# The fixture's services, in fixture order (tests/fixtures/base.yaml).
FLEET = [service["name"] for service in fixture_values()["services"]]
STACK_FILES = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


@pytest.fixture
def make_config() -> Callable[..., dict[str, Any]]:
    """`make_config(stack="dev", **overrides)`: the fixture config (`prod` adds the prod overlay) with
    keys deep-merged over it. Tests never read the user's stack files for this."""

    def factory(stack: str = "dev", **overrides: Any) -> dict[str, Any]:
        return fixture_values(*(("prod",) if stack == "prod" else ()), **overrides)

    return factory


@pytest.fixture
def run() -> Callable[..., RunResult]:
    """`run(values, secrets=None, stack="dev", check=True)`: run __main__.py under mocks with these config values.

    `secrets` maps secret keys to values given as Pulumi secrets; None sets every one (to the marker)."""

    def runner(values: dict[str, Any], secrets: dict[str, str] | None = None, stack: str = "dev", check: bool = True) -> RunResult:
        if secrets is None:  # as an operator who has set every secret
            secrets = {key: REDACTED for key in SECRET_CONFIG_KEYS}
        config, secret_keys = to_pulumi_config(values, secrets)
        return run_program(config, secret_keys, stack=stack, check=check)

    return runner


def run_fixture(stack: str) -> RunResult:
    """The program run on the fixture config of `stack` (dev or prod), every secret set."""
    config, secret_keys = to_pulumi_config(
        fixture_values(*(("prod",) if stack == "prod" else ())), {key: REDACTED for key in SECRET_CONFIG_KEYS}
    )
    return run_program(config, secret_keys, stack=stack)


def run_stack_file(stack: str) -> RunResult:
    """The program run on the user's `Pulumi.<stack>.yaml`, every secret set."""
    config, secret_keys = with_redacted_secrets(*load_stack_file(stack))
    return run_program(config, secret_keys, stack=stack)


@pytest.fixture(scope="session")
def dev() -> RunResult:
    return run_fixture("dev")


@pytest.fixture(scope="session")
def prod() -> RunResult:
    return run_fixture("prod")


@pytest.fixture(scope="session")
def rendered_prod(prod: RunResult) -> dict[str, str]:
    return render(prod)


@pytest.fixture(scope="session")
def rendered_dev(dev: RunResult) -> dict[str, str]:
    return render(dev)


@pytest.fixture(scope="session")
def shared_schemas() -> Path:
    """`../shared/schemas`; absent in a user's clone (skip), required in CI (REQUIRE_SHARED_SCHEMAS=1)."""
    if SHARED_SCHEMAS.is_dir():
        return SHARED_SCHEMAS
    message = f"upstream schemas not found at {SHARED_SCHEMAS} (they live beside the project in CI; `make schemas` fetches them)"
    if os.environ.get("REQUIRE_SHARED_SCHEMAS") == "1":
        pytest.fail(message + "; REQUIRE_SHARED_SCHEMAS=1 makes this a failure")
    pytest.skip(message)


# Where `make test`'s time goes, tier by tier (a tier is a folder: tests/engines, tests/charts, ...).
# Read from the terminal reporter's reports at the end: a conftest's runtest hooks see only the
# tests under its own folder, and instrumentation/tests has its own.


def _tier(nodeid: str) -> str:
    parts = nodeid.split("::")[0].split("/")
    if parts[0] == "instrumentation":
        return "instrumentation/tests"
    return "/".join(parts[:2]) if len(parts) > 2 else "tests (top level)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    seconds: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport):
                seconds[_tier(report.nodeid)] = seconds.get(_tier(report.nodeid), 0.0) + report.duration
    if not seconds:
        return
    terminalreporter.section("time per tier (setup, call and teardown)")
    for tier, total in sorted(seconds.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{total / 60:6.1f} min  {tier}")
