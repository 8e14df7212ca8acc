"""kube-prometheus-stack: Prometheus, Alertmanager, Grafana, node-exporter, kube-state-metrics,
the prometheus-operator CRDs, the platform alert rules and the platform dashboards."""

from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from . import dashboards, iam
from .config import AlertingConfig, ClusterConfig, MetricContract, PrometheusStackConfig
from .conventions import (
    KUBE_PROMETHEUS_STACK_OPERATOR,
    MANAGED_BY_LABELS,
    PROMETHEUS_OPERATOR_CRDS,
    PROMETHEUS_RELEASE,
    SELECTOR_LABELS,
    SERVICE_DASHBOARD_UID,
    TYPE_PREFIX,
)
from .helm import helm_release
from .irsa import IrsaRole, IrsaRoleArgs
from .options import child_opts
from .platform_rules import platform_rule_groups
from .routing import RECEIVERS_SECRET, alertmanager_config, receiver_secret_keys
from .sidecar import dashboard_config_map

CHART = "kube-prometheus-stack"
REPOSITORY = "https://prometheus-community.github.io/helm-charts"
GRAFANA_SERVICE_ACCOUNT = "grafana"
GRAFANA_ADMIN_SECRET = "grafana-admin"
# Control-plane components EKS runs for us: nothing in the cluster can scrape them, so their
# scrapes and alerts would be down forever. kube-proxy binds its metrics to 127.0.0.1 on EKS.
EKS_UNSCRAPEABLE = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")
EKS_UNSCRAPEABLE_RULES = ("etcd", "kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "kubeProxy", "windows")


def crd_url(operator_version: str, plural: str) -> str:
    return (
        "https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/"
        f"{operator_version}/example/prometheus-operator-crd/monitoring.coreos.com_{plural}.yaml"
    )


def _selector() -> dict[str, Any]:
    return {"matchLabels": dict(SELECTOR_LABELS)}


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


RETAIN_VOLUMES = {"whenDeleted": "Retain", "whenScaled": "Retain"}


def kube_prometheus_stack_values(
    cfg: PrometheusStackConfig,
    alerting: AlertingConfig,
    region: str,
    prod: bool,
    cloudwatch: bool,
    retain_volumes: bool = False,
) -> dict[str, Any]:
    """Helm values for kube-prometheus-stack (CRDs are applied separately, see the component).

    `retain_volumes` keeps the Prometheus and Alertmanager volumes when their StatefulSets are
    deleted or scaled down, and Grafana's volume when the release is uninstalled.
    """
    prom, am, grafana = cfg.prometheus, cfg.alertmanager, cfg.grafana
    anti_affinity = "hard" if prod else "soft"
    spec: dict[str, Any] = {
        "replicas": prom.replicas,
        "retention": prom.retention,
        "retentionSize": prom.retention_size,
        "scrapeInterval": prom.scrape_interval,
        "evaluationInterval": prom.scrape_interval,
        "resources": prom.resources.as_k8s(),
        "storageSpec": _volume_claim(prom.storage_class, prom.storage_size),
        "podAntiAffinity": anti_affinity,
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
    values: dict[str, Any] = {
        "crds": {"enabled": False},
        "defaultRules": {"create": True, "rules": {name: False for name in EKS_UNSCRAPEABLE_RULES}},
        **{component: {"enabled": False} for component in EKS_UNSCRAPEABLE},
        "nodeExporter": {"enabled": True},
        "kubeStateMetrics": {"enabled": True},
        "prometheus": {"prometheusSpec": spec},
        "alertmanager": {
            "config": alertmanager_config(alerting),
            "alertmanagerSpec": {
                "replicas": am.replicas,
                "retention": am.retention,
                "storage": _volume_claim(prom.storage_class, am.storage_size),
                "podAntiAffinity": anti_affinity,
                # Mounted at /etc/alertmanager/secrets/<name>/: the config reads receivers from files.
                "secrets": [RECEIVERS_SECRET] if receiver_secret_keys(alerting) else [],
            },
        },
        "grafana": {"enabled": False},
    }
    if retain_volumes:
        spec["persistentVolumeClaimRetentionPolicy"] = dict(RETAIN_VOLUMES)
        values["alertmanager"]["alertmanagerSpec"]["persistentVolumeClaimRetentionPolicy"] = dict(RETAIN_VOLUMES)
    if prod:
        values["prometheus"]["podDisruptionBudget"] = {"enabled": True, "minAvailable": 1}
        values["alertmanager"]["podDisruptionBudget"] = {"enabled": True, "minAvailable": max(1, am.replicas - 1)}
    if grafana.enabled:
        values["grafana"] = grafana_values(cfg, region, cloudwatch, retain_volumes)
    return values


def grafana_values(cfg: PrometheusStackConfig, region: str, cloudwatch: bool, retain_volume: bool = False) -> dict[str, Any]:
    grafana = cfg.grafana
    values: dict[str, Any] = {
        "enabled": True,
        # Credentials only from the Secret the component creates; never the chart's default password.
        "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        "replicas": grafana.replicas,
        "persistence": {"enabled": True, "type": "pvc", "size": grafana.storage_size, "storageClassName": cfg.prometheus.storage_class},
        "serviceAccount": {"create": False, "name": GRAFANA_SERVICE_ACCOUNT},
        "sidecar": {
            "dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1", "searchNamespace": "ALL"},
            "datasources": {"enabled": True, "label": "grafana_datasource", "labelValue": "1"},
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
                "uid": "cloudwatch",
                "type": "cloudwatch",
                "access": "proxy",
                # `default` is the AWS SDK chain: the pod's IRSA web identity, no keys anywhere.
                "jsonData": {"authType": "default", "defaultRegion": region},
            }
        )
    if grafana.ingress.enabled:
        values["ingress"] = {
            "enabled": True,
            "ingressClassName": "alb",
            "annotations": ingress_annotations(cfg),
            "hosts": [grafana.ingress.host],
            "path": "/",
        }
    return values


class KubePrometheusStackArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: PrometheusStackConfig = Field(description="Validated `prometheusStack` stack config.")
    alerting: AlertingConfig = Field(description="Validated `alerting` stack config.")
    contract: MetricContract = Field(description="Metric contract the platform HTTP alerts read.")
    cluster: ClusterConfig = Field(description="Cluster (region, OIDC provider for Grafana's IRSA role).")
    namespace: str = Field(description="Namespace for the release, its secrets, rules and dashboards.")
    prod: bool = Field(description="Replicated, disruption budgets, hard anti-affinity.")
    retain_volumes: bool = Field(False, description="Keep Prometheus, Alertmanager and Grafana volumes on delete (protectData).")
    gpu_rules: bool = Field(description="Include the GPU alert group (DCGM exporter deployed).")
    log_group_names: list[str] = Field(default_factory=list, description="Log groups Grafana's CloudWatch datasource may query.")
    secrets: dict[str, Any] = Field(default_factory=dict, description="Secret Outputs by stack config key.")


class KubePrometheusStack(pulumi.ComponentResource):
    """Creates the prometheus-operator CRDs (from the operator release the pinned chart runs, so a
    chart bump upgrades them), the Grafana admin Secret, the Alertmanager receivers Secret, Grafana's
    CloudWatch IRSA role, the kube-prometheus-stack release, the platform PrometheusRule and the
    platform dashboard ConfigMap."""

    crds: list[pulumi.Resource]
    prometheus_url: str
    alertmanager_url: str
    grafana_url: str
    grafana_role_arn: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: KubePrometheusStackArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}:metrics:KubePrometheusStack", name, None, opts)
        cfg, ns = args.config, args.namespace
        child = child_opts(self, opts)
        operator = KUBE_PROMETHEUS_STACK_OPERATOR[cfg.chart_version]
        self.crds = [
            k8s.yaml.v2.ConfigFile(f"{name}-crd-{plural}", file=crd_url(operator, plural), opts=child)
            for plural in PROMETHEUS_OPERATOR_CRDS
        ]
        after_crds = child_opts(self, opts, depends_on=self.crds)

        depends: list[pulumi.Resource] = list(self.crds)
        receiver_keys = receiver_secret_keys(args.alerting)
        if receiver_keys:
            depends.append(
                k8s.core.v1.Secret(
                    f"{name}-alertmanager-receivers",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=RECEIVERS_SECRET, namespace=ns, labels=dict(MANAGED_BY_LABELS)),
                    type="Opaque",
                    string_data={key: args.secrets[config_key] for key, config_key in receiver_keys.items()},
                    opts=child,
                )
            )
        cloudwatch = cfg.grafana.enabled and cfg.grafana.cloudwatch_datasource
        self.grafana_role_arn = None
        if cfg.grafana.enabled:
            depends.append(
                k8s.core.v1.Secret(
                    f"{name}-grafana-admin",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_ADMIN_SECRET, namespace=ns, labels=dict(MANAGED_BY_LABELS)),
                    type="Opaque",
                    string_data={"admin-user": "admin", "admin-password": args.secrets["grafanaAdminPassword"]},
                    opts=child,
                )
            )
            # Grafana always runs as this service account; with CloudWatch it carries the IRSA role.
            if cloudwatch:
                cluster = args.cluster
                grafana_irsa = IrsaRole(
                    f"{name}-grafana-irsa",
                    IrsaRoleArgs(
                        namespace=ns,
                        service_account=GRAFANA_SERVICE_ACCOUNT,
                        oidc_provider_arn=cluster.oidc_provider_arn,
                        oidc_issuer=cluster.oidc_issuer,
                        policy=json.dumps(
                            iam.cloudwatch_reader(cluster.partition, cluster.region, cluster.account_id or "", args.log_group_names),
                            sort_keys=True,
                        ),
                    ),
                    opts=child,
                )
                self.grafana_role_arn = grafana_irsa.role_arn
                depends.append(grafana_irsa)
            else:
                depends.append(
                    k8s.core.v1.ServiceAccount(
                        f"{name}-grafana-sa",
                        metadata=k8s.meta.v1.ObjectMetaArgs(
                            name=GRAFANA_SERVICE_ACCOUNT, namespace=ns, labels=dict(MANAGED_BY_LABELS)
                        ),
                        opts=child,
                    )
                )

        self.release = helm_release(
            self,
            f"{name}-release",
            release=PROMETHEUS_RELEASE,
            chart=CHART,
            repository=REPOSITORY,
            version=cfg.chart_version,
            namespace=ns,
            values=kube_prometheus_stack_values(cfg, args.alerting, args.cluster.region, args.prod, cloudwatch, args.retain_volumes),
            opts=opts,
            depends_on=depends,
            timeout=900,
            skip_crds=True,
        )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-platform-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="platform-alerts", namespace=ns, labels={**MANAGED_BY_LABELS, **SELECTOR_LABELS}
            ),
            spec={"groups": platform_rule_groups(args.alerting, args.contract, args.gpu_rules)},
            opts=after_crds,
        )
        self.overview = dashboard_config_map(
            f"{name}-dashboard-overview", "platform-overview", ns, dashboards.platform_overview(args.contract), child
        )
        self.services_dashboard = dashboard_config_map(
            f"{name}-dashboard-services", "service-detail", ns, dashboards.service_detail(SERVICE_DASHBOARD_UID, args.contract), child
        )
        self.prometheus_url = f"http://{PROMETHEUS_RELEASE}-prometheus.{ns}.svc.cluster.local:9090"
        self.alertmanager_url = f"http://{PROMETHEUS_RELEASE}-alertmanager.{ns}.svc.cluster.local:9093"
        ingress = cfg.grafana.ingress
        scheme = "https" if ingress.certificate_arn else "http"
        self.grafana_url = (
            f"{scheme}://{ingress.host}" if ingress.enabled else f"http://{PROMETHEUS_RELEASE}-grafana.{ns}.svc.cluster.local"
        )
        self.register_outputs(
            {
                "prometheus_url": self.prometheus_url,
                "alertmanager_url": self.alertmanager_url,
                "grafana_url": self.grafana_url,
                "grafana_role_arn": self.grafana_role_arn,
            }
        )
