"""Typed stack configuration.

Every key of `Pulumi.<stack>.yaml` under the `eks-observability:` namespace is validated here,
before any resource is registered. Errors come back together, one line per problem, each naming
the full key path (`eks-observability:services[3].port`), the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from typing import Annotated, Any, Literal, Optional, Union

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .conventions import (
    DEFAULT_ALLOWED_LABELS,
    DEFAULT_DURATION_METRIC,
    DEFAULT_REQUESTS_METRIC,
    FORBIDDEN_LABELS,
    KUBE_PROMETHEUS_STACK_OPERATOR,
    PROJECT,
    SECRET_CONFIG_KEYS,
)

# --- value types ---------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS_S = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_QUANTITY_RE = re.compile(
    r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BYTE_SIZE_RE = re.compile(r"^(?:[0-9]*\.)?[0-9]+(?:[KMGTPE]i?)?B$")
_DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_OIDC_ARN_RE = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):oidc-provider/(oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/id/[A-F0-9]{32})$"
)
_KMS_ARN_RE = re.compile(r"^arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[A-Za-z0-9/_-]+$")
_REGION_RE = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d$")
_IMAGE_RE = re.compile(r"^[a-z0-9]+(?:[._/:-][a-zA-Z0-9_.-]+)*(?:@sha256:[a-f0-9]{64})?$")
_SEMVER_RE = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOG_GROUP_RE = re.compile(r"^[\w./#-]{1,512}$")
# CloudWatch Logs accepts only these retention periods (days).
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration such as `1h30m`."""
    match = _DURATION_RE.match(value)
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return sum(int(g) * unit for g, unit in zip(match.groups(), _DURATION_UNITS_S) if g)


def _check_duration(value: str) -> str:
    if not isinstance(value, str) or not value or not _DURATION_RE.match(value):
        raise ValueError("must be a Prometheus duration such as 30s, 5m, 1h30m or 15d (units ms, s, m, h, d, w, y)")
    if duration_seconds(value) <= 0:
        raise ValueError("must be a positive duration such as 30s or 5m")
    return value


def _check_quantity(value: str) -> str:
    if not _QUANTITY_RE.match(value):
        raise ValueError("must be a Kubernetes quantity such as 500m, 2, 512Mi or 100Gi")
    return value


def _check_byte_size(value: str) -> str:
    if not _BYTE_SIZE_RE.match(value):
        raise ValueError("must be a Prometheus byte size such as 512MB, 45GB or 1TiB")
    return value


def _check_dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL_RE.match(value):
        raise ValueError(
            "must be a DNS-1123 label: at most 63 lower-case letters, digits or '-', starting and ending with a letter or digit"
        )
    return value


def _check_chart_version(value: str) -> str:
    if not _SEMVER_RE.match(value):
        raise ValueError("must be an exact chart version such as 1.2.3 (ranges are not allowed: versions are pinned)")
    return value


def _check_retention_days(value: int) -> int:
    if value not in CLOUDWATCH_RETENTION_DAYS:
        raise ValueError(f"must be one of the retention periods CloudWatch Logs accepts: {list(CLOUDWATCH_RETENTION_DAYS)}")
    return value


def _check_kms_key_arn(value: str) -> str:
    if not _KMS_ARN_RE.match(value):
        raise ValueError("must be a KMS key ARN: arn:aws:kms:<region>:<account>:key/<id>")
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
RetentionDays = Annotated[int, AfterValidator(_check_retention_days)]
KmsKeyArn = Annotated[str, AfterValidator(_check_kms_key_arn)]
Quantity = Annotated[str, AfterValidator(_check_quantity)]
ByteSize = Annotated[str, AfterValidator(_check_byte_size)]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
ChartVersion = Annotated[str, AfterValidator(_check_chart_version)]


