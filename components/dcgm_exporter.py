"""NVIDIA DCGM exporter: GPU metrics from GPU nodes only, scraped by the platform Prometheus."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from . import dashboards
from .config import DcgmExporterConfig
from .conventions import SELECTOR_LABELS, TYPE_PREFIX
from .helm import helm_release
from .options import child_opts
from .sidecar import dashboard_config_map

CHART = "dcgm-exporter"
REPOSITORY = "https://nvidia.github.io/dcgm-exporter/helm-charts"
METRICS_PORT = 9400


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
        super().__init__(f"{TYPE_PREFIX}:metrics:DcgmExporter", name, None, opts)
        cfg = args.config
        self.release = helm_release(
            self,
            f"{name}-release",
            release="dcgm-exporter",
            chart=CHART,
            repository=REPOSITORY,
            version=cfg.chart_version,
            namespace=args.namespace,
            values=dcgm_values(cfg),
            opts=opts,
        )
        self.dashboard = dashboard_config_map(
            f"{name}-dashboard", "platform-gpu", args.namespace, dashboards.gpu(), child_opts(self, opts)
        )
        self.register_outputs({"release": self.release.name})
