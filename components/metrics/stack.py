"""kube-prometheus-stack: Prometheus, Alertmanager, Grafana, node-exporter, kube-state-metrics,
the prometheus-operator CRDs, the platform alert rules and the platform dashboards."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..aws.irsa import ClusterIdentity, IrsaRole, IrsaRoleArgs
from ..conventions import (
    BUDGETS_OVERVIEW_DASHBOARD_UID,
    DAEMONSET_RELEASE_TIMEOUT_S,
    ERROR_BUDGET_DASHBOARD_UID,
    MANAGED_BY_LABELS,
    OVERVIEW_DASHBOARD_UID,
    PROJECT,
    PROMETHEUS_OPERATOR_CRDS,
    PROMETHEUS_RELEASE,
    SECRET_DATA,
    SELECTOR_LABELS,
    SERVICE_DASHBOARD_UID,
)
from ..lib import iam
from ..lib.charts import chart_file
from ..lib.contract import MetricContract
from ..lib.helm import Chart, helm_release
from ..lib.options import child_opts
from ..lib.sidecar import dashboard_config_map
from ..services.dashboards import budgets_overview, error_budget, service_detail
from . import dashboards
from .alertmanager import RECEIVERS_SECRET, receiver_secret_keys
from .backend import grafana_datasources, prometheus_backend_values, serves_exemplars
from .config import AlertingConfig, PrometheusStackConfig
from .remote import MetricsBackend
from .rules import platform_rule_groups
from .values import (
    GRAFANA_ADMIN_SECRET,
    GRAFANA_SERVICE_ACCOUNT,
    GRAFANA_SIDECAR_CLUSTER_ROLE,
    kube_prometheus_stack_values,
    operator_crd_path,
)

CHART = Chart("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", PROMETHEUS_RELEASE)
# Key in the Grafana admin Secret -> the stack config secret that fills it.
GRAFANA_ADMIN_SECRETS = {"admin-password": "grafanaAdminPassword"}


class KubePrometheusStackArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: PrometheusStackConfig = Field(description="Validated `prometheusStack` stack config.")
    alerting: AlertingConfig = Field(description="Validated `alerting` stack config.")
    contracts: dict[str, MetricContract] = Field(
        default_factory=dict, description="Each service's metric contract, which the platform HTTP alerts and overview read."
    )
    cluster: Optional[ClusterIdentity] = Field(description="Cluster identity for Grafana's IRSA role; None without an OIDC provider.")
    namespace: str = Field(description="Namespace for the release, its secrets, rules and dashboards.")
    prod: bool = Field(description="Replicated, disruption budgets, hard anti-affinity.")
    retain_volumes: bool = Field(False, description="Keep Prometheus, Alertmanager and Grafana volumes on delete (protectData).")
    gpu_rules: bool = Field(description="Include the GPU alert group (DCGM exporter deployed).")
    log_group_names: list[str] = Field(default_factory=list, description="Log groups Grafana's CloudWatch datasource may query.")
    secrets: dict[str, Any] = Field(default_factory=dict, description="Secret Outputs by stack config key.")
    placeholder_secrets: bool = Field(False, description="The secrets are a preview's placeholders: Secrets ignore changes to their data.")
    external_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels on everything this Prometheus sends out (cluster, environment)."
    )
    backend: Optional[MetricsBackend] = Field(
        None, description="The AMP workspace or Thanos store this Prometheus feeds (prometheusStack.backend)."
    )
    trace_logs: bool = Field(False, description="Loki holds the services' log lines: exemplars link to them by trace id.")
    kubernetes_events: bool = Field(False, description="Loki holds the cluster's Kubernetes events: each service's dashboard shows its own.")
    cost: bool = Field(False, description="The cost model (Kubecost) is scraped: each service's dashboard shows its namespace's spend.")


class KubePrometheusStack(pulumi.ComponentResource):
    """Creates the prometheus-operator CRDs (from the pinned chart's own files, so a chart bump
    upgrades them; retained on delete, protected in prod), the Grafana admin Secret, the Alertmanager receivers Secret, Grafana's
    CloudWatch IRSA role, the kube-prometheus-stack release, the platform PrometheusRule and the
    platform dashboard ConfigMaps."""

    crds: list[pulumi.Resource]
    release: k8s.helm.v3.Release
    prometheus_url: str
    alertmanager_url: str
    grafana_url: str
    grafana_role_arn: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: KubePrometheusStackArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:metrics:KubePrometheusStack", name, None, opts)
        self._name, self._args, self._opts = name, args, opts
        self.crds = self._operator_crds()
        self.grafana_role_arn = None
        self._urls()
        depends = [*self.crds, *self._receivers_secret(), *self._grafana_identity()]
        cfg, backend = args.config, args.backend
        region = args.cluster.region if args.cluster else ""
        values = kube_prometheus_stack_values(
            cfg,
            args.alerting,
            region,
            args.prod,
            self._cloudwatch,
            args.retain_volumes,
            args.external_labels,
            backend=prometheus_backend_values(cfg.backend, backend.prometheus_role_arn, backend.remote_write) if backend else None,
            datasources=grafana_datasources(
                cfg.backend.mode,
                backend.query_url if backend else None,
                region,
                self.prometheus_url,
                cfg.prometheus.scrape_interval,
                trace_logs=args.trace_logs and cfg.prometheus.exemplars > 0,
            ),
        )
        self.release = helm_release(
            self,
            name,
            CHART,
            cfg.chart_version,
            args.namespace,
            values,
            opts,
            depends_on=depends,
            timeout=DAEMONSET_RELEASE_TIMEOUT_S,
            skip_crds=True,
        )
        self._rules_and_dashboards()
        self.register_outputs(
            {
                "prometheus_url": self.prometheus_url,
                "alertmanager_url": self.alertmanager_url,
                "grafana_url": self.grafana_url,
                "grafana_role_arn": self.grafana_role_arn,
            }
        )

    def _operator_crds(self) -> list[pulumi.Resource]:
        """The operator's CRDs from the pinned chart's own files (its `crds` subchart), so a chart bump
        upgrades them. Retained on delete in every stack and protected in prod: deleting a CRD deletes
        every object of its kind in the cluster, other teams' included. The options go on each CRD the
        ConfigFile registers too (a transform), as the provider does not pass them to its children."""
        version, prod = self._args.config.chart_version, self._args.prod

        def keep(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
            kept = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(retain_on_delete=True, protect=prod or None))
            return pulumi.ResourceTransformResult(props=args.props, opts=kept)

        opts = child_opts(self, self._opts, retain_on_delete=True, protect=prod or None, transforms=[keep])
        return [
            k8s.yaml.v2.ConfigFile(f"{self._name}-crd-{plural}", file=chart_file(CHART, version, operator_crd_path(plural)), opts=opts)
            for plural in PROMETHEUS_OPERATOR_CRDS
        ]

    @property
    def _exemplars(self) -> bool:
        """Whether the `prometheus` datasource, which the dashboards read, serves exemplars."""
        cfg = self._args.config
        return cfg.prometheus.exemplars > 0 and serves_exemplars(cfg.backend.mode)

    @property
    def _cloudwatch(self) -> bool:
        grafana = self._args.config.grafana
        return grafana.enabled and grafana.cloudwatch_datasource

    def _secret(self, role: str, secret: str, data: dict[str, Any]) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{self._name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=secret, namespace=self._args.namespace, labels=dict(MANAGED_BY_LABELS)),
            type="Opaque",
            string_data=data,
            opts=child_opts(self, self._opts, ignore_changes=SECRET_DATA if self._args.placeholder_secrets else None),
        )

    def _receivers_secret(self) -> list[pulumi.Resource]:
        """The Secret Alertmanager reads webhook URLs and routing keys from, when any receiver needs one."""
        keys = receiver_secret_keys(self._args.alerting)
        if not keys:
            return []
        return [self._secret("alertmanager-receivers", RECEIVERS_SECRET, {k: self._args.secrets[c] for k, c in keys.items()})]

    def _grafana_identity(self) -> list[pulumi.Resource]:
        """Grafana's admin Secret and the service account it runs as (with the IRSA role for CloudWatch)."""
        args = self._args
        if not args.config.grafana.enabled:
            return []
        data = {"admin-user": "admin", **{key: args.secrets[c] for key, c in GRAFANA_ADMIN_SECRETS.items()}}
        child = child_opts(self, self._opts)
        sidecar_role = k8s.rbac.v1.ClusterRole(
            f"{self._name}-grafana-sidecar-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_SIDECAR_CLUSTER_ROLE, labels=dict(MANAGED_BY_LABELS)),
            rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["configmaps"], verbs=["get", "list", "watch"])],
            opts=child,
        )
        created: list[pulumi.Resource] = [self._secret("grafana-admin", GRAFANA_ADMIN_SECRET, data), sidecar_role]
        workspace = args.backend.workspace_arn if args.backend else None
        if (self._cloudwatch or workspace is not None) and args.cluster is not None:
            cluster = args.cluster
            statements: list[Any] = []
            if self._cloudwatch:
                statements += iam.cloudwatch_reader(cluster.partition, cluster.region, cluster.account_id, args.log_group_names)[
                    "Statement"
                ]
            if workspace is not None:
                statements.append(workspace.apply(iam.amp_query_statement))
            policy = pulumi.Output.all(*statements).apply(lambda s: {"Version": "2012-10-17", "Statement": s})
            irsa = IrsaRole(
                f"{self._name}-grafana-irsa",
                IrsaRoleArgs(
                    cluster=cluster,
                    namespace=args.namespace,
                    service_account=GRAFANA_SERVICE_ACCOUNT,
                    policy=policy,
                ),
                opts=child,
            )
            self.grafana_role_arn = irsa.role_arn
            return [*created, irsa]
        metadata = k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_SERVICE_ACCOUNT, namespace=args.namespace, labels=dict(MANAGED_BY_LABELS))
        return [*created, k8s.core.v1.ServiceAccount(f"{self._name}-grafana-sa", metadata=metadata, opts=child)]

    def _rules_and_dashboards(self) -> None:
        args, name, child = self._args, self._name, child_opts(self, self._opts)
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-platform-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="platform-alerts", namespace=args.namespace, labels={**MANAGED_BY_LABELS, **SELECTOR_LABELS}
            ),
            spec={"groups": platform_rule_groups(args.alerting, args.contracts, args.gpu_rules)},
            opts=child_opts(self, self._opts, depends_on=self.crds),
        )
        self.overview = dashboard_config_map(
            f"{name}-dashboard-overview", OVERVIEW_DASHBOARD_UID, args.namespace, dashboards.platform_overview(args.contracts), child
        )
        self.services_dashboard = dashboard_config_map(
            f"{name}-dashboard-services", SERVICE_DASHBOARD_UID, args.namespace, service_detail(MetricContract(), exemplars=self._exemplars, events=args.kubernetes_events, cost=args.cost), child
        )
        self.budget_dashboards = [
            dashboard_config_map(f"{name}-dashboard-{uid}", uid, args.namespace, body, child)
            for uid, body in ((ERROR_BUDGET_DASHBOARD_UID, error_budget()), (BUDGETS_OVERVIEW_DASHBOARD_UID, budgets_overview()))
        ]

    def _urls(self) -> None:
        ns, ingress = self._args.namespace, self._args.config.grafana.ingress
        self.prometheus_url = f"http://{PROMETHEUS_RELEASE}-prometheus.{ns}.svc.cluster.local:9090"
        self.alertmanager_url = f"http://{PROMETHEUS_RELEASE}-alertmanager.{ns}.svc.cluster.local:9093"
        scheme = "https" if ingress.certificate_arn else "http"
        self.grafana_url = (
            f"{scheme}://{ingress.host}" if ingress.enabled else f"http://{PROMETHEUS_RELEASE}-grafana.{ns}.svc.cluster.local"
        )
