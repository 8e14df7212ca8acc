"""Run the real promtool and amtool on what the program renders."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import engines


def require(tool: str) -> str:
    """The engine the cluster runs (Prometheus 3, Alertmanager 0.28+); `make tools` installs it."""
    try:
        return engines.binary(tool)
    except engines.EngineError as err:
        pytest.fail(str(err))


def check_rules(groups: list[dict[str, Any]], lint_fatal: bool = True) -> subprocess.CompletedProcess:
    """`promtool check rules --lint-fatal`: a duplicate rule or another lint finding fails like a syntax
    error. `lint_fatal=False` for groups of several rule files checked as one (prometheus-operator
    writes one file per PrometheusRule, and two services' alerts of one name are not duplicates)."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        return subprocess.run([require("promtool"), "check", "rules", *(["--lint-fatal"] if lint_fatal else []), str(rules)], capture_output=True, text=True)


def test_rules(groups: list[dict[str, Any]], tests: list[dict[str, Any]], evaluation_interval: str = "1m") -> subprocess.CompletedProcess:
    """`promtool test rules` with these rule groups and unit tests."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        # In list order: the fleet SLO group before the service groups that read its ratios, as
        # `slo_rule_groups` lists them (promtool's own order is a random map walk).
        order = [g["name"] for g in groups]
        spec = {"rule_files": ["rules.yaml"], "evaluation_interval": evaluation_interval, "group_eval_order": order, "tests": tests}
        (Path(tmp) / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        return subprocess.run([require("promtool"), "test", "rules", "test.yaml"], capture_output=True, text=True, cwd=tmp)


test_rules.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test


def check_alertmanager(config: dict[str, Any]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alertmanager.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return subprocess.run([require("amtool"), "check-config", str(path)], capture_output=True, text=True)


def route(config: dict[str, Any], *labels: str) -> list[str]:
    """Receivers Alertmanager picks for an alert with these `name=value` labels."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alertmanager.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        proc = subprocess.run(
            [require("amtool"), "config", "routes", "test", f"--config.file={path}", *labels],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().split(",")
