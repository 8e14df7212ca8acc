"""Every Helm values key the program sets exists in the pinned chart's default values.

A misspelt key is silently ignored by Helm, so this is the only place such a typo is caught before
a cluster shows the chart's default instead of ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tools.mockrun import RunResult, unwrap_secrets

# release name -> chart folder under shared/schemas/charts
CHART_DIRS = {
    "loki": "loki-community",
    "fluent-bit": "fluent-bit",
    "fluent-bit-events": "fluent-bit",  # the same chart, as the events collector
    "kube-prometheus-stack": "kube-prometheus-stack",
    "argo-rollouts": "argo-rollouts",
    "dcgm-exporter": "dcgm-exporter",
}

# Keys the chart reads but documents only in comments of its values.yaml (so they are absent from
# the parsed defaults), each with where the chart documents it.
DOCUMENTED_IN_COMMENTS: dict[str, set[tuple[str, ...]]] = {
    "dcgm-exporter": {
        # values.yaml: "Customized list of metrics to emit ... # customMetrics: |" (commented out by default)
        ("customMetrics",),
    },
    "fluent-bit": {
        # values.yaml `serviceMonitor:` block, commented example `selector: {prometheus: my-prometheus}`
        ("serviceMonitor", "selector"),
    },
    "fluent-bit-events": {("serviceMonitor", "selector")},  # the same chart
    "kube-prometheus-stack": {
        # The grafana subchart's own values (grafana-community chart 12.11.1, not copied to shared/):
        # `replicas`, `persistence.{enabled,type,size,storageClassName}`, `serviceAccount.name`,
        # `ingress.ingressClassName` are top-level keys of that chart's values.yaml.
        ("grafana", "replicas"),
        # grafana chart values.yaml: `deploymentStrategy: {type: RollingUpdate}`
        ("grafana", "deploymentStrategy"),
        # grafana chart values.yaml: `grafana.ini:` (server.root_url among its keys)
        ("grafana", "grafana.ini"),
        ("grafana", "persistence"),
        ("grafana", "serviceAccount", "name"),
        ("grafana", "ingress", "ingressClassName"),
        # grafana chart values.yaml `rbac:` block, commented example `# useExistingClusterRole: name-of-some-clusterRole`
        # (templates/clusterrolebinding.yaml binds to it, templates/clusterrole.yaml is then not rendered)
        ("grafana", "rbac", "useExistingClusterRole"),
        # grafana chart values.yaml `sidecar.dashboards.resource: both`, `sidecar.datasources.resource: both`
        ("grafana", "sidecar", "dashboards", "resource"),
        ("grafana", "sidecar", "datasources", "resource"),
        # prometheus-node-exporter chart 4.56.1 values.yaml `updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}`
        ("prometheus-node-exporter", "updateStrategy"),
    },
    "loki": {
        # loki-community values.yaml `loki.storage` comment: "bucketNames: chunks: FIXME, ruler: FIXME"
        ("loki", "storage", "bucketNames"),
        # `loki.rulerConfig` is Loki's `ruler` block (`@schema skipProperties:true;additionalProperties:true`)
        ("loki", "rulerConfig", "alertmanager_url"),
        ("loki", "rulerConfig", "enable_api"),
        # `loki.schemaConfig: {}` is documented as the Loki schema_config block (free-form)
        ("loki", "schemaConfig", "configs"),
        # `loki.limits_config` is passed through `tpl (toYaml)` as Loki's limits_config: any Loki limit
        ("loki", "limits_config", "retention_period"),
        ("loki", "limits_config", "max_line_size"),
        ("loki", "limits_config", "max_line_size_truncate"),
        ("loki", "limits_config", "ingestion_rate_mb"),
        ("loki", "limits_config", "ingestion_burst_size_mb"),
        ("loki", "limits_config", "per_stream_rate_limit"),
        ("loki", "limits_config", "per_stream_rate_limit_burst"),
    },
}


def _leaves(values: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from _leaves(value, path + (key,))
    else:
        yield path, values


def _missing_keys(values: dict, defaults: dict, allowed: set[tuple]) -> list[str]:
    """Dotted paths in `values` with no counterpart in `defaults`.

    Below an empty map (`podAnnotations: {}`) or a list in the defaults anything goes: those are the
    chart's free-form extension points.
    """
    missing = []
    for path, _ in _leaves(values):
        node: Any = defaults
        for depth, key in enumerate(path):
            if any(path[: i + 1] in allowed for i in range(depth + 1)):
                break
            if isinstance(node, dict) and node == {} and depth > 0:
                break
            if isinstance(node, list):
                break
            if not isinstance(node, dict) or key not in node:
                missing.append(".".join(map(str, path[: depth + 1])))
                break
            node = node[key]
    return sorted(set(missing))


def _releases(result: RunResult) -> dict[str, dict]:
    return {r.inputs["name"]: unwrap_secrets(r.inputs) for r in result.of_type("kubernetes:helm.sh/v3:Release")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_values_key_exists_in_chart_defaults(stack, request, shared_schemas: Path):
    releases = _releases(request.getfixturevalue(stack))
    assert releases
    for name, release in releases.items():
        chart_dir = shared_schemas / "charts" / CHART_DIRS[name]
        chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
        assert release["version"] == str(chart["version"]), f"{name}: pinned {release['version']}, schemas are for {chart['version']}"
        defaults = yaml.safe_load((chart_dir / "values.yaml").read_text())
        missing = _missing_keys(release["values"], defaults, DOCUMENTED_IN_COMMENTS.get(name, set()))
        assert missing == [], f"{name}: keys not in chart {chart['version']} defaults: {missing}"


def test_key_check_catches_a_typo(shared_schemas: Path):
    defaults = yaml.safe_load((shared_schemas / "charts" / "loki-community" / "values.yaml").read_text())
    assert _missing_keys({"singleBinary": {"replica": 1}, "lokii": {"x": 1}}, defaults, set()) == ["lokii", "singleBinary.replica"]
    assert _missing_keys({"loki": {"podAnnotations": {"anything": "goes"}}}, defaults, set()) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_loki_values_pass_the_chart_schema(stack, request, shared_schemas: Path):
    schema = json.loads((shared_schemas / "charts" / "loki-community" / "values.schema.json").read_text())
    values = _releases(request.getfixturevalue(stack))["loki"]["values"]
    errors = sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft7Validator(schema).iter_errors(values))
    assert errors == []


def test_loki_schema_is_not_blind(shared_schemas: Path):
    schema = json.loads((shared_schemas / "charts" / "loki-community" / "values.schema.json").read_text())
    errors = list(Draft7Validator(schema).iter_errors({"deploymentMode": "Monolith", "singleBinary": {"replicas": "one"}}))
    assert len(errors) >= 1
