"""Value types every config section shares, each checked against what its consumer accepts.

A duration is what Prometheus parses, a quantity what Kubernetes parses, a byte size what
prometheus-operator's `retentionSize` takes, so a value that passes here is not refused later.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS_S = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_QUANTITY_RE = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
_BYTE_SIZE_RE = re.compile(r"^(?:[0-9]*\.)?[0-9]+(?:[KMGTPE]i?)?B$")
_DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_KMS_ARN_RE = re.compile(r"^arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[A-Za-z0-9/_-]+$")
# Go's time.ParseDuration, which Argo Rollouts uses for pauses and analysis intervals: no days or weeks.
_GO_DURATION_RE = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$")
# docker/distribution's reference grammar: lower-case path components, optional registry host and port.
_IMAGE_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_SEMVER_RE = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
# CloudWatch Logs accepts only these retention periods (days).
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_IUNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration such as `1h30m`."""
    match = _DURATION_RE.match(value)
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return sum(int(g) * unit for g, unit in zip(match.groups(), _DURATION_UNITS_S, strict=True) if g)


def byte_size_bytes(size: str) -> float:
    """Bytes in a Prometheus byte size such as `45GB` or `1TiB`.

    Prometheus reads these in powers of two whatever the spelling (`1KB` is 1024 bytes), so
    `180GB` on a `200Gi` volume is 90% of it, not 84%.
    """
    match = re.match(r"^([0-9.]+)([KMGTPE])?i?B$", size)
    if not match:
        raise ValueError(f"not a byte size: {size!r}")
    number, unit = match.group(1), match.group(2)
    return float(number) * (_IUNITS[f"{unit}i"] if unit else 1)


def quantity_bytes(quantity: str) -> float:
    """Bytes in a Kubernetes quantity such as `50Gi`."""
    match = re.match(r"^([0-9.]+)([A-Za-z]*)", quantity)
    if not match:
        raise ValueError(f"not a quantity: {quantity!r}")
    number, unit = match.groups()
    return float(number) * (_IUNITS.get(unit) or _UNITS.get(unit, 1))


def _check_duration(value: str) -> str:
    if not isinstance(value, str) or not value or not _DURATION_RE.match(value):
        raise ValueError("must be a Prometheus duration such as 30s, 5m, 1h30m or 15d (units ms, s, m, h, d, w, y)")
    if duration_seconds(value) <= 0:
        raise ValueError("must be a positive duration such as 30s or 5m")
    return value


def _check_go_duration(value: str) -> str:
    if not isinstance(value, str) or not _GO_DURATION_RE.match(value):
        raise ValueError(
            "must be a Go duration as Argo Rollouts parses it, such as 30s, 5m or 1h30m (units ns, us, ms, s, m, h; no d or w)"
        )
    return value


def check_image(value: str) -> str:
    """An image reference Kubernetes can pull, pinned to a tag other than latest or to a digest."""
    if not _IMAGE_RE.match(value):
        raise ValueError(
            "must be an image reference such as registry.example.com/team/name:1.2.3 (repository path in lower case) "
            "or name@sha256:<digest>"
        )
    last = value.split("/")[-1]
    if "@" not in value and (":" not in last or last.endswith(":latest")):
        raise ValueError("must pin a tag other than latest, or a digest, so rollouts are reproducible")
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
GoDuration = Annotated[str, AfterValidator(_check_go_duration)]
RetentionDays = Annotated[int, AfterValidator(_check_retention_days)]
KmsKeyArn = Annotated[str, AfterValidator(_check_kms_key_arn)]
Quantity = Annotated[str, AfterValidator(_check_quantity)]
ByteSize = Annotated[str, AfterValidator(_check_byte_size)]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
ChartVersion = Annotated[str, AfterValidator(_check_chart_version)]


class Model(BaseModel):
    """Base for every config model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, validate_default=True)


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


def resources(cpu: str, memory: str, memory_limit: str) -> Resources:
    """Requests plus a memory limit: the shape of every default in this program."""
    return Resources(requests=ResourceList(cpu=cpu, memory=memory), limits=ResourceList(memory=memory_limit))


class Toleration(Model):
    key: str = Field(description="Taint key to tolerate, e.g. `nvidia.com/gpu`.")
    operator: Literal["Exists", "Equal"] = Field("Exists", description="`Exists` or `Equal`.")
    value: Optional[str] = Field(None, description="Taint value, with operator `Equal`.")
    effect: Optional[Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]] = Field(
        None, description="Taint effect; empty tolerates every effect."
    )

    @model_validator(mode="after")
    def _value_needs_equal(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("a toleration with operator Exists must not set value; use operator Equal")
        return self


# A path segment that is a credential: a UUID (healthchecks.io, Opsgenie heartbeats by id), a long hex
# string, or a long run mixing letters and digits (API tokens).
_TOKEN_SEGMENT = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,}"
    r"|(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,})$"
)


def url_credential(url: str) -> Optional[str]:
    """Why `url` carries a credential (userinfo, a query, a token-like path segment), or None."""
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    if "@" in host:
        return "user information before the host"
    if "?" in path or "#" in path:
        return "a query string"
    for segment in path.split("/"):
        if _TOKEN_SEGMENT.match(segment):
            return f"a token-like path segment ({segment[:4]}…)"
    return None
