"""A rendered ServiceMonitor as the scrape config prometheus-operator generates from it.

Only what the ServiceMonitor says is translated (relabelings, metricRelabelings, sampleLimit, path),
camelCase to snake_case, nothing else. Kubernetes discovery is replaced by one static target per
pod carrying the labels the operator's own relabelings would set (job, namespace, service, pod,
container, endpoint) and the pod labels the ServiceMonitor's relabelings read (version, and the
`rollouts-pod-template-hash` Argo Rollouts gives each pod template's pods).
"""

from __future__ import annotations

import re
from typing import Any, Protocol


class Target(Protocol):
    """A pod as a scrape target: where it listens and which version it runs."""

    @property
    def address(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def template_hash(self) -> str: ...


_KEYS = {"sourceLabels": "source_labels", "targetLabel": "target_label"}


def _snake(key: str) -> str:
    return _KEYS.get(key) or re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), key)


def relabel(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{_snake(k): (v.lower() if k == "action" else v) for k, v in rule.items()} for rule in rules]


def scrape_config(monitor: dict[str, Any], pods: list[Any], interval: str) -> dict[str, Any]:
    meta, spec = monitor["metadata"], monitor["spec"]
    (endpoint,) = spec["endpoints"]
    service = meta["name"]
    targets = [
        {
            "targets": [pod.address],
            "labels": {
                "__meta_kubernetes_pod_label_app_kubernetes_io_version": pod.version,
                "__meta_kubernetes_pod_label_rollouts_pod_template_hash": pod.template_hash,
                "job": service,
                "namespace": meta["namespace"],
                "service": service,
                "pod": f"{service}-{pod.version}-{index}",
                "container": service,
                "endpoint": endpoint["port"],
            },
        }
        for index, pod in enumerate(pods)
    ]
    return {
        "job_name": f"serviceMonitor/{meta['namespace']}/{service}/0",
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "metrics_path": endpoint["path"],
        "honor_labels": False,
        "sample_limit": spec["sampleLimit"],
        "static_configs": targets,
        "relabel_configs": relabel(endpoint.get("relabelings", [])),
        "metric_relabel_configs": relabel(endpoint.get("metricRelabelings", [])),
    }
