"""Helm values for kube-prometheus-stack and its Grafana, as pure functions of config."""

from __future__ import annotations

from typing import Any

from ..conventions import (
    CLOUDWATCH_DATASOURCE_UID,
    DAEMONSET_MAX_UNAVAILABLE,
    GRAFANA_DASHBOARD_LABEL,
    GRAFANA_DATASOURCE_LABEL,
    SELECTOR_LABELS,
)
from .alertmanager import RECEIVERS_SECRET, alertmanager_config, receiver_secret_keys
from .config import AlertingConfig, PrometheusStackConfig

GRAFANA_SERVICE_ACCOUNT = "grafana"
GRAFANA_ADMIN_SECRET = "grafana-admin"
# The ClusterRole Grafana's sidecars run with: ConfigMaps only. The chart's own grants `secrets` too as
# soon as any sidecar is on, with no value to narrow it, so Grafana would read every Secret in the cluster.
GRAFANA_SIDECAR_CLUSTER_ROLE = "grafana-sidecar-configmaps"
# Control-plane components EKS runs for us: nothing in the cluster can scrape them, so their
# scrapes and alerts would be down forever. kube-proxy binds its metrics to 127.0.0.1 on EKS.
EKS_UNSCRAPEABLE = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")
EKS_UNSCRAPEABLE_RULES = ("etcd", "kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "kubeProxy", "windows")
RETAIN_VOLUMES = {"whenDeleted": "Retain", "whenScaled": "Retain"}


def operator_crd_path(plural: str) -> str:
    """Where kube-prometheus-stack keeps the operator's CRD of `plural` (its `crds` subchart)."""
    return f"charts/crds/crds/crd-{plural}.yaml"


def _selector() -> dict[str, Any]:
    return {"matchLabels": dict(SELECTOR_LABELS)}


def _sidecar_label(label: dict[str, str]) -> dict[str, str]:
    """The one label a Grafana sidecar watches, in the chart's `label`/`labelValue` form."""
    ((key, value),) = label.items()
    return {"label": key, "labelValue": value}


def _volume_claim(storage_class: str, size: str) -> dict[str, Any]:
    return {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": storage_class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
            }
        }
    }


def ingress_annotations(cfg: PrometheusStackConfig) -> dict[str, str]:
    ingress = cfg.grafana.ingress
    annotations = {
        "alb.ingress.kubernetes.io/scheme": ingress.scheme,
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/healthcheck-path": "/api/health",
    }
    if ingress.certificate_arn:
        annotations |= {
            "alb.ingress.kubernetes.io/certificate-arn": ingress.certificate_arn,
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS":443}]',
            "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        }
    else:
        annotations["alb.ingress.kubernetes.io/listen-ports"] = '[{"HTTP":80}]'
    return annotations | ingress.annotations


def zone_spread(app: str, prod: bool) -> list[dict[str, Any]]:
    """Replicas in different zones (their EBS volumes are zone-bound): a zone lost takes one replica, not all."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule" if prod else "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
        }
    ]


def prometheus_spec(cfg: PrometheusStackConfig, prod: bool) -> dict[str, Any]:
    """`prometheus.prometheusSpec`: size, retention, storage and the selectors every monitor and rule matches."""
    prom = cfg.prometheus
    # Exemplars are scraped only with the feature on; Prometheus 3 asks for OpenMetrics, which carries them.
    exemplars = {"enableFeatures": ["exemplar-storage"], "exemplars": {"maxSize": prom.exemplars}} if prom.exemplars else {}
    return {
        **exemplars,
        "replicas": prom.replicas,
        "retention": prom.retention,
        "retentionSize": prom.retention_size,
        "scrapeInterval": prom.scrape_interval,
        "evaluationInterval": prom.scrape_interval,
        "resources": prom.resources.as_k8s(),
        "storageSpec": _volume_claim(prom.storage_class, prom.storage_size),
        "podAntiAffinity": "hard" if prod else "soft",
        "topologySpreadConstraints": zone_spread("prometheus", prod),
        # Explicit selectors from the same constant every monitor and rule of this program carries.
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False,
        "probeSelectorNilUsesHelmValues": False,
        "serviceMonitorSelector": _selector(),
        "podMonitorSelector": _selector(),
        "ruleSelector": _selector(),
        "probeSelector": _selector(),
        # Monitors and rules live beside the services they watch, in every namespace.
        "serviceMonitorNamespaceSelector": {},
        "podMonitorNamespaceSelector": {},
        "ruleNamespaceSelector": {},
        "probeNamespaceSelector": {},
    }


def kube_prometheus_stack_values(
    cfg: PrometheusStackConfig,
    alerting: AlertingConfig,
    region: str,
    prod: bool,
    cloudwatch: bool,
    retain_volumes: bool = False,
    external_labels: dict[str, str] | None = None,
    backend: dict[str, Any] | None = None,
    datasources: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Helm values for kube-prometheus-stack (CRDs are applied separately, see the component).

    `retain_volumes` keeps the Prometheus and Alertmanager volumes when their StatefulSets are
    deleted or scaled down, and Grafana's volume when the release is uninstalled.
    """
    prom, am, grafana = cfg.prometheus, cfg.alertmanager, cfg.grafana
    spec = prometheus_spec(cfg, prod)
    # cluster and environment on every series and alert leaving this Prometheus (remote storage, a
    # global view, Alertmanager); the operator adds `prometheus` and `prometheus_replica` itself.
    spec["externalLabels"] = dict(sorted((external_labels or {}).items()))
    values: dict[str, Any] = {
        "crds": {"enabled": False},
        "defaultRules": {"create": True, "rules": {name: False for name in EKS_UNSCRAPEABLE_RULES}},
        **{component: {"enabled": False} for component in EKS_UNSCRAPEABLE},
        "nodeExporter": {"enabled": True},
        "prometheus-node-exporter": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": DAEMONSET_MAX_UNAVAILABLE}}
        },
        "kubeStateMetrics": {"enabled": True},
        "prometheus": {"prometheusSpec": spec},
        "alertmanager": {
            "config": alertmanager_config(alerting),
            "alertmanagerSpec": {
                "replicas": am.replicas,
                "retention": am.retention,
                "storage": _volume_claim(prom.storage_class, am.storage_size),
                "podAntiAffinity": spec["podAntiAffinity"],
                "topologySpreadConstraints": zone_spread("alertmanager", prod),
                # Mounted at /etc/alertmanager/secrets/<name>/: the config reads receivers from files.
                "secrets": [RECEIVERS_SECRET] if receiver_secret_keys(alerting) else [],
            },
        },
        "grafana": {"enabled": False},
    }
    for key, value in (backend or {}).items():
        if key == "prometheusSpec":
            spec.update(value)
        else:
            values["prometheus"][key] = value
    if retain_volumes:
        spec["persistentVolumeClaimRetentionPolicy"] = dict(RETAIN_VOLUMES)
        values["alertmanager"]["alertmanagerSpec"]["persistentVolumeClaimRetentionPolicy"] = dict(RETAIN_VOLUMES)
    if prod:
        values["prometheus"]["podDisruptionBudget"] = {"enabled": True, "minAvailable": 1}
        values["alertmanager"]["podDisruptionBudget"] = {"enabled": True, "minAvailable": max(1, am.replicas - 1)}
    if grafana.enabled:
        values["grafana"] = grafana_values(cfg, region, cloudwatch, retain_volumes)
        if datasources:
            # The program's Prometheus datasources (backend.grafana_datasources) replace the chart's.
            values["grafana"]["additionalDataSources"] = list(datasources) + values["grafana"]["additionalDataSources"]
            values["grafana"]["sidecar"]["datasources"]["defaultDatasourceEnabled"] = False
    return values