class Model(BaseModel):
    """Base for every config model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, validate_default=True
    )


# --- shared pieces -------------------------------------------------------------------------------


class ResourceList(Model):
    cpu: Optional[Quantity] = Field(None, description="CPU, e.g. `500m`.")
    memory: Optional[Quantity] = Field(None, description="Memory, e.g. `512Mi`.")


class Resources(Model):
    requests: ResourceList = Field(default_factory=ResourceList, description="Scheduling requests.")
    limits: ResourceList = Field(default_factory=ResourceList, description="Hard limits (memory limits protect the node).")

    def as_k8s(self) -> dict[str, dict[str, str]]:
        return {
            kind: {k: v for k, v in getattr(self, kind).model_dump().items() if v is not None}
            for kind in ("requests", "limits")
            if any(v is not None for v in getattr(self, kind).model_dump().values())
        }


class Toleration(Model):
    key: str = Field(description="Taint key to tolerate, e.g. `nvidia.com/gpu`.")
    operator: Literal["Exists", "Equal"] = Field("Exists", description="`Exists` or `Equal`.")
    value: Optional[str] = Field(None, description="Taint value, with operator `Equal`.")
    effect: Optional[Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]] = Field(
        None, description="Taint effect; empty tolerates every effect."
    )

    @model_validator(mode="after")
    def _value_needs_equal(self) -> "Toleration":
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("a toleration with operator Exists must not set value; use operator Equal")
        return self


# --- cluster -------------------------------------------------------------------------------------


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
    def _oidc_region(self) -> "ClusterConfig":
        if self.oidc_provider_arn:
            arn_region = _OIDC_ARN_RE.match(self.oidc_provider_arn).group(3)  # type: ignore[union-attr]
            if arn_region != self.region:
                raise ValueError(f"oidcProviderArn is for region {arn_region} but region is {self.region}")
        return self

    @property
    def partition(self) -> str:
        return (self.oidc_provider_arn or "arn:aws:").split(":")[1]

    @property
    def account_id(self) -> Optional[str]:
        match = _OIDC_ARN_RE.match(self.oidc_provider_arn or "")
        return match.group(1) if match else None

    @property
    def oidc_issuer(self) -> Optional[str]:
        """Issuer host/path, the prefix of the `:sub` and `:aud` condition keys."""
        match = _OIDC_ARN_RE.match(self.oidc_provider_arn or "")
        return match.group(2) if match else None


class Namespaces(Model):
    monitoring: DnsLabel = Field("monitoring", description="Prometheus, Alertmanager, Grafana, DCGM exporter.")
    logging: DnsLabel = Field("logging", description="Loki and Fluent Bit.")
    rollouts: DnsLabel = Field("argo-rollouts", description="Argo Rollouts controller.")


# --- metrics platform ----------------------------------------------------------------------------


class PrometheusConfig(Model):
    replicas: int = Field(1, ge=1, le=5, description="Prometheus replicas (2+ in prod for HA).")
    retention: Duration = Field("15d", description="How long samples are kept.")
    retention_size: ByteSize = Field("45GB", description="Size cap before the oldest blocks are dropped; keep below the volume size.")
    storage_size: Quantity = Field("50Gi", description="Volume claim size per replica.")
    storage_class: str = Field("gp3", description="StorageClass of the volume claim template.")
    scrape_interval: Duration = Field("30s", description="Default scrape interval.")
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="500m", memory="2Gi"), limits=ResourceList(memory="4Gi")
        ),
        description="Prometheus container resources.",
    )


class AlertmanagerConfig(Model):
    replicas: int = Field(1, ge=1, le=5, description="Alertmanager replicas (3 in prod for a gossip quorum).")
    storage_size: Quantity = Field("5Gi", description="Volume claim size for silences and notification log.")
    retention: Duration = Field("120h", description="How long silences and the notification log are kept.")


class IngressConfig(Model):
    enabled: bool = Field(False, description="Expose Grafana through an AWS ALB ingress.")
    host: Optional[str] = Field(None, description="Public host name; required when enabled.")
    certificate_arn: Optional[str] = Field(None, description="ACM certificate ARN for HTTPS.")
    scheme: Literal["internal", "internet-facing"] = Field("internal", description="ALB scheme.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Extra ingress annotations (e.g. `alb.ingress.kubernetes.io/group.name`); override the defaults."
    )

    @model_validator(mode="after")
    def _host_required(self) -> "IngressConfig":
        if self.enabled and not self.host:
            raise ValueError("host is required when ingress is enabled")
        return self


class GrafanaConfig(Model):
    enabled: bool = Field(True, description="Deploy Grafana.")
    replicas: int = Field(1, ge=1, le=5, description="Grafana replicas; 1 while Grafana keeps its database on its volume.")
    storage_size: Quantity = Field("10Gi", description="Persistent volume size.")
    cloudwatch_datasource: bool = Field(True, description="Add the CloudWatch datasource (IRSA role scoped to read-only CloudWatch).")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Optional ALB ingress.")

    @field_validator("replicas")
    @classmethod
    def _single(cls, value: int) -> int:
        if value != 1:
            raise ValueError(
                "must be 1: Grafana keeps its SQLite database on a ReadWriteOnce volume that replicas cannot share"
            )
        return value


class PrometheusStackConfig(Model):
    enabled: bool = Field(True, description="Deploy kube-prometheus-stack.")
    chart_version: ChartVersion = Field(
        "88.5.3", description="Pinned kube-prometheus-stack chart version; its CRDs are applied and upgraded with it."
    )
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig, description="Prometheus settings.")

    @field_validator("chart_version")
    @classmethod
    def _known_operator(cls, value: str) -> str:
        if value not in KUBE_PROMETHEUS_STACK_OPERATOR:
            raise ValueError(
                f"has no known prometheus-operator version, so its CRDs cannot be upgraded with it; known: "
                f"{sorted(KUBE_PROMETHEUS_STACK_OPERATOR)}. Add the chart's appVersion to "
                "KUBE_PROMETHEUS_STACK_OPERATOR in components/conventions.py"
            )
        return value
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig, description="Alertmanager settings.")
    grafana: GrafanaConfig = Field(default_factory=GrafanaConfig, description="Grafana settings.")


class SlackConfig(Model):
    enabled: bool = Field(False, description="Send alerts to Slack (webhook URLs from secrets).")
    critical_channel: str = Field("#alerts-critical", description="Channel for severity=critical.")
    warning_channel: str = Field("#alerts-warning", description="Channel for severity=warning.")

    @field_validator("critical_channel", "warning_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not re.match(r"^#[a-z0-9][a-z0-9_-]{0,79}$", value):
            raise ValueError("must be a Slack channel name such as #alerts-critical")
        return value


class PagerDutyConfig(Model):
    enabled: bool = Field(False, description="Page PagerDuty for severity=critical (routing key from a secret).")


class AlertThresholds(Model):
    error_rate_ratio: float = Field(0.05, gt=0, lt=1, description="Platform high-error-rate alert: 5xx ratio above this.")
    error_rate_for: Duration = Field("5m", description="How long the error rate must hold.")
    latency_p99_seconds: float = Field(5.0, gt=0, le=300, description="Platform high-latency alert: p99 above this.")
    latency_for: Duration = Field("10m", description="How long the p99 latency must hold.")
    node_down_for: Duration = Field("5m", description="How long a node exporter must be unreachable.")
    node_not_ready_for: Duration = Field("10m", description="How long a node must be NotReady.")
    crash_loop_for: Duration = Field("15m", description="How long a container must be in CrashLoopBackOff.")
    cpu_saturation_ratio: float = Field(0.9, gt=0, lt=1, description="Node CPU busy ratio above which the alert fires.")
    memory_saturation_ratio: float = Field(0.9, gt=0, lt=1, description="Node memory used ratio above which the alert fires.")
    saturation_for: Duration = Field("15m", description="How long CPU or memory saturation must hold.")
    disk_free_ratio: float = Field(0.15, gt=0, lt=1, description="Node disk free ratio below which the alert fires.")
    disk_free_for: Duration = Field("10m", description="How long disk must stay low.")
    gpu_temperature_celsius: float = Field(85, gt=0, le=120, description="GPU temperature alert threshold.")
    gpu_temperature_for: Duration = Field("5m", description="How long the GPU temperature must hold.")
    gpu_memory_ratio: float = Field(0.95, gt=0, lt=1, description="GPU framebuffer used ratio alert threshold.")
    gpu_memory_for: Duration = Field("10m", description="How long GPU memory must stay almost full.")


class AlertingConfig(Model):
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "namespace", "service"], description="Alertmanager group_by.")
    group_wait: Duration = Field("30s", description="Alertmanager group_wait.")
    group_interval: Duration = Field("5m", description="Alertmanager group_interval.")
    repeat_interval: Duration = Field("4h", description="Alertmanager repeat_interval.")
    slack: SlackConfig = Field(default_factory=SlackConfig, description="Slack receivers.")
    pagerduty: PagerDutyConfig = Field(default_factory=PagerDutyConfig, description="PagerDuty receiver.")
    thresholds: AlertThresholds = Field(default_factory=AlertThresholds, description="Platform alert thresholds.")
    runbook_base_url: str = Field(
        "https://github.com/eks-observability/eks-observability/blob/main/docs/runbooks.md",
        description="Base URL of the runbooks; each alert links `<base>#<alert-name-lowercase>`.",
    )

    @field_validator("group_by")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v != "..." and not _LABEL_NAME_RE.match(v)]
        if bad:
            raise ValueError(f"{bad} are not Prometheus label names")
        return value


# --- logging -------------------------------------------------------------------------------------


class LokiConfig(Model):
    enabled: bool = Field(True, description="Deploy Loki on S3.")
    chart_version: ChartVersion = Field("18.11.0", description="Pinned grafana-community `loki` chart version.")
    deployment_mode: Literal["SingleBinary", "SimpleScalable"] = Field("SingleBinary", description="Loki deployment mode.")
    replicas: int = Field(1, ge=1, le=10, description="Replicas per Loki target (single binary or each of read/write/backend).")
    retention: Duration = Field("360h", description="Log retention; the S3 chunk lifecycle is derived from it.")
    delete_delay: Duration = Field("2h", description="Compactor delete delay; added to retention for the S3 lifecycle.")
    bucket_name: Optional[str] = Field(None, description="Explicit S3 bucket name; empty lets Pulumi auto-name it.")
    kms_key_arn: Optional[KmsKeyArn] = Field(None, description="KMS key for SSE-KMS; empty uses SSE-S3 (AES256).")
    storage_size: Quantity = Field("10Gi", description="Volume for the WAL / compactor working directory.")
    resources: Resources = Field(
        default_factory=lambda: Resources(requests=ResourceList(cpu="250m", memory="512Mi"), limits=ResourceList(memory="1Gi")),
        description="Loki container resources.",
    )

    @field_validator("bucket_name")
    @classmethod
    def _bucket(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and (not _BUCKET_RE.match(value) or ".." in value):
            raise ValueError("must be a valid S3 bucket name: 3-63 lower-case letters, digits, '.' or '-'")
        return value

    @model_validator(mode="after")
    def _mode_replicas(self) -> "LokiConfig":
        if self.deployment_mode == "SingleBinary" and self.replicas > 1:
            raise ValueError("SingleBinary mode with more than one replica needs a shared ring; use deploymentMode SimpleScalable")
        return self


class FluentBitConfig(Model):
    enabled: bool = Field(True, description="Deploy Fluent Bit.")
    chart_version: ChartVersion = Field("0.58.1", description="Pinned fluent `fluent-bit` chart version.")
    log_group_name: Optional[str] = Field(None, description="CloudWatch log group; default `/aws/eks/<cluster>/containers`.")
    retention_days: RetentionDays = Field(30, description="CloudWatch log group retention in days.")
    kms_key_arn: Optional[KmsKeyArn] = Field(None, description="KMS key for the log group; empty uses CloudWatch's default encryption.")
    exclude_namespaces: list[DnsLabel] = Field(default_factory=lambda: ["kube-system"], description="Namespaces whose logs are dropped.")
    mem_buf_limit: str = Field("50MB", description="Memory buffer limit of the tail input.")
    send_to_loki: bool = Field(True, description="Also ship logs to Loki.")
    resources: Resources = Field(
        default_factory=lambda: Resources(requests=ResourceList(cpu="100m", memory="128Mi"), limits=ResourceList(memory="256Mi")),
        description="Fluent Bit container resources.",
    )

    @field_validator("log_group_name")
    @classmethod
    def _log_group(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _LOG_GROUP_RE.match(value):
            raise ValueError("must be a CloudWatch log group name: 1-512 of letters, digits, '_', '-', '/', '.', '#'")
        return value

    @field_validator("mem_buf_limit")
    @classmethod
    def _mem(cls, value: str) -> str:
        if not re.match(r"^[1-9][0-9]*[KMG]B$", value):
            raise ValueError("must be a Fluent Bit size such as 5MB or 50MB")
        return value


# --- GPU, rollouts, optional integrations ----------------------------------------------------------


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
    def _gpu_only(self) -> "DcgmExporterConfig":
        if self.enabled and not self.node_selector:
            raise ValueError("nodeSelector must not be empty: the exporter would be scheduled on nodes without GPUs")
        return self


class ArgoRolloutsConfig(Model):
    enabled: bool = Field(True, description="Deploy the Argo Rollouts controller.")
    chart_version: ChartVersion = Field("2.41.0", description="Pinned `argo-rollouts` chart version.")
    replicas: int = Field(1, ge=1, le=3, description="Controller replicas (leader election above one).")
    dashboard: bool = Field(True, description="Deploy the Rollouts dashboard.")


class DatadogConfig(Model):
    enabled: bool = Field(False, description="Deploy the Datadog agent (API/app keys from secrets).")
    chart_version: ChartVersion = Field("3.72.1", description="Pinned `datadog` chart version.")
    site: str = Field("datadoghq.com", description="Datadog site.")


class KubecostConfig(Model):
    enabled: bool = Field(False, description="Deploy Kubecost (cost-analyzer).")
    chart_version: ChartVersion = Field("2.8.2", description="Pinned `cost-analyzer` chart version.")


class ContainerInsightsConfig(Model):
    enabled: bool = Field(False, description="Install the amazon-cloudwatch-observability EKS add-on with its IRSA role.")
    addon_version: str = Field("v4.4.0-eksbuild.1", description="Pinned add-on version.")
    retention_days: RetentionDays = Field(30, description="Retention of the Container Insights performance log group.")

    @field_validator("addon_version")
    @classmethod
    def _addon_version(cls, value: str) -> str:
        if not re.match(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$", value):
            raise ValueError("must be an exact EKS add-on version such as v4.4.0-eksbuild.1")
        return value


# --- services ------------------------------------------------------------------------------------


class CanaryStep(Model):
    set_weight: Optional[int] = Field(None, description="Shift this percentage of traffic to the canary.")
    pause: Optional[Duration] = Field(None, description="Wait this long.")
    analysis: Optional[bool] = Field(None, description="Run the AnalysisTemplate inline; must be `true` when given.")

    @model_validator(mode="after")
    def _exactly_one(self) -> "CanaryStep":
        given = [k for k in ("set_weight", "pause", "analysis") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each canary step sets exactly one of setWeight, pause or analysis")
        if self.set_weight is not None and not 1 <= self.set_weight <= 100:
            raise ValueError(f"setWeight {self.set_weight} must be between 1 and 100")
        if self.analysis is False:
            raise ValueError("analysis: false is not a step; remove the step instead")
        return self


def _default_steps() -> list[CanaryStep]:
    return [
        CanaryStep(set_weight=10),
        CanaryStep(pause="60s"),
        CanaryStep(analysis=True),
        CanaryStep(set_weight=50),
        CanaryStep(pause="60s"),
        CanaryStep(analysis=True),
    ]


class CanaryConfig(Model):
    steps: list[CanaryStep] = Field(default_factory=_default_steps, description="Canary steps, in order.")

    @model_validator(mode="after")
    def _increasing(self) -> "CanaryConfig":
        weights = [(i, s.set_weight) for i, s in enumerate(self.steps) if s.set_weight is not None]
        for (_, prev), (index, weight) in zip(weights, weights[1:]):
            if weight <= prev:  # type: ignore[operator]
                raise ValueError(f"steps[{index}].setWeight {weight} must be greater than the previous weight {prev}")
        if not weights:
            raise ValueError("a canary needs at least one setWeight step")
        return self


class AnalysisConfig(Model):
    latency_p95_seconds: float = Field(0.30, gt=0, le=60, description="Canary succeeds while p95 latency is below this.")
    error_ratio: float = Field(0.02, gt=0, lt=1, description="Canary succeeds while the 5xx ratio is below this.")
    interval: Duration = Field("60s", description="Measurement interval.")
    count: int = Field(5, ge=1, le=100, description="Measurements per analysis run.")
    failure_limit: int = Field(1, ge=0, le=100, description="Failed measurements tolerated.")
    inconclusive_limit: int = Field(
        1, ge=0, le=100, description="Idle (no traffic) measurements tolerated before the rollout pauses for a human."
    )
    background: bool = Field(
        False, description="Also run the analysis in the background from the first step until the rollout completes."
    )


class SloConfig(Model):
    availability: float = Field(0.995, gt=0.9, lt=1, description="Availability objective (non-5xx ratio).")
    latency_seconds: float = Field(0.5, gt=0, le=60, description="Latency objective threshold (must be a histogram bucket).")
    latency_target: float = Field(0.99, gt=0.9, lt=1, description="Share of requests faster than latencySeconds.")


class MetricContract(Model):
    requests_metric: str = Field(DEFAULT_REQUESTS_METRIC, description="Request counter.")
    duration_metric: str = Field(DEFAULT_DURATION_METRIC, description="Request duration histogram (base name).")
    allowed_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED_LABELS), description="Labels kept on scrape.")

    @field_validator("requests_metric", "duration_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if not _METRIC_NAME_RE.match(value):
            raise ValueError("must be a Prometheus metric name")
        return value

    @field_validator("allowed_labels")
    @classmethod
    def _allowed(cls, value: list[str]) -> list[str]:
        forbidden = sorted(set(value) & set(FORBIDDEN_LABELS))
        if forbidden:
            raise ValueError(f"{forbidden} are high-cardinality labels and are never allowed (forbidden: {list(FORBIDDEN_LABELS)})")
        bad = [v for v in value if not _LABEL_NAME_RE.match(v)]
        if bad:
            raise ValueError(f"{bad} are not Prometheus label names")
        for required in ("service", "version", "status"):
            if required not in value:
                raise ValueError(f"'{required}' must stay allowed: the analysis and alerts select on it")
        return value


class ServiceConfig(Model):
    name: DnsLabel = Field(description="Service name (DNS-1123), also the `service` label value.")
    namespace: DnsLabel = Field(description="Namespace the service runs in.")
    port: int = Field(ge=1, le=65535, description="Container/Service HTTP port.")
    image: Optional[str] = Field(None, description="Container image with tag or digest; omit with workloadRef.")
    workload_ref: Optional[str] = Field(None, description="Name of an existing Deployment the Rollout takes over instead of owning a pod template.")
    version: str = Field(description="Version label of the stable release, e.g. `1.4.2`.")
    replicas: int = Field(2, ge=1, le=100, description="Rollout replicas.")
    metrics_port: Optional[int] = Field(None, ge=1, le=65535, description="Port serving metrics if not the HTTP port (e.g. an adapter sidecar).")
    metrics_path: str = Field("/metrics", description="Metrics path.")
    metrics_adapter_image: Optional[str] = Field(
        None, description="Sidecar that exposes the metric contract for an app that cannot (legacy PHP); serves metricsPort."
    )
    health_path: Optional[str] = Field(None, description="HTTP readiness probe path on the service port; none for no probe.")
    scrape_interval: Duration = Field("30s", description="ServiceMonitor interval.")
    canary: CanaryConfig = Field(default_factory=CanaryConfig, description="Canary steps.")
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig, description="Canary analysis thresholds.")
    slo: SloConfig = Field(default_factory=SloConfig, description="Service level objectives for alerts.")
    metrics: MetricContract = Field(default_factory=MetricContract, description="Metric contract overrides.")
    resources: Resources = Field(
        default_factory=lambda: Resources(requests=ResourceList(cpu="100m", memory="128Mi"), limits=ResourceList(memory="512Mi")),
        description="Container resources (owned pod template only).",
    )

    @field_validator("image", "metrics_adapter_image")
    @classmethod
    def _image(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            if not _IMAGE_RE.match(value):
                raise ValueError("must be an image reference such as registry/name:tag or name@sha256:<digest>")
            last = value.split("/")[-1]
            if "@" not in value and (":" not in last or last.endswith(":latest")):
                raise ValueError("must pin a tag other than latest, or a digest, so rollouts are reproducible")
        return value

    @field_validator("metrics_path", "health_path")
    @classmethod
    def _path(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        if not re.match(r"^/[A-Za-z0-9/_.-]*$", value):
            raise ValueError("must be an absolute URL path such as /metrics")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$", value):
            raise ValueError("must be a Kubernetes label value such as 1.4.2")
        return value

    @model_validator(mode="after")
    def _workload(self) -> "ServiceConfig":
        if (self.image is None) == (self.workload_ref is None):
            raise ValueError("set exactly one of image (the Rollout owns the pod template) or workloadRef (an existing Deployment)")
        if self.metrics_adapter_image and not self.metrics_port:
            raise ValueError("metricsAdapterImage needs metricsPort: the port the adapter serves metrics on")
        if self.metrics_adapter_image and self.workload_ref:
            raise ValueError("metricsAdapterImage needs an owned pod template (image), not workloadRef")
        if self.metrics_port == self.port:
            raise ValueError("metricsPort must differ from port; omit it when metrics are served on the service port")
        return self


# --- the whole stack -----------------------------------------------------------------------------


class StackConfig(Model):
    """Everything under `eks-observability:` in a stack file."""

    cluster: ClusterConfig = Field(description="The EKS cluster this platform runs on.")
    environment: Literal["dev", "staging", "prod"] = Field(description="Environment class; `prod` protects and retains data.")
    protect_data: bool = Field(
        False, description="Protect stateful resources (bucket, log group) and retain them on delete. Required true in prod."
    )
    namespaces: Namespaces = Field(default_factory=Namespaces, description="Namespaces of the platform components.")
    prometheus_stack: PrometheusStackConfig = Field(default_factory=PrometheusStackConfig, description="kube-prometheus-stack.")
    alerting: AlertingConfig = Field(default_factory=AlertingConfig, description="Alertmanager routing and platform alert thresholds.")
    loki: LokiConfig = Field(default_factory=LokiConfig, description="Loki on S3.")
    fluent_bit: FluentBitConfig = Field(default_factory=FluentBitConfig, description="Fluent Bit to CloudWatch Logs and Loki.")
    dcgm_exporter: DcgmExporterConfig = Field(default_factory=DcgmExporterConfig, description="NVIDIA DCGM exporter.")
    argo_rollouts: ArgoRolloutsConfig = Field(default_factory=ArgoRolloutsConfig, description="Argo Rollouts.")
    datadog: DatadogConfig = Field(default_factory=DatadogConfig, description="Optional Datadog agent.")
    kubecost: KubecostConfig = Field(default_factory=KubecostConfig, description="Optional Kubecost.")
    container_insights: ContainerInsightsConfig = Field(
        default_factory=ContainerInsightsConfig, description="Optional CloudWatch Container Insights add-on."
    )
    services: list[ServiceConfig] = Field(default_factory=list, description="Services that get a monitoring stack each.")

    @property
    def log_group_name(self) -> str:
        return self.fluent_bit.log_group_name or f"/aws/eks/{self.cluster.name}/containers"

    def needs_irsa(self) -> list[str]:
        """Dotted config paths of enabled components that need an IRSA role."""
        grafana = self.prometheus_stack.grafana
        return [
            path
            for path, on in (
                ("loki.enabled", self.loki.enabled),
                ("fluentBit.enabled", self.fluent_bit.enabled),
                (
                    "prometheusStack.grafana.cloudwatchDatasource",
                    self.prometheus_stack.enabled and grafana.enabled and grafana.cloudwatch_datasource,
                ),
                ("containerInsights.enabled", self.container_insights.enabled),
            )
            if on
        ]

    def required_secrets(self) -> list[str]:
        """Secret config keys this configuration needs at deploy time."""
        needed = []
        if self.prometheus_stack.enabled and self.prometheus_stack.grafana.enabled:
            needed.append("grafanaAdminPassword")
        if self.prometheus_stack.enabled and self.alerting.slack.enabled:
            needed += ["slackWebhookUrlCritical", "slackWebhookUrlWarning"]
        if self.prometheus_stack.enabled and self.alerting.pagerduty.enabled:
            needed.append("pagerdutyRoutingKey")
        if self.datadog.enabled:
            needed += ["datadogApiKey", "datadogAppKey"]
        return needed


# --- loading and error reporting -----------------------------------------------------------------


class ConfigError(pulumi.RunError):
    """Stack config is invalid; `issues` holds one message per problem.

    A RunError, so `pulumi preview/up` print the messages without a Python traceback.
    """

    def __init__(self, issues: list[str]):
        self.issues = issues
        super().__init__("invalid stack config:\n  " + "\n  ".join(issues))


_SECRET_LOOKING = re.compile(r"(password|secret|token|api_?key|app_?key|routing_?key|webhook)", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"https://hooks\.slack\.com/|^xox[abp]-|^[0-9a-f]{32}$")


def _path(loc: tuple[Union[str, int], ...]) -> str:
    out = f"{PROJECT}:"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += part if i == 0 else f".{part}"
    return out


def _unwrap_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _unwrap_models(arg)]


def _model_at(loc: tuple[Union[str, int], ...]) -> Optional[type[BaseModel]]:
    """The config model that owns the key at `loc` (for suggesting the nearest valid key)."""
    model: type[BaseModel] = StackConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return None
        models = _unwrap_models(field.annotation)
        if not models:
            return None
        model = models[0]
    return model


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _describe(value: Any, key: str) -> str:
    if _SECRET_LOOKING.search(key) or (isinstance(value, str) and _SECRET_VALUE.search(value)):
        return "<value hidden>"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _format_error(err: Any) -> str:
    loc = tuple(err["loc"])
    key = str(loc[-1]) if loc else ""
    if err["type"] == "extra_forbidden":
        owner = _model_at(loc[:-1])
        allowed = _allowed_keys(owner) if owner else []
        hint = ""
        if _SECRET_LOOKING.search(key):
            hint = (
                " Secrets never go in structured config: set one of the secret keys with "
                f"`pulumi config set --secret <key>` ({', '.join(SECRET_CONFIG_KEYS)})."
            )
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        suggestion = f" Did you mean '{close[0]}'?" if close else ""
        return f"{_path(loc)}: unknown key.{suggestion} Allowed keys: {', '.join(allowed)}.{hint}"
    if err["type"] == "missing":
        return f"{_path(loc)}: required key is missing."
    message = err["msg"].removeprefix("Value error, ")
    return f"{_path(loc)}: got {_describe(err.get('input'), key)}; {message}."


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text; scalars stay strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _secret_values_in(value: Any, path: tuple[Union[str, int], ...]) -> list[str]:
    """Paths of plain-text values that look like credentials (webhook URLs, API tokens)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _secret_values_in(v, path + (k,))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _secret_values_in(v, path + (i,))]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return [_path(path)]
    return []


