"""The `loki` and `fluentBit` config sections."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..lib.types import ChartVersion, DnsLabel, Duration, KmsKeyArn, Model, Quantity, Resources, RetentionDays, duration_seconds, resources

_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOG_GROUP_RE = re.compile(r"^[\w./#-]{1,512}$")


class LokiConfig(Model):
    enabled: bool = Field(True, description="Deploy Loki on S3.")
    chart_version: ChartVersion = Field("18.11.0", description="Pinned grafana-community `loki` chart version.")
    deployment_mode: Literal["SingleBinary", "SimpleScalable"] = Field("SingleBinary", description="Loki deployment mode.")
    replicas: int = Field(1, ge=1, le=10, description="Replicas per Loki target (single binary or each of read/write/backend).")
    retention: Duration = Field(
        "360h", description="Log retention, a whole number of days of at least 24h (Loki's index period); the S3 chunk lifecycle is derived from it."
    )
    delete_delay: Duration = Field("2h", description="Compactor delete delay; added to retention for the S3 lifecycle.")
    bucket_name: Optional[str] = Field(None, description="Explicit S3 bucket name; empty lets Pulumi auto-name it.")
    kms_key_arn: Optional[KmsKeyArn] = Field(None, description="KMS key for SSE-KMS; empty uses SSE-S3 (AES256).")
    storage_size: Quantity = Field("10Gi", description="Volume for the WAL / compactor working directory.")
    resources: Resources = Field(
        default_factory=lambda: resources("250m", "512Mi", "1Gi"),
        description="Loki container resources.",
    )

    @field_validator("bucket_name")
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
            raise ValueError("must be at least 24h and a whole number of days (Loki's retention is a multiple of its 24h index period), e.g. 168h or 30d")
        return value

    @model_validator(mode="after")
    def _mode_replicas(self) -> LokiConfig:
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
        default_factory=lambda: resources("100m", "128Mi", "256Mi"),
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


