"""NVIDIA DCGM exporter: GPU metrics from GPU nodes only, scraped by the platform Prometheus."""

from __future__ import annotations

from typing import Optional

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import DAEMONSET_RELEASE_TIMEOUT_S, GPU_DASHBOARD_UID, PROJECT
from ..lib.helm import Chart, helm_release
from ..lib.options import child_opts
from ..lib.sidecar import dashboard_config_map
from ..lib.types import ChartVersion, Model, Toleration
from . import dashboards
from .dcgm_values import dcgm_values

CHART = Chart("dcgm-exporter", "https://nvidia.github.io/dcgm-exporter/helm-charts", "dcgm-exporter")


class DcgmExporterConfig(Model):
    enabled: bool = Field(False, description="Deploy the NVIDIA DCGM exporter on GPU nodes.")
    chart_version: ChartVersion = Field("4.8.2", description="Pinned `dcgm-exporter` chart version.")
    node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="Node labels that select GPU nodes. Empty (the default) uses a node affinity that works on plain EKS GPU "
        "AMIs (the node's instance type is an NVIDIA GPU type) and on GPU Feature Discovery, Karpenter and EKS Auto Mode labels.",
    )
    tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
        description="Tolerations for the GPU taint.",
    )
    profiling_metrics: bool = Field(
        False, description="Collect DCGM_FI_PROF_* metrics; needs CAP_SYS_ADMIN, so it is off unless asked for."
    )


class DcgmExporterArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: DcgmExporterConfig = Field(description="Validated `dcgmExporter` stack config.")
    namespace: str = Field(description="Namespace for the exporter and its dashboard.")
    prometheus_operator: bool = Field(
        True,
        description="The prometheus-operator CRDs are installed (prometheusStack.enabled): the chart's ServiceMonitor and rules are rendered.",
    )


class DcgmExporter(pulumi.ComponentResource):
    """Creates the `dcgm-exporter` release (DaemonSet on GPU nodes, Service, ServiceMonitor) and the
    GPU Grafana dashboard ConfigMap."""

    def __init__(self, name: str, args: DcgmExporterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:metrics:DcgmExporter", name, None, opts)
        cfg = args.config
        self.release = helm_release(
            self,
            name,
            CHART,
            cfg.chart_version,
            args.namespace,
            dcgm_values(cfg, args.prometheus_operator),
            opts,
            timeout=DAEMONSET_RELEASE_TIMEOUT_S,
        )
        self.dashboard = dashboard_config_map(
            f"{name}-dashboard", GPU_DASHBOARD_UID, args.namespace, dashboards.gpu(), child_opts(self, opts)
        )
        self.register_outputs({"release": self.release.name})
