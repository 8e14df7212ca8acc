"""A service's Kubernetes manifests as data: Service, ServiceMonitor and the Rollout's spec."""

from __future__ import annotations

from typing import Any

from ..conventions import CONTRACT_VIOLATION_LABEL, CONTRACT_VIOLATION_METRIC, FORBIDDEN_LABELS, MANAGED_BY_LABELS
from ..k8s.network import peer
from .canary import background_analysis, canary_steps
from .config import ServiceConfig

# Labels prometheus-operator attaches to every target; kept beside the contract's labels.
TARGET_LABELS = ("job", "instance", "namespace", "pod", "container", "endpoint", "service", "rollouts_pod_template_hash")


def labels(service: ServiceConfig) -> dict[str, str]:
    """A team's own objects (Service, Rollout and its pods, PDB, NetworkPolicy): `part-of` names the
    application a workload belongs to, the team's product, so the platform does not claim it."""
    return {
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/instance": service.name,
        "app.kubernetes.io/managed-by": MANAGED_BY_LABELS["app.kubernetes.io/managed-by"],
    }


def monitoring_labels(service: ServiceConfig) -> dict[str, str]:
    """The platform's monitoring of a service (ServiceMonitor, AnalysisTemplate, PrometheusRule)."""
    return {**labels(service), **MANAGED_BY_LABELS}


def selector(service: ServiceConfig) -> dict[str, str]:
    return {"app.kubernetes.io/name": service.name}


def metrics_port_name(service: ServiceConfig) -> str:
    return "metrics" if service.metrics_port else "http"


def service_spec(service: ServiceConfig) -> dict[str, Any]:
    ports = [{"name": "http", "port": service.port, "targetPort": "http", "protocol": "TCP"}]
    if service.metrics_port:
        ports.append({"name": "metrics", "port": service.metrics_port, "targetPort": "metrics", "protocol": "TCP"})
    return {"type": "ClusterIP", "selector": selector(service), "ports": ports}


def contract_relabelings(kept_metrics: str, kept_labels: str) -> list[dict[str, Any]]:
    """Only the contract's series, and only its labels, reach Prometheus.

    A sample carrying a forbidden label (two users' `user_id`) would collapse into one series once the
    label is dropped, and Prometheus keeps only the first sample of a scrape for a series: a silent
    undercount. Such a sample is renamed to the violation metric instead, with the label's name, so
    the contract's rates show no data (loud) and MetricContractViolation names the service and label.
    """
    flag = [
        {"action": "replace", "sourceLabels": [label], "regex": "(.+)", "targetLabel": CONTRACT_VIOLATION_LABEL, "replacement": label}
        for label in FORBIDDEN_LABELS
    ]
    rename = {
        "action": "replace",
        "sourceLabels": [CONTRACT_VIOLATION_LABEL],
        "regex": "(.+)",
        "targetLabel": "__name__",
        "replacement": CONTRACT_VIOLATION_METRIC,
    }
    return [
        {"action": "keep", "sourceLabels": ["__name__"], "regex": kept_metrics},
        *flag,
        rename,
        {"action": "labelkeep", "regex": f"{kept_labels}|{CONTRACT_VIOLATION_LABEL}"},
    ]


def service_monitor_spec(service: ServiceConfig) -> dict[str, Any]:
    contract = service.metrics
    kept_metrics = f"{contract.requests_metric}|{contract.duration_metric}_(bucket|count|sum)"
    kept_labels = "|".join(["__name__", "le", *TARGET_LABELS, *[label for label in contract.allowed_labels if label not in TARGET_LABELS]])
    return {
        "selector": {"matchLabels": selector(service)},
        "namespaceSelector": {"matchNames": [service.namespace]},
        # A scrape over the contract's budget fails instead of filling Prometheus (ServiceNearSampleLimit warns first).
        "sampleLimit": contract.sample_limit,
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
                    },
                    # The canary analysis tells canary from stable by the pod template Argo rolls out,
                    # which a pod change without a version bump changes too.
                    {
                        "action": "replace",
                        "sourceLabels": ["__meta_kubernetes_pod_label_rollouts_pod_template_hash"],
                        "regex": "(.+)",
                        "targetLabel": "rollouts_pod_template_hash",
                    },
                ],
                "metricRelabelings": contract_relabelings(kept_metrics, kept_labels),
            }
        ],
    }


