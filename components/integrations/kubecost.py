"""Kubecost (optional), reading the platform Prometheus instead of bundling its own."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import PROJECT
from ..lib.helm import Chart, helm_release
from ..lib.types import ChartVersion, Model

CHART = Chart("cost-analyzer", "https://kubecost.github.io/cost-analyzer/", "kubecost")


class KubecostConfig(Model):
    enabled: bool = Field(False, description="Deploy Kubecost (cost-analyzer).")
    chart_version: ChartVersion = Field("2.8.2", description="Pinned `cost-analyzer` chart version.")


def kubecost_values(cluster_name: str, prometheus_url: str) -> dict[str, Any]:
    return {
        "global": {
            "prometheus": {"enabled": False, "fqdn": prometheus_url},
            "grafana": {"enabled": False, "proxy": False},
        },
        "kubecostProductConfigs": {"clusterName": cluster_name},
    }


class KubecostArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: KubecostConfig = Field(description="Validated `kubecost` stack config.")
    namespace: str = Field(description="Namespace of Kubecost.")
    cluster_name: str = Field(description="Cluster name shown in Kubecost.")
    prometheus_url: str = Field(description="The platform Prometheus Kubecost queries.")


class Kubecost(pulumi.ComponentResource):
    """Creates the `cost-analyzer` release pointed at the platform Prometheus."""

    def __init__(self, name: str, args: KubecostArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:integrations:Kubecost", name, None, opts)
        values = kubecost_values(args.cluster_name, args.prometheus_url)
        self.release = helm_release(self, name, CHART, args.config.chart_version, args.namespace, values, opts)
        self.register_outputs({"release": self.release.name})
