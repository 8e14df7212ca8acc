"""ConfigMaps that Grafana's sidecars load: dashboards (any namespace) and datasources."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from ..conventions import (
    GRAFANA_DASHBOARD_LABEL,
    GRAFANA_DATASOURCE_LABEL,
    MANAGED_BY_LABELS,
)


def _config_map(
    name: str, config_map: str, namespace: str, labels: dict[str, str], file_name: str, content: str, opts: pulumi.ResourceOptions
) -> k8s.core.v1.ConfigMap:
    return k8s.core.v1.ConfigMap(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=config_map, namespace=namespace, labels={**MANAGED_BY_LABELS, **labels}),
        data={file_name: content},
        opts=opts,
    )


def dashboard_config_map(
    name: str, dashboard: str, namespace: str, dashboard_json: str, opts: pulumi.ResourceOptions
) -> k8s.core.v1.ConfigMap:
    """ConfigMap `dashboard-<dashboard>` holding `<dashboard>.json`."""
    return _config_map(name, f"dashboard-{dashboard}", namespace, GRAFANA_DASHBOARD_LABEL, f"{dashboard}.json", dashboard_json, opts)


def datasource_config_map(
    name: str, datasource: str, namespace: str, provisioning_yaml: str, opts: pulumi.ResourceOptions
) -> k8s.core.v1.ConfigMap:
    """ConfigMap `<datasource>-datasource` holding a datasource provisioning file."""
    file_name = f"{datasource}-datasource.yaml"
    return _config_map(name, f"{datasource}-datasource", namespace, GRAFANA_DATASOURCE_LABEL, file_name, provisioning_yaml, opts)
