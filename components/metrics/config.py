"""The `prometheusStack` and `alerting` config sections."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..conventions import KUBE_PROMETHEUS_STACK_OPERATOR
from ..lib.types import LABEL_NAME_RE, ByteSize, ChartVersion, Duration, Model, Quantity, Resources, resources, url_credential
from .backend import MetricsBackendConfig


class PrometheusConfig(Model):
    replicas: int = Field(1, ge=1, le=5, description="Prometheus replicas (2+ in prod for HA).")
    retention: Duration = Field("15d", description="How long samples are kept.")
    retention_size: ByteSize = Field("45GB", description="Size cap before the oldest blocks are dropped; keep below the volume size.")
    storage_size: Quantity = Field("50Gi", description="Volume claim size per replica.")
    storage_class: str = Field("gp3", description="StorageClass of the volume claim template.")
    scrape_interval: Duration = Field("30s", description="Default scrape interval.")
    exemplars: int = Field(
        100000,
        ge=0,
        le=10_000_000,
        description="Exemplars (a request's trace id beside a histogram sample) Prometheus keeps in memory, a few hundred "
        "bytes each; 0 stores none. Grafana links each to its trace's log lines.",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("500m", "2Gi", "4Gi"),
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
    def _host_required(self) -> IngressConfig:
        if self.enabled and not self.host:
            raise ValueError("host is required when ingress is enabled")
        if self.enabled and self.scheme == "internet-facing" and not self.certificate_arn:
            raise ValueError("an internet-facing Grafana needs TLS: set certificateArn (an ACM certificate for host)")
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
            raise ValueError("must be 1: Grafana keeps its SQLite database on a ReadWriteOnce volume that replicas cannot share")
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
    backend: MetricsBackendConfig = Field(
        default_factory=MetricsBackendConfig, description="Where metrics live past this Prometheus: only here, AMP or Thanos on S3."
    )


# A team's receiver credentials are stack secrets it names: top-level keys, camelCase like the platform's.
SECRET_NAME_RE = re.compile(r"^[a-z][A-Za-z0-9]{2,63}$")
# Alerts of unowned services, and the platform's own, carry this team; no configured team may take it.
PLATFORM_TEAM = "platform"


def _slack_channel(value: str) -> str:
    if not re.match(r"^#[a-z0-9][a-z0-9_-]{0,79}$", value):
        raise ValueError("must be a Slack channel name such as #alerts-critical")
    return value


def _secret_name(value: str) -> str:
    if not SECRET_NAME_RE.match(value):
        raise ValueError("must be a camelCase stack config key such as paymentsPagerdutyRoutingKey (set it with `pulumi config set --secret`)")
    return value


class TeamSlackConfig(Model):
    critical_channel: str = Field(description="The team's channel for its critical alerts.")
    warning_channel: str = Field(description="The team's channel for its warnings (tickets).")
    critical_webhook_secret: str = Field(description="Stack secret holding the incoming-webhook URL of the critical channel.")
    warning_webhook_secret: str = Field(description="Stack secret holding the incoming-webhook URL of the warning channel.")

    _channels = field_validator("critical_channel", "warning_channel")(_slack_channel)
    _secrets = field_validator("critical_webhook_secret", "warning_webhook_secret")(_secret_name)


class TeamPagerDutyConfig(Model):
    routing_key_secret: str = Field(description="Stack secret holding the Events v2 routing key of the team's PagerDuty service.")

    _secret = field_validator("routing_key_secret")(_secret_name)


class TeamConfig(Model):
    name: str = Field(description="Team name, the `team` label of its services' alerts (`services[].team`).")
    slack: Optional[TeamSlackConfig] = Field(None, description="The team's Slack channels; without, its alerts use the platform's.")
    pagerduty: Optional[TeamPagerDutyConfig] = Field(None, description="The team's PagerDuty service; without, it pages the platform's.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(r"^[a-z][a-z0-9-]{0,62}$", value):
            raise ValueError("must be a lower-case name such as payments (letters, digits, dashes)")
        if value == PLATFORM_TEAM:
            raise ValueError(f"'{PLATFORM_TEAM}' is the platform's own team (unowned services and platform alerts); pick another name")
        return value

    def secret_names(self) -> list[str]:
        names = [self.slack.critical_webhook_secret, self.slack.warning_webhook_secret] if self.slack else []
        return names + ([self.pagerduty.routing_key_secret] if self.pagerduty else [])


class SlackConfig(Model):
    enabled: bool = Field(False, description="Send alerts to Slack (webhook URLs from secrets).")
    critical_channel: str = Field("#alerts-critical", description="Channel for severity=critical.")
    warning_channel: str = Field("#alerts-warning", description="Channel for severity=warning.")

    _channels = field_validator("critical_channel", "warning_channel")(_slack_channel)


_HTTP_URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/%-]*)?$")


def _check_url(value: str) -> str:
    if not _HTTP_URL_RE.match(value):
        raise ValueError("must be an http(s) URL such as https://events.pagerduty.com/v2/enqueue, without query or credentials")
    return value


class PagerDutyConfig(Model):
    enabled: bool = Field(False, description="Page PagerDuty for severity=critical (routing key from a secret).")
    url: str = Field("https://events.pagerduty.com/v2/enqueue", description="PagerDuty Events API v2 endpoint.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


class HeartbeatConfig(Model):
    enabled: bool = Field(
        False,
        description="Send the always-firing Watchdog alert to a dead man's switch (Opsgenie heartbeat, healthchecks-style "
        "webhook): if alerting dies, the heartbeat stops and that service pages.",
    )
    url: Optional[str] = Field(
        None,
        description="Heartbeat ping URL when it carries no credential (the credential then goes in `authorization`). Unset, "
        "Alertmanager reads the whole URL from the `heartbeatUrl` secret (`url_file`): the way for URLs whose path is the "
        "token, such as healthchecks.io's. A URL with a query, user information or a token-like path segment is refused.",
    )
    authorization: Optional[Literal["Bearer", "Basic", "GenieKey"]] = Field(
        None, description="HTTP authorization scheme; its credentials come from the `heartbeatCredentials` secret."
    )
    repeat_interval: Duration = Field("1m", description="How often the heartbeat is pinged while the Watchdog fires.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        credential = url_credential(value)
        if credential:
            # The value lands in the Helm values, the rendered config and the PR's diff comment.
            raise ValueError(
                f"the URL carries a credential ({credential}), which would be stored in plain text; leave `url` unset and "
                "set the whole URL as a secret: `pulumi config set --secret heartbeatUrl <url>` (Alertmanager reads it with url_file)"
            )
        return _check_url(value)

    @property
    def url_from_secret(self) -> bool:
        """The ping URL is the `heartbeatUrl` secret, mounted and read with `url_file` (Alertmanager 0.27+)."""
        return self.enabled and self.url is None


class AlertThresholds(Model):
    error_ratio: float = Field(
        0.05, gt=0, lt=1, description="Platform high-error-rate alert: 5xx ratio above this (formerly `errorRateRatio`)."
    )
    page_min_requests_per_minute: float = Field(
        5, ge=0, description="PlatformHighErrorRate pages only for a service with at least this many requests a minute (over 10m)."
    )
    error_rate_for: Duration = Field("5m", description="How long the error rate must hold.")
    latency_p99_seconds: float = Field(5.0, gt=0, le=300, description="Platform high-latency alert: p99 above this.")
    latency_for: Duration = Field("10m", description="How long the p99 latency must hold.")
    node_down_for: Duration = Field("5m", description="How long a node exporter must be unreachable.")
    disk_free_ratio: float = Field(0.15, gt=0, lt=1, description="Node disk free ratio below which the alert fires.")
    disk_free_for: Duration = Field("10m", description="How long disk must stay low.")
    gpu_temperature_celsius: float = Field(85, gt=0, le=120, description="GPU temperature alert threshold.")
    gpu_temperature_for: Duration = Field("5m", description="How long the GPU temperature must hold.")
    gpu_memory_ratio: float = Field(0.95, gt=0, lt=1, description="GPU framebuffer used ratio alert threshold.")
    gpu_memory_for: Duration = Field("10m", description="How long GPU memory must stay almost full.")
    gpu_idle_for: Duration = Field("1h", description="How long a GPU allocated to a pod may show no utilisation before GPUAllocatedIdle.")
    rollout_paused_for: Duration = Field("1h", description="How long a Rollout may wait paused before RolloutPausedTooLong.")
    log_errors_per_minute: float = Field(
        60, gt=0, description="ServiceErrorLogBurst (LogQL, Loki's ruler): error-level log lines a minute (over 5m) a service may write."
    )
    log_errors_for: Duration = Field("5m", description="How long a service's error-line burst must hold.")
    pipeline_error_lines: int = Field(
        5, ge=1, description="LogPipelineErrors (LogQL): error lines one log pipeline container (Fluent Bit, Loki) may write in 10m."
    )
    pipeline_errors_for: Duration = Field("10m", description="How long the log pipeline's errors must hold.")


# The runbooks of this repository's own home: a fork's alerts must link to where its on-call reads them.
PLACEHOLDER_RUNBOOK_BASE_URL = "https://github.com/eks-observability/eks-observability/blob/main/docs/runbooks.md"


class AlertingConfig(Model):
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "namespace", "service"], description="Alertmanager group_by.")
    group_wait: Duration = Field("30s", description="Alertmanager group_wait.")
    group_interval: Duration = Field("5m", description="Alertmanager group_interval.")
    repeat_interval: Duration = Field("4h", description="Alertmanager repeat_interval.")
    slack: SlackConfig = Field(default_factory=SlackConfig, description="Slack receivers.")
    pagerduty: PagerDutyConfig = Field(default_factory=PagerDutyConfig, description="PagerDuty receiver.")
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig, description="Dead man's switch for the Watchdog alert.")
    thresholds: AlertThresholds = Field(default_factory=AlertThresholds, description="Platform alert thresholds.")
    teams: list[TeamConfig] = Field(
        default_factory=list,
        description="Teams that own services (`services[].team`): each team's alerts reach its own Slack channels and PagerDuty "
        "service; the platform's alerts and unowned services' stay on the platform's receivers.",
    )
    slo_period: Literal["28d", "30d"] = Field(
        "30d",
        description="Every service's SLO period: the error budget is spent and remaining over this many days "
        "(kept by Prometheus: its retention should be at least as long).",
    )
    runbook_base_url: str = Field(
        PLACEHOLDER_RUNBOOK_BASE_URL,
        description="Base URL of the runbooks; each alert links `<base>#<alert-name-lowercase>`.",
    )

    @field_validator("teams")
    @classmethod
    def _teams(cls, value: list[TeamConfig]) -> list[TeamConfig]:
        names = [team.name for team in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"team names must be unique; {twice} appear more than once")
        secrets = [secret for team in value for secret in team.secret_names()]
        shared = sorted({secret for secret in secrets if secrets.count(secret) > 1})
        if shared:
            raise ValueError(f"each team secret holds one receiver's credential; {shared} are named more than once")
        return value

    @field_validator("group_by")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v != "..." and not LABEL_NAME_RE.match(v)]
        if bad:
            raise ValueError(f"{bad} are not Prometheus label names")
        return value
