"""The metric contract every service speaks, and the config model that lets a service rename it."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, field_validator

from ..conventions import DEFAULT_ALLOWED_LABELS, DEFAULT_BUCKETS, DEFAULT_DURATION_METRIC, DEFAULT_REQUESTS_METRIC, FORBIDDEN_LABELS
from . import promql
from .types import LABEL_NAME_RE, METRIC_NAME_RE, Model


class MetricContract(Model):
    requests_metric: str = Field(DEFAULT_REQUESTS_METRIC, description="Request counter.")
    duration_metric: str = Field(DEFAULT_DURATION_METRIC, description="Request duration histogram (base name).")
    allowed_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED_LABELS), description="Labels kept on scrape.")
    max_routes: int = Field(50, ge=1, le=2000, description="Route templates a pod may expose (its `path` values, `unmatched` included).")
    max_methods: int = Field(4, ge=1, le=9, description="HTTP methods per route.")
    max_statuses: int = Field(8, ge=1, le=60, description="Distinct status codes per route and method.")
    histogram_buckets: int = Field(
        13, ge=1, le=100, description="Buckets of the duration histogram, +Inf excluded (the service-contract package has 13)."
    )
    buckets: Optional[list[float]] = Field(
        None,
        description="Upper bounds of the duration histogram's buckets, +Inf excluded, when they are not the service-contract "
        "package's (0.005 to 10 s); slo.latencySeconds must be one of them.",
    )

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, value: Optional[list[float]]) -> Optional[list[float]]:
        if value is not None and (not value or any(b <= 0 for b in value) or sorted(set(value)) != value):
            raise ValueError("must be increasing positive bucket bounds in seconds, e.g. [0.1, 0.25, 0.5, 1]")
        return value

    @property
    def bucket_bounds(self) -> tuple[float, ...]:
        return tuple(self.buckets) if self.buckets is not None else DEFAULT_BUCKETS

    @field_validator("requests_metric", "duration_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if not METRIC_NAME_RE.match(value):
            raise ValueError("must be a Prometheus metric name")
        return value

    @field_validator("allowed_labels")
    @classmethod
    def _allowed(cls, value: list[str]) -> list[str]:
        forbidden = sorted(set(value) & set(FORBIDDEN_LABELS))
        if forbidden:
            raise ValueError(f"{forbidden} are high-cardinality labels and are never allowed (forbidden: {list(FORBIDDEN_LABELS)})")
        bad = [v for v in value if not LABEL_NAME_RE.match(v)]
        if bad:
            raise ValueError(f"{bad} are not Prometheus label names")
        for required in ("service", "version", "status"):
            if required not in value:
                raise ValueError(f"'{required}' must stay allowed: the analysis and alerts select on it")
        return value

    @property
    def sample_limit(self) -> int:
        """Samples one pod's scrape may keep: routes x methods x statuses x (1 counter + buckets, +Inf, _sum, _count).

        One pod runs one version, so versions do not multiply a target's samples.
        """
        count = len(self.buckets) if self.buckets is not None else self.histogram_buckets
        per_series_set = 1 + count + 1 + 2
        return self.max_routes * self.max_methods * self.max_statuses * per_series_set

    @property
    def metrics(self) -> tuple[str, str]:
        """(requests metric, duration histogram): what two services must share to be queried together."""
        return self.requests_metric, self.duration_metric


def contract_scopes(contracts: dict[str, MetricContract]) -> list[tuple[MetricContract, list[str]]]:
    """Each distinct contract with the PromQL matchers that select its services, the default first.

    `contracts` maps service name to its contract. The default contract always comes back, with no
    matcher: an app outside the `services` list that speaks it is covered too. A renamed contract is
    narrowed to the services that use it.
    """
    default = MetricContract()
    groups: dict[tuple[str, str], list[str]] = {default.metrics: []}
    by_metrics = {default.metrics: default}
    for service, contract in contracts.items():
        groups.setdefault(contract.metrics, []).append(service)
        by_metrics.setdefault(contract.metrics, contract)
    return [
        (by_metrics[metrics], [] if metrics == default.metrics else [promql.match("service", "|".join(sorted(services)))])
        for metrics, services in groups.items()
    ]
