"""The chart-template tier's one helper: the program's Helm releases rendered through their pinned charts.

Each stack is run under the mock runtime, rendered offline, and every `helm/<release>.yaml` goes through
`helm template` of the whole pinned chart (`tools/charts.py`). The charts live in `../shared/charts`: a
user's clone has none and these tests skip with that reason; CI (`REQUIRE_SHARED_SCHEMAS=1`) fails instead.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from components.conventions import REDACTED, SECRET_CONFIG_KEYS
from tests.stackfixtures import fixture_values, to_pulumi_config
from tools import charts
from tools.mockrun import RunResult, load_stack_file, run_program, with_redacted_secrets
from tools.render import render

# Kubecost's cost-analyzer chart has no public snapshot (shared/charts/README.md): its release is not rendered.
UNAVAILABLE = ("cost-analyzer",)
# The user's stack files as deployed, and one stack with every optional part on (Thanos and AMP are
# alternatives: `everything` runs Thanos, `everything-amp` AMP).
STACKS = ("dev", "prod", "everything", "everything-amp")


def _everything(backend: str) -> dict[str, Any]:
    return fixture_values(
        "prod",
        "integrations",
        dcgmExporter={"enabled": True},
        prometheusStack={"backend": {"mode": backend}, "grafana": {"ingress": {"enabled": True, "host": "grafana.example.com"}}},
    )


def run_stack(stack: str) -> RunResult:
    if stack in ("dev", "prod"):
        config, secret_keys = with_redacted_secrets(*load_stack_file(stack))
        return run_program(config, secret_keys, stack=stack)
    values = _everything("amp" if stack == "everything-amp" else "thanos")
    return run_program(*to_pulumi_config(values, {key: REDACTED for key in SECRET_CONFIG_KEYS}), stack="prod")


@dataclass(frozen=True)
class Rendered:
    """A stack's own objects (offline render) and what its releases' charts make of their values."""

    stack: str
    files: dict[str, str]
    releases: dict[str, list[dict[str, Any]]]
    missing_subcharts: dict[str, list[str]]

    def program_objects(self) -> Iterator[dict[str, Any]]:
        for path, text in sorted(self.files.items()):
            if path.startswith("k8s/") and "/ConfigFile/" not in path:
                yield yaml.safe_load(text)

    def chart_objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for release, objects in sorted(self.releases.items()):
            for obj in objects:
                yield release, obj

    def all_objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(origin, object): origin is the release name, or `program` for the program's own objects."""
        for obj in self.program_objects():
            yield "program", obj
        yield from self.chart_objects()

    def namespace_levels(self) -> dict[str, str]:
        """Each namespace the program creates -> its enforced Pod Security level."""
        levels = {}
        for obj in self.program_objects():
            if obj["kind"] == "Namespace":
                levels[obj["metadata"]["name"]] = obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        return levels


def require_charts() -> None:
    if (charts.CHARTS_DIR / "README.md").is_file():
        return
    message = f"the pinned charts are not at {charts.CHARTS_DIR} (they live in ../shared/charts beside the project in CI)"
    if os.environ.get("REQUIRE_SHARED_SCHEMAS") == "1":
        pytest.fail(message + "; REQUIRE_SHARED_SCHEMAS=1 makes this a failure")
    pytest.skip(message)


@functools.cache
def rendered(stack: str) -> Rendered:
    """`stack` run, rendered and templated once per test session."""
    require_charts()
    return _template(stack, render(run_stack(stack)))


def rendered_values(name: str, **overrides: Any) -> Rendered:
    """The dev fixture with `overrides` deep-merged, run, rendered and templated."""
    require_charts()
    values = fixture_values(**overrides)
    return _template(name, render(run_program(*to_pulumi_config(values, {key: REDACTED for key in SECRET_CONFIG_KEYS}), stack="dev")))


def _template(stack: str, files: dict[str, str]) -> Rendered:
    releases, unrendered = charts.render_all(files)
    assert {r.chart for r in unrendered} <= set(UNAVAILABLE), [r.folder for r in unrendered]
    missing = {r.release: charts.missing_subcharts(charts.chart_dir(r)) for r in charts.releases(files) if r.release in releases}
    return Rendered(stack, files, releases, {k: v for k, v in missing.items() if v})