def load_stack_config(raw: dict[str, Any], secret_keys: set[str]) -> StackConfig:
    """Validate the project's config keys.

    `raw` maps full config keys (`eks-observability:cluster`) to what Pulumi passes the program;
    `secret_keys` are the full keys Pulumi marks secret. Keys of other namespaces (`aws:region`)
    are ignored. Raises ConfigError listing every problem found.
    """
    prefix = f"{PROJECT}:"
    ours = {k[len(prefix):]: _decode(v) for k, v in raw.items() if k.startswith(prefix)}
    issues: list[str] = []

    for key in sorted(set(ours) & set(SECRET_CONFIG_KEYS)):
        if f"{prefix}{key}" not in secret_keys:
            issues.append(
                f"{prefix}{key}: got <value hidden>; this key holds a secret and must be set with "
                f"`pulumi config set --secret {key} <value>`, never as plain text."
            )
    structured = {k: v for k, v in ours.items() if k not in SECRET_CONFIG_KEYS}
    for key in sorted(structured):
        issues += [
            f"{p}: got <value hidden>; this looks like a credential. Credentials come only from secret keys "
            f"({', '.join(SECRET_CONFIG_KEYS)})."
            for p in _secret_values_in(structured[key], (key,))
        ]

    config: Optional[StackConfig] = None
    try:
        config = StackConfig.model_validate(structured)
    except ValidationError as exc:
        top_level = set(_allowed_keys(StackConfig)) | set(SECRET_CONFIG_KEYS)
        for err in exc.errors():
            if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
                key = str(err["loc"][0])
                close = difflib.get_close_matches(key, sorted(top_level), n=1, cutoff=0.6)
                suggestion = f" Did you mean '{prefix}{close[0]}'?" if close else ""
                issues.append(f"{prefix}{key}: unknown key.{suggestion} Allowed keys: {', '.join(sorted(top_level))}.")
            else:
                issues.append(_format_error(err))

    if config is not None:
        issues += _cross_checks(config)
    if issues:
        raise ConfigError(issues)
    assert config is not None
    return config


