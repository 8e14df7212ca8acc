"""One service's monitoring stack: Service, ServiceMonitor, canary Rollout, AnalysisTemplate and
PrometheusRule (recording rules and SLO burn-rate alerts). One instance per `services` entry."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from .canary import (
    analysis_template_spec,
    background_analysis,
    canary_steps,
    template_name,
)
from .config import ServiceConfig
from .conventions import (
    MANAGED_BY_LABELS,
    SELECTOR_LABELS,
    SERVICE_DASHBOARD_UID,
    TYPE_PREFIX,
)
from .options import child_opts
from .service_rules import service_rule_groups

# Labels prometheus-operator attaches to every target; kept beside the contract's labels.
TARGET_LABELS = ("job", "instance", "namespace", "pod", "container", "endpoint", "service")
# A scrape that returns more samples than this fails instead of filling Prometheus.
SAMPLE_LIMIT = 20000


def labels(service: ServiceConfig) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/instance": service.name,
        **MANAGED_BY_LABELS,
    }


def selector(service: ServiceConfig) -> dict[str, str]:
    return {"app.kubernetes.io/name": service.name}


def metrics_port_name(service: ServiceConfig) -> str:
    return "metrics" if service.metrics_port else "http"


def service_spec(service: ServiceConfig) -> dict[str, Any]:
    ports = [{"name": "http", "port": service.port, "targetPort": "http", "protocol": "TCP"}]
    if service.metrics_port:
        ports.append({"name": "metrics", "port": service.metrics_port, "targetPort": "metrics", "protocol": "TCP"})
    return {"type": "ClusterIP", "selector": selector(service), "ports": ports}


def service_monitor_spec(service: ServiceConfig) -> dict[str, Any]:
    contract = service.metrics
    kept_metrics = f"{contract.requests_metric}|{contract.duration_metric}_(bucket|count|sum)"
    kept_labels = "|".join(["__name__", "le", *TARGET_LABELS, *[l for l in contract.allowed_labels if l not in TARGET_LABELS]])
    return {
        "selector": {"matchLabels": selector(service)},
        "namespaceSelector": {"matchNames": [service.namespace]},
        "sampleLimit": SAMPLE_LIMIT,
        "endpoints": [
            {
                "port": metrics_port_name(service),
                "path": service.metrics_path,
                "interval": service.scrape_interval,
                # `version` comes from the pod's own label, so canary and stable can't be mixed up by an
                # app that reports the wrong version (its own label becomes exported_version and is dropped).
                "relabelings": [
                    {
                        "action": "replace",
                        "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_version"],
                        "regex": "(.+)",
                        "targetLabel": "version",
                    }
                ],
                # Only the contract's series, and only its labels: user ids, trace ids or raw paths an
                # app adds by mistake never reach Prometheus.
                "metricRelabelings": [
                    {"action": "keep", "sourceLabels": ["__name__"], "regex": kept_metrics},
                    {"action": "labelkeep", "regex": kept_labels},
                ],
            }
        ],
    }


def _containers(service: ServiceConfig) -> list[dict[str, Any]]:
    security = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    app: dict[str, Any] = {
        "name": service.name,
        "image": service.image,
        "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
        "resources": service.resources.as_k8s(),
        "securityContext": security,
    }
    if service.health_path:
        app["readinessProbe"] = {"httpGet": {"path": service.health_path, "port": "http"}, "periodSeconds": 10}
    containers = [app]
    if service.metrics_port and service.metrics_adapter_image:
        containers.append(
            {
                "name": "metrics-adapter",
                "image": service.metrics_adapter_image,
                "ports": [{"name": "metrics", "containerPort": service.metrics_port, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                "securityContext": security,
            }
        )
    elif service.metrics_port:
        app["ports"].append({"name": "metrics", "containerPort": service.metrics_port, "protocol": "TCP"})
    return containers


def rollout_spec(service: ServiceConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": service.replicas,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(service)},
        "strategy": {
            "canary": {
                "canaryMetadata": {"labels": {"rollouts.argoproj.io/track": "canary"}},
                "stableMetadata": {"labels": {"rollouts.argoproj.io/track": "stable"}},
                "steps": canary_steps(service),
            }
        },
    }
    background = background_analysis(service)
    if background:
        spec["strategy"]["canary"]["analysis"] = background
    if service.workload_ref:
        spec["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.workload_ref, "scaleDown": "progressively"}
    else:
        spec["template"] = {
            "metadata": {"labels": {**labels(service), "app.kubernetes.io/version": service.version}},
            "spec": {"containers": _containers(service)},
        }
    return spec


class ServiceMonitoringArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ServiceConfig = Field(description="One validated `services` entry.")
    prometheus_url: str = Field(description="Prometheus the canary analysis queries.")
    runbook_base_url: str = Field(description="Base URL of the runbooks the alerts link to.")
    grafana_url: Optional[str] = Field(None, description="Grafana base URL for the dashboard link; None without Grafana.")


class ServiceMonitoring(pulumi.ComponentResource):
    """Creates, for one service: a Service (named http and metrics ports), a ServiceMonitor keeping
    only the metric contract, an Argo Rollouts canary Rollout, its AnalysisTemplate (p95 latency and
    5xx ratio of the canary version), and a PrometheusRule with recording rules and SLO alerts."""

    dashboard_url: Optional[str]

    def __init__(self, name: str, args: ServiceMonitoringArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}:services:ServiceMonitoring", name, None, opts)
        svc = args.service
        child = child_opts(self, opts)

        def meta(resource_name: str, extra: Optional[dict[str, str]] = None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=resource_name, namespace=svc.namespace, labels={**labels(svc), **(extra or {})})

        spec = service_spec(svc)
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
            opts=child,
        )
        self.service_monitor = k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=meta(svc.name, SELECTOR_LABELS),
            spec=service_monitor_spec(svc),
            opts=child,
        )
        self.analysis_template = k8s.apiextensions.CustomResource(
            f"{name}-analysis",
            api_version="argoproj.io/v1alpha1",
            kind="AnalysisTemplate",
            metadata=meta(template_name(svc)),
            spec=analysis_template_spec(svc, args.prometheus_url),
            opts=child,
        )
        self.rollout = k8s.apiextensions.CustomResource(
            f"{name}-rollout",
            api_version="argoproj.io/v1alpha1",
            kind="Rollout",
            metadata=meta(svc.name),
            spec=rollout_spec(svc),
            opts=child_opts(self, opts, depends_on=[self.analysis_template]),
        )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=meta(f"{svc.name}-slo", SELECTOR_LABELS),
            spec={"groups": service_rule_groups(svc, args.runbook_base_url)},
            opts=child,
        )
        self.dashboard_url = (
            f"{args.grafana_url}/d/{SERVICE_DASHBOARD_UID}/?var-namespace={svc.namespace}&var-service={svc.name}"
            if args.grafana_url
            else None
        )
        self.register_outputs({"dashboard_url": self.dashboard_url, "service": svc.name})

