"""The `loki` and `fluentBit` config sections."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..lib.types import ChartVersion, DnsLabel, Duration, KmsKeyArn, Model, Quantity, Resources, RetentionDays, duration_seconds, resources

_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOG_GROUP_RE = re.compile(r"^[\w./#-]{1,512}$")


class LokiConfig(Model):
    enabled: bool = Field(True, description="Deploy Loki on S3.")
    chart_version: ChartVersion = Field("18.11.0", description="Pinned grafana-community `loki` chart version.")
    deployment_mode: Literal["Monolithic", "SimpleScalable", "SimpleScalable<->Distributed", "Distributed"] = Field(
        "Monolithic",
        description="Loki deployment mode: Monolithic (one binary, small installs), Distributed (microservices on S3, "
        "the scale-out path), SimpleScalable (deprecated upstream, removed in Loki 4) or the chart's migration mode "
        "SimpleScalable<->Distributed, which runs both while moving between them.",
    )
    replicas: int = Field(
        1,
        ge=1,
        le=30,
        description="Replicas of the single binary, of each read/write/backend target, or of the ingesters, distributors and queriers.",
    )
    retention: Duration = Field(
        "360h",
        description="Log retention, a whole number of days of at least 24h (Loki's index period); the S3 chunk lifecycle is derived from it.",
    )
    delete_delay: Duration = Field("2h", description="Compactor delete delay; added to retention for the S3 lifecycle.")
    bucket_name: Optional[str] = Field(None, description="Explicit S3 bucket name for chunks and index; empty lets Pulumi auto-name it.")
    ruler_bucket_name: Optional[str] = Field(
        None, description="Explicit S3 bucket name for the ruler's rule groups (kept apart from chunks); empty lets Pulumi auto-name it."
    )
    kms_key_arn: Optional[KmsKeyArn] = Field(None, description="KMS key for SSE-KMS; empty uses SSE-S3 (AES256).")
    storage_size: Quantity = Field("10Gi", description="Volume for the WAL / compactor working directory.")
    ingestion_rate_mb: float = Field(
        16, gt=0, le=1024, description="Ingestion limit of the tenant in MB/s (Loki's default of 4 turns busy clusters into 429s)."
    )
    ingestion_burst_mb: float = Field(32, gt=0, le=2048, description="Burst above the ingestion limit in MB.")
    per_stream_rate_limit: str = Field("5MB", description="Rate limit of one stream (one pod's container), e.g. 5MB.")
    max_line_size: str = Field(
        "256KB", description="Longest log line Loki keeps whole; longer lines are cut to this size (never dropped) and counted."
    )
    caches: Optional[bool] = Field(
        None, description="Run the chunk and results caches (memcached); default on in prod so queries do not read S3 cold."
    )
    chunks_cache_memory_mb: int = Field(2048, ge=64, le=65536, description="Memory of the chunks cache, in MB.")
    results_cache_memory_mb: int = Field(512, ge=64, le=65536, description="Memory of the results cache, in MB.")
    resources: Resources = Field(
        default_factory=lambda: resources("250m", "512Mi", "1Gi"),
        description="Loki container resources.",
    )

    @field_validator("bucket_name", "ruler_bucket_name")
    @classmethod
    def _bucket(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and (not _BUCKET_RE.match(value) or ".." in value):
            raise ValueError("must be a valid S3 bucket name: 3-63 lower-case letters, digits, '.' or '-'")
        return value

    @field_validator("retention")
    @classmethod
    def _whole_days(cls, value: str) -> str:
        seconds = duration_seconds(value)
        if seconds < 86400 or seconds % 86400:
            raise ValueError(
                "must be at least 24h and a whole number of days (Loki's retention is a multiple of its 24h index period), e.g. 168h or 30d"
            )
        return value

    @field_validator("per_stream_rate_limit", "max_line_size")
    @classmethod
    def _loki_size(cls, value: str, info: ValidationInfo) -> str:
        """Loki's own size syntax: KB or MB (a rate per second for the stream limit)."""
        if not re.match(r"^[1-9][0-9]*(KB|MB)$", value):
            example = (
                "a size per second such as 3MB or 512KB" if info.field_name == "per_stream_rate_limit" else "a size such as 256KB or 1MB"
            )
            raise ValueError(f"must be {example}")
        return value

    @model_validator(mode="after")
    def _mode_replicas(self) -> LokiConfig:
        if self.ingestion_burst_mb < self.ingestion_rate_mb:
            raise ValueError(f"ingestionBurstMb {self.ingestion_burst_mb:g} must be at least ingestionRateMb {self.ingestion_rate_mb:g}")
        if self.deployment_mode == "Monolithic" and self.replicas > 1:
            raise ValueError("Monolithic mode with more than one replica needs a shared ring; use deploymentMode Distributed")
        if self.bucket_name is not None and self.bucket_name == self.ruler_bucket_name:
            raise ValueError(
                f"rulerBucketName {self.ruler_bucket_name!r} must differ from bucketName: rule groups are kept apart from chunks"
            )
        return self