def _containers(service: ServiceConfig) -> list[dict[str, Any]]:
    security = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsNonRoot": service.run_as_non_root,
        "readOnlyRootFilesystem": service.read_only_root_filesystem,
        **({"runAsUser": service.run_as_user} if service.run_as_user else {}),
    }
    tmp = [{"name": "tmp", "mountPath": "/tmp"}] if service.read_only_root_filesystem else []
    app: dict[str, Any] = {
        "name": service.name,
        "image": service.image,
        "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
        "resources": service.resources.as_k8s(),
        "securityContext": security,
        # The service-contract package reads these for the `service` and `version` labels and log fields.
        "env": [{"name": "SERVICE_NAME", "value": service.name}, {"name": "SERVICE_VERSION", "value": service.version}],
        "readinessProbe": {"httpGet": {"path": service.health_path, "port": "http"}, "periodSeconds": 10, "failureThreshold": 3},
        # A minute of failed checks before a restart: slow under load is for readiness, not liveness.
        "livenessProbe": {
            "httpGet": {"path": service.health_path, "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 6,
        },
        "volumeMounts": tmp,
    }
    containers = [app]
    if service.metrics_port and service.metrics_adapter_image:
        containers.append(
            {
                "name": "metrics-adapter",
                "image": service.metrics_adapter_image,
                "ports": [{"name": "metrics", "containerPort": service.metrics_port, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                "securityContext": security,
                # The adapter's own health path is unknown: an open metrics port is what Prometheus needs.
                "readinessProbe": {"tcpSocket": {"port": "metrics"}, "periodSeconds": 10},
                "livenessProbe": {"tcpSocket": {"port": "metrics"}, "periodSeconds": 10, "failureThreshold": 6},
                "volumeMounts": tmp,
            }
        )
    elif service.metrics_port:
        app["ports"].append({"name": "metrics", "containerPort": service.metrics_port, "protocol": "TCP"})
    return containers


def spread(service: ServiceConfig) -> list[dict[str, Any]]:
    """Across zones first, then nodes: a zone or a node lost takes at most its share of the pods."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(service)},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def network_policy_spec(service: ServiceConfig, monitoring_namespace: str) -> dict[str, Any]:
    """The service's callers reach its HTTP port; only Prometheus reaches a separate metrics port."""
    rules: list[dict[str, Any]] = [{"ports": [{"port": service.port, "protocol": "TCP"}]}]
    if service.metrics_port and service.metrics_port != service.port:
        rules.append({"from": [peer(monitoring_namespace, "prometheus")], "ports": [{"port": service.metrics_port, "protocol": "TCP"}]})
    return {"podSelector": {"matchLabels": selector(service)}, "policyTypes": ["Ingress"], "ingress": rules}


def pdb_spec(service: ServiceConfig) -> dict[str, Any]:
    """One pod at a time may be evicted: node drains proceed, a drain never takes the whole service."""
    return {"maxUnavailable": 1, "selector": {"matchLabels": selector(service)}}


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
            "spec": {
                "containers": _containers(service),
                # The app talks to no Kubernetes API: no token mounted to steal.
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": service.run_as_non_root,
                    "seccompProfile": {"type": "RuntimeDefault"},
                    **({"runAsUser": service.run_as_user, "runAsGroup": service.run_as_user} if service.run_as_user else {}),
                },
                "topologySpreadConstraints": spread(service),
                "volumes": [{"name": "tmp", "emptyDir": {}}] if service.read_only_root_filesystem else [],
            },
        }
    return spec