def _cross_checks(config: StackConfig) -> list[str]:
    """Rules that span several keys, each reported at the key an operator must change."""
    issues = []
    if config.cluster.oidc_provider_arn is None:
        for path in config.needs_irsa():
            issues.append(
                f"{PROJECT}:cluster.oidcProviderArn: missing, but {path} needs an IRSA role; set it to the cluster's "
                "IAM OIDC provider ARN (aws eks describe-cluster --query cluster.identity.oidc.issuer)."
            )
    if config.environment == "prod" and not config.protect_data:
        issues.append(f"{PROJECT}:protectData: got false; prod stacks must protect and retain their data (set true).")
    seen: dict[str, int] = {}
    for index, service in enumerate(config.services):
        if service.name in seen:
            issues.append(
                f"{PROJECT}:services[{index}].name: got {json.dumps(service.name)}; duplicate of services[{seen[service.name]}].name, "
                "service names must be unique."
            )
        seen.setdefault(service.name, index)
    if config.services and not config.argo_rollouts.enabled:
        issues.append(f"{PROJECT}:argoRollouts.enabled: got false; services need the Argo Rollouts controller for their canaries.")
    if config.services and not config.prometheus_stack.enabled:
        issues.append(f"{PROJECT}:prometheusStack.enabled: got false; service monitoring and canary analysis need Prometheus.")
    prom = config.prometheus_stack.prometheus
    if _bytes(prom.retention_size) >= _quantity_bytes(prom.storage_size):
        issues.append(
            f"{PROJECT}:prometheusStack.prometheus.retentionSize: got {json.dumps(prom.retention_size)}; must be smaller than "
            f"storageSize {prom.storage_size}, or the volume fills before Prometheus drops old blocks."
        )
    if config.kubecost.enabled and not config.prometheus_stack.enabled:
        issues.append(f"{PROJECT}:kubecost.enabled: got true; Kubecost reads the platform Prometheus, so prometheusStack.enabled must be true.")
    if config.fluent_bit.send_to_loki and config.fluent_bit.enabled and not config.loki.enabled:
        issues.append(f"{PROJECT}:fluentBit.sendToLoki: got true, but loki.enabled is false; disable one or enable Loki.")
    return issues


