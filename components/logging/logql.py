"""LogQL alerting rules for Loki's ruler, as data: a burst of error-level lines per service, and the log
pipeline's own errors. Loki's ruler evaluates them and sends the alerts to the platform's Alertmanager,
which routes them like every other alert (severity, and `team` for a service's).

Rule groups have the Prometheus rule-file shape; only the expressions are LogQL. They are written to the
ruler's API by the rules sync Job (`ruler.py`), not as files, so the ruler's own store stays the one place
rules live and teams keep adding theirs through the same API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..conventions import PROJECT
from ..lib.alerts import AlertRule
from ..metrics.config import AlertingConfig

# The ruler namespace the platform owns, named after the project so no hand-made rules live there: the
# sync Job makes it hold exactly these groups and deletes any other group in it.
RULES_NAMESPACE = PROJECT
SERVICES_GROUP = "services.error-logs"
PIPELINE_GROUP = "log-pipeline.errors"
EVALUATION_INTERVAL = "1m"
# The services' JSON log lines carry `level` (the instrumentation package writes Python's level names,
# lower-cased); only that field is extracted, and lines that are not JSON are left out, not errors.
ERROR_LEVELS = "error|critical|fatal"
# Fluent Bit writes `[error]`, Loki `level=error` (logfmt), nginx (Loki's gateway) `[error]`.
PIPELINE_ERROR_LINE = r"(?i)\[\s*error\s*\]|level=error"
PIPELINE_APPS = ("fluent-bit", "loki")


@dataclass(frozen=True)
class ServiceLogs:
    """A service whose log lines Fluent Bit ships to Loki (labels `namespace` and `app` = the service)."""

    namespace: str
    name: str
    team: str


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def service_error_lines(service: ServiceLogs, window: str = "5m") -> str:
    """Error-level lines a minute, over `window`, of one service's containers."""
    stream = f"{{namespace={_quote(service.namespace)}, app={_quote(service.name)}}}"
    lines = f'{stream} | json level="level" | __error__="" | level=~{_quote(ERROR_LEVELS)}'
    return f"sum(rate({lines} [{window}])) * 60"


def pipeline_error_lines(namespace: str, window: str = "10m") -> str:
    """Error lines of each log pipeline container over `window`."""
    stream = f"{{namespace={_quote(namespace)}, app=~{_quote('|'.join(PIPELINE_APPS))}}}"
    return f"sum by (namespace, app, container) (count_over_time({stream} |~ `{PIPELINE_ERROR_LINE}` [{window}]))"


def service_rules(services: list[ServiceLogs], alerting: AlertingConfig) -> list[AlertRule]:
    t = alerting.thresholds
    return [
        AlertRule(
            alert="ServiceErrorLogBurst",
            expr=f"{service_error_lines(service)} > {t.log_errors_per_minute:g}",
            for_=t.log_errors_for,
            severity="warning",
            labels={"namespace": service.namespace, "service": service.name, "team": service.team},
            summary=f"{service.name} is logging errors",
            description=f"{service.name} in {service.namespace} writes {{{{ $value | humanize }}}} error-level log lines a "
            f"minute (threshold {t.log_errors_per_minute:g}, over 5m).",
        )
        for service in sorted(services, key=lambda s: (s.namespace, s.name))
    ]


def pipeline_rules(namespace: str, alerting: AlertingConfig) -> list[AlertRule]:
    t = alerting.thresholds
    return [
        AlertRule(
            alert="LogPipelineErrors",
            expr=f"{pipeline_error_lines(namespace)} > {t.pipeline_error_lines}",
            for_=t.pipeline_errors_for,
            severity="warning",
            summary="{{ $labels.app }} ({{ $labels.container }}) is logging errors",
            description="{{ $labels.container }} of {{ $labels.app }} in {{ $labels.namespace }} wrote {{ $value }} error "
            f"lines in 10m (threshold {t.pipeline_error_lines}): logs may be late or lost on their way to CloudWatch or Loki.",
        )
    ]


def logql_rule_groups(services: list[ServiceLogs], logging_namespace: str, alerting: AlertingConfig) -> list[dict[str, Any]]:
    """The platform's rule groups for the ruler namespace `RULES_NAMESPACE`, in a fixed order."""
    runbooks = alerting.runbook_base_url
    groups = [(PIPELINE_GROUP, pipeline_rules(logging_namespace, alerting))]
    if services:
        groups.append((SERVICES_GROUP, service_rules(services, alerting)))
    return [{"name": name, "interval": EVALUATION_INTERVAL, "rules": [r.to_rule(runbooks) for r in rules]} for name, rules in groups]
