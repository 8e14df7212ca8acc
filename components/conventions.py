"""Names and labels the whole platform agrees on, kept in one place.

Anything two components must agree on (a selector label, a namespace default, a secret's config
key) lives here so that a mismatch cannot be written by editing only one side.
"""

from __future__ import annotations

from typing import Final

PROJECT: Final = "eks-observability"
TYPE_PREFIX: Final = "eks-observability"

# Prometheus selects ServiceMonitors, PodMonitors and PrometheusRules by this label, and every
# monitor or rule this program creates carries it. Both sides read this constant, so the
# "monitor silently ignored because labels don't match the selector" failure cannot happen.
SELECTOR_LABEL_KEY: Final = "eks-observability.io/scrape"
SELECTOR_LABEL_VALUE: Final = "platform"
SELECTOR_LABELS: Final = {SELECTOR_LABEL_KEY: SELECTOR_LABEL_VALUE}

# Grafana's sidecar loads ConfigMaps carrying these labels.
GRAFANA_DASHBOARD_LABEL: Final = {"grafana_dashboard": "1"}
GRAFANA_DATASOURCE_LABEL: Final = {"grafana_datasource": "1"}

MANAGED_BY_LABELS: Final = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": PROJECT}

# The audience EKS puts in projected service-account tokens for IRSA.
IRSA_AUDIENCE: Final = "sts.amazonaws.com"

# Written instead of a secret's value wherever a secret would otherwise be shown (render output).
REDACTED: Final = "[secret]"

# Secrets are separate top-level config keys set with `pulumi config set --secret`, never part of
# the structured config, so a plain-text copy cannot hide inside an object.
SECRET_CONFIG_KEYS: Final[dict[str, str]] = {
    "grafanaAdminPassword": "Grafana admin password (user `admin`); required when prometheusStack.grafana is enabled.",
    "slackWebhookUrlCritical": "Slack incoming-webhook URL for the critical channel; required when alerting.slack.enabled.",
    "slackWebhookUrlWarning": "Slack incoming-webhook URL for the warning channel; required when alerting.slack.enabled.",
    "pagerdutyRoutingKey": "PagerDuty Events v2 routing key; required when alerting.pagerduty.enabled.",
    "datadogApiKey": "Datadog API key; required when datadog.enabled.",
    "datadogAppKey": "Datadog application key; required when datadog.enabled.",
}

# The per-service metric contract: the only labels a service's series may keep.
DEFAULT_REQUESTS_METRIC: Final = "http_requests_total"
DEFAULT_DURATION_METRIC: Final = "http_request_duration_seconds"
DEFAULT_ALLOWED_LABELS: Final = ("method", "path", "status", "service", "version")
# Labels that are never allowed whatever the config says: each makes one series per user/request.
FORBIDDEN_LABELS: Final = ("user_id", "trace_id", "request_id", "session_id", "timestamp", "raw_path", "url")
