"""Argo Rollouts: the canary controller, its metrics scraped, its dashboard on."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import IRSA_ROLE_ANNOTATION, PROJECT, RESTRICTED_CONTAINER, SELECTOR_LABELS
from ..lib.helm import Chart, helm_release
from ..lib.options import child_opts
from ..lib.sidecar import dashboard_config_map
from ..lib.types import ChartVersion, Model
from .dashboards import argo_rollouts

CHART = Chart("argo-rollouts", "https://argoproj.github.io/argo-helm", "argo-rollouts")


class ArgoRolloutsConfig(Model):
    enabled: bool = Field(True, description="Deploy the Argo Rollouts controller.")
    chart_version: ChartVersion = Field("2.41.0", description="Pinned `argo-rollouts` chart version.")
    replicas: int = Field(1, ge=1, le=3, description="Controller replicas (leader election above one).")
    dashboard: bool = Field(True, description="Deploy the Rollouts dashboard.")


def argo_rollouts_values(cfg: ArgoRolloutsConfig, prod: bool, role_arn: Any = None, prometheus_operator: bool = True) -> dict[str, Any]:
    """`role_arn`: the IRSA role the controller signs AMP queries with (prometheusStack.backend.mode amp)."""
    values: dict[str, Any] = {
        # The chart ships its CRDs as templates, so Helm upgrades them with the chart version.
        "installCRDs": True,
        "keepCRDs": True,
        "controller": {
            "replicas": cfg.replicas,
            "metrics": {
                "enabled": True,
                "serviceMonitor": {
                    "enabled": prometheus_operator,
                    "additionalLabels": dict(SELECTOR_LABELS),
                    # A rollout's own `namespace` label would become `exported_namespace` beside the
                    # controller's: restore it, so rules and dashboards select by the rollout's namespace.
                    "metricRelabelings": [
                        {"sourceLabels": ["exported_namespace"], "regex": "(.+)", "targetLabel": "namespace", "action": "replace"},
                        {"regex": "exported_namespace", "action": "labeldrop"},
                    ],
                },
            },
            "pdb": {"enabled": True, "minAvailable": 1} if prod and cfg.replicas > 1 else {"enabled": False},
        },
        # The chart gives the dashboard an empty container securityContext, which the `restricted`
        # namespace refuses (the controller's default already complies): the restricted profile, stated.
        "dashboard": {"enabled": cfg.dashboard, "readonly": True, "containerSecurityContext": dict(RESTRICTED_CONTAINER)},
    }
    if role_arn is not None:
        values["serviceAccount"] = {"annotations": {IRSA_ROLE_ANNOTATION: role_arn}}
    return values


class ArgoRolloutsArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: ArgoRolloutsConfig = Field(description="Validated `argoRollouts` stack config.")
    namespace: str = Field(description="Namespace of the controller.")
    dashboard_namespace: Optional[str] = Field(None, description="Grafana's namespace for the Rollouts dashboard; None for none.")
    prod: bool = Field(description="Disruption budget when replicated.")
    role_arn: Any = Field(None, description="IRSA role for the controller's service account (AMP queries); None for none.")
    prometheus_operator: bool = Field(
        True,
        description="The prometheus-operator CRDs are installed (prometheusStack.enabled): the chart's ServiceMonitor and rules are rendered.",
    )


class ArgoRollouts(pulumi.ComponentResource):
    """Creates the `argo-rollouts` release (controller, CRDs, metrics ServiceMonitor, Rollouts
    dashboard) and a Grafana dashboard of rollout and analysis phases."""

    def __init__(self, name: str, args: ArgoRolloutsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:delivery:ArgoRollouts", name, None, opts)
        values = argo_rollouts_values(args.config, args.prod, args.role_arn, args.prometheus_operator)
        self.release = helm_release(self, name, CHART, args.config.chart_version, args.namespace, values, opts)
        if args.dashboard_namespace:
            self.dashboard = dashboard_config_map(
                f"{name}-dashboard", "argo-rollouts", args.dashboard_namespace, argo_rollouts(), child_opts(self, opts)
            )
        self.register_outputs({"release": self.release.name})
