"""The whole stack config: the cluster, the namespaces, and each area's section.

Each area keeps its own section model beside its components; this module only composes them.
Loading, cross-key checks and error reporting live in `loading.py`, `checks.py` and `errors.py`.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..aws.irsa import ClusterIdentity
from ..delivery.argo_rollouts import ArgoRolloutsConfig
from ..integrations.container_insights import ContainerInsightsConfig
from ..integrations.datadog import DatadogConfig
from ..integrations.kubecost import KubecostConfig
from ..lib.types import DnsLabel, Model
from ..logging.config import FluentBitConfig, LokiConfig
from ..logging.control_plane import ControlPlaneLogsConfig
from ..logging.control_plane import log_group_name as control_plane_log_group
from ..logging.logql import ServiceLogs
from ..metrics.config import PLATFORM_TEAM, AlertingConfig, PrometheusStackConfig
from ..metrics.dcgm import DcgmExporterConfig
from ..services.config import ServiceConfig

_OIDC_ARN_RE = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):oidc-provider/(oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/id/[A-F0-9]{32})$"
)
_REGION_RE = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d$")


class ClusterConfig(Model):
    name: DnsLabel = Field(description="EKS cluster name; used in resource names and the CloudWatch log group.")
    region: str = Field(description="AWS region of the cluster, e.g. `ap-northeast-2`.")
    oidc_provider_arn: Optional[str] = Field(
        None,
        description="ARN of the cluster's IAM OIDC provider (IRSA). The issuer URL is derived from it. "
        "Required when any component needs AWS access (Loki, Fluent Bit, Grafana CloudWatch, Container Insights).",
    )
    kubeconfig_context: Optional[str] = Field(
        None, description="kubeconfig context for the Kubernetes provider; empty uses the current context."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags added to every AWS resource.")
    adopt_existing_objects: bool = Field(
        False,
        description="Adopt Kubernetes objects that already exist under the names this program uses (a hand-made Service or "
        "Rollout of a service) instead of failing with AlreadyExists. Adopted Services and Rollouts are then retained on "
        "delete: removing a `services` entry never deletes a team's workload. See README, Adopting an existing cluster.",
    )
    network_policies: bool = Field(
        True,
        description="Restrict who reaches Loki, Prometheus and Alertmanager inside the cluster (needs the VPC CNI's network policy "
        "agent, `enableNetworkPolicy`, to be enforced).",
    )
    create_storage_class: bool = Field(
        False,
        description="Create the `gp3` StorageClass (EBS CSI driver, encrypted, WaitForFirstConsumer) the platform's volumes use; "
        "leave false when the cluster already has one.",
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION_RE.match(value):
            raise ValueError("must be an AWS region such as us-east-1 or ap-northeast-2")
        return value

    @field_validator("oidc_provider_arn")
    @classmethod
    def _oidc(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _OIDC_ARN_RE.match(value):
            raise ValueError(
                "must be an EKS OIDC provider ARN: arn:aws:iam::<12-digit account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<32 hex>"
            )
        return value

    @model_validator(mode="after")
    def _oidc_region(self) -> ClusterConfig:
        match = _OIDC_ARN_RE.match(self.oidc_provider_arn or "")
        if match and match.group(3) != self.region:
            raise ValueError(f"oidcProviderArn is for region {match.group(3)} but region is {self.region}")
        return self

    @property
    def identity(self) -> Optional[ClusterIdentity]:
        """The IRSA identity of the cluster; None without an OIDC provider (validation then allows no AWS access)."""
        match = _OIDC_ARN_RE.match(self.oidc_provider_arn or "")
        if not match or self.oidc_provider_arn is None:
            return None
        return ClusterIdentity(oidc_provider_arn=self.oidc_provider_arn, oidc_issuer=match.group(2), region=self.region)

    def require_identity(self) -> ClusterIdentity:
        """The identity, for components that need AWS access; config validation has made sure it exists."""
        if self.identity is None:
            raise ValueError("cluster.oidcProviderArn is required here; cross-checks should have refused this config")
        return self.identity


class Namespaces(Model):
    monitoring: DnsLabel = Field("monitoring", description="Prometheus, Alertmanager, Grafana, DCGM exporter.")
    logging: DnsLabel = Field("logging", description="Loki and Fluent Bit.")
    rollouts: DnsLabel = Field("argo-rollouts", description="Argo Rollouts controller.")


class StackConfig(Model):
    """Everything under `eks-observability:` in a stack file."""

    cluster: ClusterConfig = Field(description="The EKS cluster this platform runs on.")
    environment: Literal["dev", "staging", "prod"] = Field(
        description="Environment class; `prod` runs replicated with disruption budgets and must protect its data."
    )
    protect_data: bool = Field(
        False, description="Protect stateful resources (bucket, log group, volumes) and retain them on delete. Required true in prod."
    )
    namespaces: Namespaces = Field(default_factory=Namespaces, description="Namespaces of the platform components.")
    prometheus_stack: PrometheusStackConfig = Field(default_factory=PrometheusStackConfig, description="kube-prometheus-stack.")
    alerting: AlertingConfig = Field(default_factory=AlertingConfig, description="Alertmanager routing and platform alert thresholds.")
    loki: LokiConfig = Field(default_factory=LokiConfig, description="Loki on S3.")
    fluent_bit: FluentBitConfig = Field(default_factory=FluentBitConfig, description="Fluent Bit to CloudWatch Logs and Loki.")
    control_plane_logs: ControlPlaneLogsConfig = Field(
        default_factory=ControlPlaneLogsConfig, description="EKS control-plane logs: the expected log types, their log group's retention."
    )
    dcgm_exporter: DcgmExporterConfig = Field(default_factory=DcgmExporterConfig, description="NVIDIA DCGM exporter.")
    argo_rollouts: ArgoRolloutsConfig = Field(default_factory=ArgoRolloutsConfig, description="Argo Rollouts.")
    datadog: DatadogConfig = Field(default_factory=DatadogConfig, description="Optional Datadog agent.")
    kubecost: KubecostConfig = Field(default_factory=KubecostConfig, description="Optional Kubecost.")
    container_insights: ContainerInsightsConfig = Field(
        default_factory=ContainerInsightsConfig, description="Optional CloudWatch Container Insights add-on."
    )
    services: list[ServiceConfig] = Field(default_factory=list, description="Services that get a monitoring stack each.")

    @property
    def prod(self) -> bool:
        """Replicas, disruption budgets and hard anti-affinity: sizing, never data safety (see `protect_data`)."""
        return self.environment == "prod"

    @property
    def grafana(self) -> bool:
        return self.prometheus_stack.enabled and self.prometheus_stack.grafana.enabled

    @property
    def logs_in_loki(self) -> bool:
        """Fluent Bit ships the containers' log lines to Loki."""
        return self.loki.enabled and self.fluent_bit.enabled and self.fluent_bit.send_to_loki

    @property
    def events_in_loki(self) -> bool:
        """Fluent Bit's events collector sends the cluster's Kubernetes events to Loki."""
        return self.logs_in_loki and self.fluent_bit.events.enabled

    def namespace_teams(self) -> dict[str, str]:
        """Each namespace whose services one team owns -> that team (`platform` for unowned services); a
        namespace shared by several teams' services belongs to none of them."""
        owners: dict[str, set[str]] = {}
        for service in self.services:
            owners.setdefault(service.namespace, set()).add(service.team or PLATFORM_TEAM)
        return {namespace: next(iter(teams)) for namespace, teams in sorted(owners.items()) if len(teams) == 1}

    def services_in_loki(self) -> list[ServiceLogs]:
        """The services whose log lines reach Loki (not in a namespace kept out of it), with their owning team."""
        kept_out = {*self.fluent_bit.exclude_namespaces, *self.fluent_bit.cloudwatch_only_namespaces}
        if not self.logs_in_loki:
            return []
        return [ServiceLogs(s.namespace, s.name, s.team or PLATFORM_TEAM) for s in self.services if s.namespace not in kept_out]

    def grafana_log_groups(self) -> list[str]:
        """The log groups Grafana's CloudWatch datasource may query: the containers' and the control plane's."""
        groups = [self.log_group_name] if self.fluent_bit.enabled else []
        if self.control_plane_logs.enabled:
            groups.append(control_plane_log_group(self.cluster.name))
        return groups

    @property
    def log_group_name(self) -> str:
        return self.fluent_bit.log_group_name or f"/aws/eks/{self.cluster.name}/containers"

    def needs_irsa(self) -> list[str]:
        """Dotted config paths of enabled components that need an IRSA role."""
        return [
            path
            for path, on in (
                ("loki.enabled", self.loki.enabled),
                ("fluentBit.enabled", self.fluent_bit.enabled),
                ("prometheusStack.grafana.cloudwatchDatasource", self.grafana and self.prometheus_stack.grafana.cloudwatch_datasource),
                ("containerInsights.enabled", self.container_insights.enabled),
                ("prometheusStack.backend.mode", self.prometheus_stack.enabled and self.prometheus_stack.backend.mode != "prometheus"),
            )
            if on
        ]