class KubernetesEventsConfig(Model):
    enabled: bool = Field(
        True, description="Collect the cluster's Kubernetes events into Loki (one Fluent Bit Deployment; needs sendToLoki and Loki)."
    )
    buffer_limit: str = Field("256MB", description="Filesystem buffer for events while Loki is down (storage.total_limit_size).")
    resources: Resources = Field(
        default_factory=lambda: resources("20m", "64Mi", "128Mi"), description="The events collector's container resources."
    )

    @field_validator("buffer_limit")
    @classmethod
    def _size(cls, value: str) -> str:
        return fluent_bit_size(value)


class FluentBitConfig(Model):
    enabled: bool = Field(True, description="Deploy Fluent Bit.")
    chart_version: ChartVersion = Field("0.58.1", description="Pinned fluent `fluent-bit` chart version.")
    log_group_name: Optional[str] = Field(None, description="CloudWatch log group; default `/aws/eks/<cluster>/containers`.")
    retention_days: RetentionDays = Field(30, description="CloudWatch log group retention in days.")
    kms_key_arn: Optional[KmsKeyArn] = Field(None, description="KMS key for the log group; empty uses CloudWatch's default encryption.")
    exclude_namespaces: list[DnsLabel] = Field(default_factory=list, description="Namespaces whose logs are dropped entirely.")
    cloudwatch_only_namespaces: list[DnsLabel] = Field(
        default_factory=lambda: ["kube-system"],
        description="Namespaces whose logs go to CloudWatch only, not Loki (system agents: aws-node, CoreDNS, the EBS CSI driver).",
    )
    mem_buf_limit: str = Field("50MB", description="Memory the tail input may hold before chunks go to the filesystem buffer.")
    loki_buffer_limit: str = Field(
        "2GB", description="Filesystem buffer per node for Loki while it is down or slow (storage.total_limit_size)."
    )
    cloudwatch_buffer_limit: str = Field(
        "2GB", description="Filesystem buffer per node for CloudWatch Logs while it is down or throttling."
    )
    node_log_rate: str = Field("10MB", description="Expected log volume per node per minute; sizes the outage each buffer survives.")
    min_outage_minutes: int = Field(
        60, ge=1, description="Each buffer must hold at least this many minutes of nodeLogRate, or the config is refused."
    )
    send_to_loki: bool = Field(True, description="Also ship logs to Loki.")
    events: KubernetesEventsConfig = Field(default_factory=KubernetesEventsConfig, description="Kubernetes events into Loki.")
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "128Mi", "256Mi"),
        description="Fluent Bit container resources.",
    )

    @field_validator("log_group_name")
    @classmethod
    def _log_group(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _LOG_GROUP_RE.match(value):
            raise ValueError("must be a CloudWatch log group name: 1-512 of letters, digits, '_', '-', '/', '.', '#'")
        return value

    @field_validator("mem_buf_limit", "loki_buffer_limit", "cloudwatch_buffer_limit", "node_log_rate")
    @classmethod
    def _size(cls, value: str) -> str:
        return fluent_bit_size(value)

    def outage_minutes(self) -> dict[str, float]:
        """Minutes of logs each output's filesystem buffer holds at nodeLogRate before the oldest chunks go."""
        rate = fluent_bit_bytes(self.node_log_rate)
        return {
            "loki": fluent_bit_bytes(self.loki_buffer_limit) / rate,
            "cloudwatch": fluent_bit_bytes(self.cloudwatch_buffer_limit) / rate,
        }

    @model_validator(mode="after")
    def _buffers_outlast_an_outage(self) -> FluentBitConfig:
        for output, minutes in self.outage_minutes().items():
            if minutes < self.min_outage_minutes:
                raise ValueError(
                    f"the {output} buffer holds {minutes:.0f} minutes of {self.node_log_rate} a minute, under minOutageMinutes "
                    f"{self.min_outage_minutes}: raise {output}BufferLimit"
                )
        return self


def fluent_bit_size(value: str) -> str:
    """A size as Fluent Bit reads it (`storage.total_limit_size`, `Mem_Buf_Limit`)."""
    if not re.match(r"^[1-9][0-9]*[KMG]B$", value):
        raise ValueError("must be a Fluent Bit size such as 50MB or 2GB")
    return value


def fluent_bit_bytes(size: str) -> float:
    """Fluent Bit sizes are powers of 1024: 2GB is 2 GiB."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return float(size[:-2]) * units[size[-2]]
