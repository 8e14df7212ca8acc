"""One service's monitoring stack: Service, ServiceMonitor, canary Rollout, AnalysisTemplate and
PrometheusRule (recording rules and SLO burn-rate alerts), one instance per `services` entry; and
the one PrometheusRule that sums the long SLO windows of every service at once."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import MANAGED_BY_LABELS, PROJECT, SELECTOR_LABELS, SERVICE_DASHBOARD_UID
from ..lib.options import child_opts
from .canary import analysis_template_spec, real_shares, template_name
from .config import ServiceConfig
from .manifests import labels, monitoring_labels, network_policy_spec, pdb_spec, rollout_spec, service_monitor_spec, service_spec
from .rules import platform_slo_rule_groups, service_rule_groups


class ServiceMonitoringArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    service: ServiceConfig = Field(description="One validated `services` entry.")
    prometheus_url: Any = Field(description="Prometheus API the canary analysis queries (the cluster's, or the backend's).")
    sigv4_region: Optional[str] = Field(None, description="Sign analysis queries with SigV4 for this region (AMP).")
    runbook_base_url: str = Field(description="Base URL of the runbooks the alerts link to.")
    slo_period: str = Field(description="The SLO period of the error budgets (`alerting.sloPeriod`).")
    grafana_url: Optional[str] = Field(None, description="Grafana base URL for the dashboard link; None without Grafana.")
    adopted: bool = Field(False, description="The Service and Rollout may predate the platform: retain them on delete.")
    monitoring_namespace: Optional[str] = Field(
        None, description="Namespace of Prometheus, the only client of a separate metrics port; None for no NetworkPolicy."
    )


class ServiceMonitoring(pulumi.ComponentResource):
    """Creates, for one service: a Service (named http and metrics ports), a ServiceMonitor keeping
    only the metric contract, an Argo Rollouts canary Rollout, its AnalysisTemplate (p95 latency and
    5xx ratio of the canary version), a PodDisruptionBudget, a NetworkPolicy (HTTP port from anywhere,
    a separate metrics port from Prometheus only) and a PrometheusRule with recording rules and SLO alerts."""

    dashboard_url: Optional[str]

    def __init__(self, name: str, args: ServiceMonitoringArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:services:ServiceMonitoring", name, None, opts)
        svc = args.service
        child = child_opts(self, opts)

        def meta(resource_name: str, extra: Optional[dict[str, str]] = None, team: bool = True) -> k8s.meta.v1.ObjectMetaArgs:
            base = labels(svc) if team else monitoring_labels(svc)
            return k8s.meta.v1.ObjectMetaArgs(name=resource_name, namespace=svc.namespace, labels={**base, **(extra or {})})

        spec = service_spec(svc)
        workload = child_opts(self, opts, retain_on_delete=args.adopted or None)
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(svc.name),
            spec=k8s.core.v1.ServiceSpecArgs(
                type=spec["type"],
                selector=spec["selector"],
                ports=[
                    k8s.core.v1.ServicePortArgs(name=p["name"], port=p["port"], target_port=p["targetPort"], protocol=p["protocol"])
                    for p in spec["ports"]
                ],
            ),
            opts=workload,
        )
        self.service_monitor = k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=meta(svc.name, SELECTOR_LABELS, team=False),
            spec=service_monitor_spec(svc),
            opts=child,
        )
        self.analysis_template = k8s.apiextensions.CustomResource(
            f"{name}-analysis",
            api_version="argoproj.io/v1alpha1",
            kind="AnalysisTemplate",
            metadata=meta(template_name(svc), team=False),
            spec=analysis_template_spec(svc, args.prometheus_url, args.sigv4_region),
            opts=child,
        )
        self.rollout = k8s.apiextensions.CustomResource(
            f"{name}-rollout",
            api_version="argoproj.io/v1alpha1",
            kind="Rollout",
            metadata=meta(svc.name),
            spec=rollout_spec(svc),
            opts=child_opts(self, opts, depends_on=[self.analysis_template], retain_on_delete=args.adopted or None),
        )
        pdb = pdb_spec(svc)
        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(svc.name),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=pdb["maxUnavailable"], selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pdb["selector"]["matchLabels"])
            ),
            opts=child,
        )
        if args.monitoring_namespace and svc.network_policy:
            policy: Any = network_policy_spec(svc, args.monitoring_namespace)  # plain dict, as the API takes it
            self.network_policy = k8s.networking.v1.NetworkPolicy(
                f"{name}-network-policy",
                metadata=meta(svc.name),
                spec=policy,
                opts=child,
            )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=meta(f"{svc.name}-slo", SELECTOR_LABELS, team=False),
            spec={"groups": service_rule_groups(svc, args.runbook_base_url, args.slo_period)},
            opts=child,
        )
        self.dashboard_url = (
            f"{args.grafana_url}/d/{SERVICE_DASHBOARD_UID}/?var-namespace={svc.namespace}&var-service={svc.name}"
            if args.grafana_url
            else None
        )
        self.canary_shares = real_shares(svc)
        self.register_outputs(
            {"dashboard_url": self.dashboard_url, "service": svc.name, "canary_shares": {str(w): s for w, s in self.canary_shares.items()}}
        )


class ServiceFleetRules(pulumi.ComponentResource):
    """The PrometheusRule of the long SLO windows (2h to 3d) and the error budgets of every service,
    in the monitoring namespace: one lookup per tile for the whole fleet instead of one per service.
    The same for any `services` list, so adding or renaming a service never changes it."""

    NAME = "service-slo-windows"

    def __init__(self, name: str, namespace: str, runbook_base_url: str, slo_period: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:services:ServiceFleetRules", name, None, opts)
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=self.NAME, namespace=namespace, labels={**MANAGED_BY_LABELS, **SELECTOR_LABELS}),
            spec={"groups": platform_slo_rule_groups(runbook_base_url, slo_period)},
            opts=child_opts(self, opts),
        )
        self.register_outputs({"name": self.NAME, "namespace": namespace})
