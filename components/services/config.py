"""The `services` config section: one entry per service, each with its canary, analysis and SLOs."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..conventions import FORBIDDEN_LABELS
from ..lib.contract import MetricContract
from ..lib.promql_labels import label_names
from ..lib.types import DnsLabel, Duration, GoDuration, Model, Resources, check_image, resources

# Namespaces a team's service may not live in: the cluster's own and the platform's.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "amazon-cloudwatch", "datadog", "kubecost")


class CanaryStep(Model):
    set_weight: Optional[int] = Field(None, description="Shift this percentage of traffic to the canary.")
    pause: Optional[GoDuration] = Field(None, description="Wait this long (a Go duration: 30s, 5m, 1h).")
    analysis: Optional[bool] = Field(None, description="Run the AnalysisTemplate inline; must be `true` when given.")

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
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
    max_first_step_share: Optional[float] = Field(
        None,
        gt=0,
        le=1,
        description="Largest share of traffic the first setWeight step may really send to the canary (without a traffic "
        "router traffic follows pod counts, so setWeight 10 is 50% with 1 replica); the config is refused above it. "
        "Default 0.45 in prod stacks (the canary gets less than stable), no limit elsewhere.",
    )

    @model_validator(mode="after")
    def _increasing(self) -> CanaryConfig:
        weights = [(i, s.set_weight) for i, s in enumerate(self.steps) if s.set_weight is not None]
        for (_, prev), (index, weight) in zip(weights, weights[1:], strict=False):
            if weight <= prev:
                raise ValueError(f"steps[{index}].setWeight {weight} must be greater than the previous weight {prev}")
        if not weights:
            raise ValueError("a canary needs at least one setWeight step")
        return self


class AnalysisConfig(Model):
    latency_p95_seconds: float = Field(
        0.30, gt=0, le=60, description="The canary fails once its p95 latency is shown to be above this (a histogram bucket)."
    )
    error_ratio: float = Field(0.02, gt=0, lt=1, description="The canary fails once its 5xx ratio is shown to be at or above this.")
    interval: GoDuration = Field("60s", description="Measurement interval (a Go duration: 30s, 1m).")
    count: int = Field(5, ge=1, le=100, description="Measurements per analysis run.")
    failure_limit: int = Field(
        0,
        ge=0,
        le=100,
        description="Failed measurements tolerated. Each measurement weighs every request since the canary started, so one "
        "failed measurement is already the evidence: a second only adds an interval.",
    )
    min_requests: int = Field(
        10, ge=1, le=100000, description="Canary requests before a measurement may pass; fewer is Inconclusive, never a failure."
    )
    inconclusive_limit: int = Field(
        1, ge=0, le=100, description="Idle (no traffic) measurements tolerated before the rollout pauses for a human."
    )
    background: bool = Field(False, description="Also run the analysis in the background from the first step until the rollout completes.")

    @model_validator(mode="after")
    def _can_fail(self) -> AnalysisConfig:
        if self.failure_limit >= self.count:
            raise ValueError(
                f"failureLimit {self.failure_limit} must be below count {self.count}: with {self.count} measurements the "
                "analysis could never fail"
            )
        return self


class SloConfig(Model):
    availability: float = Field(0.995, gt=0.9, lt=1, description="Availability objective (non-5xx ratio).")
    latency_seconds: float = Field(0.5, gt=0, le=60, description="Latency objective threshold (must be a histogram bucket).")
    latency_target: float = Field(0.99, gt=0.9, lt=1, description="Share of requests faster than latencySeconds.")
    page_min_requests_per_minute: float = Field(
        5, ge=0, description="A burn-rate page needs at least this many requests a minute (over 10m); below it the slow tier tickets."
    )


_ALERT_NAME_RE = re.compile(r"^[A-Z][A-Za-z0-9]+$")


class CustomAlert(Model):
    name: str = Field(description="Alert name, CamelCase (e.g. `JobQueueBacklog`).")
    expr: str = Field(description="PromQL condition; it may not select or group by a forbidden label.")
    for_: Duration = Field("5m", alias="for", description="How long the condition must hold.")
    severity: Literal["critical", "warning", "info"] = Field("warning", description="Routing severity.")
    summary: str = Field(description="One-line summary (may use {{ $labels.x }} and {{ $value }}).")
    runbook: str = Field(description="URL of the team's runbook for this alert.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ALERT_NAME_RE.match(value):
            raise ValueError("must be a CamelCase alert name such as JobQueueBacklog")
        return value

    @field_validator("expr")
    @classmethod
    def _expr(cls, value: str) -> str:
        try:
            names = label_names(value)
        except ValueError as err:
            raise ValueError(f"is not valid PromQL: {err}") from None
        used = sorted(names & set(FORBIDDEN_LABELS))
        if used:
            raise ValueError(f"uses the forbidden label(s) {used}: they never reach Prometheus (one series per user or request)")
        return value

    @field_validator("runbook")
    @classmethod
    def _runbook(cls, value: str) -> str:
        if not re.match(r"^https?://\S+$", value):
            raise ValueError("must be an http(s) URL of the runbook")
        return value


class ServiceConfig(Model):
    name: DnsLabel = Field(description="Service name (DNS-1123), also the `service` label value.")
    namespace: DnsLabel = Field(description="Namespace the service runs in.")
    port: int = Field(ge=1, le=65535, description="Container/Service HTTP port.")
    image: Optional[str] = Field(None, description="Container image with tag or digest; omit with workloadRef.")
    workload_ref: Optional[str] = Field(
        None, description="Name of an existing Deployment the Rollout takes over instead of owning a pod template."
    )
    version: str = Field(description="Version label of the stable release, e.g. `1.4.2`.")
    replicas: int = Field(2, ge=1, le=100, description="Rollout replicas.")
    metrics_port: Optional[int] = Field(
        None, ge=1, le=65535, description="Port serving metrics if not the HTTP port (e.g. an adapter sidecar)."
    )
    metrics_path: str = Field("/metrics", description="Metrics path.")
    metrics_adapter_image: Optional[str] = Field(
        None, description="Sidecar that exposes the metric contract for an app that cannot (legacy PHP); serves metricsPort."
    )
    health_path: str = Field(
        "/healthz",
        description="HTTP readiness probe path on the service port (the service-contract package serves /healthz): a canary "
        "step counts only ready pods, so an owned pod template always has one.",
    )
    run_as_non_root: bool = Field(True, description="Refuse to start the service's containers as root (image needs a non-root USER).")
    read_only_root_filesystem: bool = Field(
        True, description="Mount the containers' root filesystem read-only; /tmp is a writable emptyDir."
    )
    run_as_user: Optional[int] = Field(
        None,
        ge=1,
        le=2147483647,
        description="UID the containers run as; empty keeps the image's own non-root USER (10000 or above avoids host UIDs).",
    )
    network_policy: bool = Field(
        True,
        description="A NetworkPolicy on the service's pods admitting only its HTTP port (from anywhere) and its metrics port "
        "(from Prometheus only); needs cluster.networkPolicies. Turn off for a pod that serves other ports.",
    )
    team: Optional[str] = Field(
        None, description="The owning team, one of `alerting.teams`: its alerts reach the team's receivers; unset, the platform's."
    )
    scrape_interval: Duration = Field("30s", description="ServiceMonitor interval.")
    canary: CanaryConfig = Field(default_factory=CanaryConfig, description="Canary steps.")
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig, description="Canary analysis thresholds.")
    slo: SloConfig = Field(default_factory=SloConfig, description="Service level objectives for alerts.")
    metrics: MetricContract = Field(default_factory=MetricContract, description="Metric contract overrides.")
    alerts: list[CustomAlert] = Field(
        default_factory=list,
        description="The team's own alerts (queue backlog, credits exhausted, pool saturation), in its PrometheusRule.",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "128Mi", "512Mi"),
        description="Container resources (owned pod template only).",
    )

    @field_validator("image", "metrics_adapter_image")
    @classmethod
    def _image(cls, value: Optional[str]) -> Optional[str]:
        return check_image(value) if value is not None else None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value[:1].isalpha():
            raise ValueError("must start with a letter: it names a Kubernetes Service (DNS-1035 label), e.g. orders-api")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if value in RESERVED_NAMESPACES:
            raise ValueError(
                f"is reserved for the cluster or the platform ({', '.join(RESERVED_NAMESPACES)}); use the team's own namespace"
            )
        return value

    @field_validator("metrics_path", "health_path")
    @classmethod
    def _path(cls, value: str) -> str:
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
    def _workload(self) -> ServiceConfig:
        if (self.image is None) == (self.workload_ref is None):
            raise ValueError("set exactly one of image (the Rollout owns the pod template) or workloadRef (an existing Deployment)")
        if self.metrics_adapter_image and not self.metrics_port:
            raise ValueError("metricsAdapterImage needs metricsPort: the port the adapter serves metrics on")
        if self.metrics_adapter_image and self.workload_ref:
            raise ValueError("metricsAdapterImage needs an owned pod template (image), not workloadRef")
        if self.metrics_port == self.port:
            raise ValueError("metricsPort must differ from port; omit it when metrics are served on the service port")
        return self