def grafana_values(cfg: PrometheusStackConfig, region: str, cloudwatch: bool, retain_volume: bool = False) -> dict[str, Any]:
    grafana = cfg.grafana
    values: dict[str, Any] = {
        "enabled": True,
        # Credentials only from the Secret the component creates; never the chart's default password.
        "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        "replicas": grafana.replicas,
        # One replica on a ReadWriteOnce volume: a rolling update's new pod (maybe on another node) could
        # never attach the volume while the old one holds it, and the atomic release would roll back.
        "deploymentStrategy": {"type": "Recreate"},
        "persistence": {"enabled": True, "type": "pvc", "size": grafana.storage_size, "storageClassName": cfg.prometheus.storage_class},
        "serviceAccount": {"create": False, "name": GRAFANA_SERVICE_ACCOUNT},
        "rbac": {"useExistingClusterRole": GRAFANA_SIDECAR_CLUSTER_ROLE},
        "sidecar": {
            "dashboards": {**_sidecar_label(GRAFANA_DASHBOARD_LABEL), "enabled": True, "searchNamespace": "ALL", "resource": "configmap"},
            "datasources": {**_sidecar_label(GRAFANA_DATASOURCE_LABEL), "enabled": True, "resource": "configmap"},
        },
        "additionalDataSources": [],
    }
    if retain_volume:
        # Helm leaves a resource with this annotation in place when the release is uninstalled.
        values["persistence"]["annotations"] = {"helm.sh/resource-policy": "keep"}
    if cloudwatch:
        values["additionalDataSources"].append(
            {
                "name": "CloudWatch",
                "uid": CLOUDWATCH_DATASOURCE_UID,
                "type": "cloudwatch",
                "access": "proxy",
                # `default` is the AWS SDK chain: the pod's IRSA web identity, no keys anywhere.
                "jsonData": {"authType": "default", "defaultRegion": region},
            }
        )
    if grafana.ingress.enabled:
        scheme = "https" if grafana.ingress.certificate_arn else "http"
        # Links Grafana renders (alerts, shares, OAuth redirects) must use the public address.
        values["grafana.ini"] = {"server": {"root_url": f"{scheme}://{grafana.ingress.host}"}}
        values["ingress"] = {
            "enabled": True,
            "ingressClassName": "alb",
            "annotations": ingress_annotations(cfg),
            "hosts": [grafana.ingress.host],
            "path": "/",
        }
    return values