_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_IUNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def _bytes(size: str) -> float:
    number, unit = re.match(r"^([0-9.]+)([KMGTPE]i?)?B$", size).groups()  # type: ignore[union-attr]
    unit = unit or ""
    return float(number) * (_IUNITS.get(unit) or _UNITS[unit])


def _quantity_bytes(quantity: str) -> float:
    number, unit = re.match(r"^([0-9.]+)([A-Za-z]*)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * (_IUNITS.get(unit) or _UNITS.get(unit, 1))


def read_stack_config() -> StackConfig:
    """Validate the config Pulumi handed this program; raises ConfigError before anything is created."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = {k for k in raw if runtime_config.is_config_secret(k)} | set(runtime_config.get_config_secret_keys_env())
    return load_stack_config(raw, secret_keys)


def read_secrets(config: StackConfig) -> dict[str, pulumi.Output[str]]:
    """The secrets this configuration needs, as secret Outputs; a missing one is an error naming the command."""
    pulumi_config = pulumi.Config(PROJECT)
    secrets = {key: pulumi_config.get_secret(key) for key in config.required_secrets()}
    missing = [key for key, value in secrets.items() if value is None]
    if missing:
        raise ConfigError(
            [
                f"{PROJECT}:{key}: required secret is not set ({SECRET_CONFIG_KEYS[key]}) "
                f"Set it with `pulumi config set --secret {key} <value>`."
                for key in missing
            ]
        )
    return {key: value for key, value in secrets.items() if value is not None}
