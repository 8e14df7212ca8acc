"""NVIDIA DCGM exporter: GPU metrics from GPU nodes only, scraped by the platform Prometheus."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..conventions import GPU_DASHBOARD_UID, PROJECT, SELECTOR_LABELS
from ..lib.helm import Chart, helm_release
from ..lib.options import child_opts
from ..lib.sidecar import dashboard_config_map
from ..lib.types import ChartVersion, Model, Toleration
from . import dashboards

CHART = Chart("dcgm-exporter", "https://nvidia.github.io/dcgm-exporter/helm-charts", "dcgm-exporter")
METRICS_PORT = 9400


class DcgmExporterConfig(Model):
    enabled: bool = Field(False, description="Deploy the NVIDIA DCGM exporter on GPU nodes.")
    chart_version: ChartVersion = Field("4.8.2", description="Pinned `dcgm-exporter` chart version.")
    node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"}, description="Selects GPU nodes only."
    )
    tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
        description="Tolerations for the GPU taint.",
    )
    profiling_metrics: bool = Field(
        False, description="Collect DCGM_FI_PROF_* metrics; needs CAP_SYS_ADMIN, so it is off unless asked for."
    )

    @model_validator(mode="after")
    def _gpu_only(self) -> DcgmExporterConfig:
        if self.enabled and not self.node_selector:
            raise ValueError("nodeSelector must not be empty: the exporter would be scheduled on nodes without GPUs")
        return self


def dcgm_values(cfg: DcgmExporterConfig) -> dict[str, Any]:
    """Helm values: GPU nodes only, no host namespaces, CAP_SYS_ADMIN only for profiling metrics."""
    return {
        "nodeSelector": dict(cfg.node_selector),
        "tolerations": [t.model_dump(exclude_none=True) for t in cfg.tolerations],
        "hostNetwork": False,
        "hostPID": False,
        "securityContext": {
            # DCGM talks to the GPU through the NVIDIA runtime's device files, which need root;
            # nothing else is granted unless profiling metrics are asked for.
            "runAsNonRoot": False,
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"] if cfg.profiling_metrics else []},
        },
        "service": {"enable": True, "port": METRICS_PORT},
        "serviceMonitor": {
            "enabled": True,
            "interval": "15s",
            "honorLabels": False,
            "additionalLabels": dict(SELECTOR_LABELS),
        },
    }


class DcgmExporterArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: DcgmExporterConfig = Field(description="Validated `dcgmExporter` stack config.")
    namespace: str = Field(description="Namespace for the exporter and its dashboard.")


class DcgmExporter(pulumi.ComponentResource):
    """Creates the `dcgm-exporter` release (DaemonSet on GPU nodes, Service, ServiceMonitor) and the
    GPU Grafana dashboard ConfigMap."""

    def __init__(self, name: str, args: DcgmExporterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:metrics:DcgmExporter", name, None, opts)
        cfg = args.config
        self.release = helm_release(self, name, CHART, cfg.chart_version, args.namespace, dcgm_values(cfg), opts)
        self.dashboard = dashboard_config_map(
            f"{name}-dashboard", GPU_DASHBOARD_UID, args.namespace, dashboards.gpu(), child_opts(self, opts)
        )
        self.register_outputs({"release": self.release.name})
