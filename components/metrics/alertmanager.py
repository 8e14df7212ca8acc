"""Alertmanager configuration: routing by severity to Slack and PagerDuty.

Credentials never appear here. The webhook URLs and the routing key live in a Kubernetes Secret
mounted into Alertmanager, and the configuration points at the mounted files
(`api_url_file`, `routing_key_file`), so the configuration (and the Helm values that carry it)
holds no secret.
"""

from __future__ import annotations

from typing import Any

from .config import AlertingConfig

RECEIVERS_SECRET = "alertmanager-receivers"
# kube-prometheus-stack mounts each secret in `alertmanagerSpec.secrets` at this path.
SECRETS_DIR = f"/etc/alertmanager/secrets/{RECEIVERS_SECRET}"
SLACK_CRITICAL_KEY = "slack-critical-url"
SLACK_WARNING_KEY = "slack-warning-url"
PAGERDUTY_KEY = "pagerduty-routing-key"
NULL_RECEIVER = "null"

_SLACK_TITLE = '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}'
_SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
)


def receiver_secret_keys(alerting: AlertingConfig) -> dict[str, str]:
    """Secret key in the receivers Secret -> the stack config secret that fills it."""
    keys = {}
    if alerting.slack.enabled:
        keys[SLACK_CRITICAL_KEY] = "slackWebhookUrlCritical"
        keys[SLACK_WARNING_KEY] = "slackWebhookUrlWarning"
    if alerting.pagerduty.enabled:
        keys[PAGERDUTY_KEY] = "pagerdutyRoutingKey"
    return keys


def _slack(name: str, channel: str, key: str) -> dict[str, Any]:
    return {
        "name": name,
        "slack_configs": [
            {
                "api_url_file": f"{SECRETS_DIR}/{key}",
                "channel": channel,
                "send_resolved": True,
                "title": _SLACK_TITLE,
                "text": _SLACK_TEXT,
            }
        ],
    }


def alertmanager_config(alerting: AlertingConfig) -> dict[str, Any]:
    receivers: list[dict[str, Any]] = [{"name": NULL_RECEIVER}]
    routes: list[dict[str, Any]] = [
        # kube-prometheus-stack's always-firing dead man's switch and its inhibitor never page anyone.
        {"receiver": NULL_RECEIVER, "matchers": ['alertname =~ "Watchdog|InfoInhibitor"']},
    ]
    default = NULL_RECEIVER
    if alerting.pagerduty.enabled:
        receivers.append(
            {
                "name": "pagerduty-critical",
                "pagerduty_configs": [
                    {
                        "routing_key_file": f"{SECRETS_DIR}/{PAGERDUTY_KEY}",
                        "send_resolved": True,
                        "severity": "critical",
                        "description": "{{ .CommonAnnotations.summary }}",
                    }
                ],
            }
        )
        # `continue` so a critical alert pages and also lands in the critical Slack channel.
        routes.append({"receiver": "pagerduty-critical", "matchers": ['severity = "critical"'], "continue": True})
    if alerting.slack.enabled:
        receivers.append(_slack("slack-critical", alerting.slack.critical_channel, SLACK_CRITICAL_KEY))
        receivers.append(_slack("slack-warning", alerting.slack.warning_channel, SLACK_WARNING_KEY))
        routes.append({"receiver": "slack-critical", "matchers": ['severity = "critical"']})
        routes.append({"receiver": "slack-warning", "matchers": ['severity = "warning"']})
        default = "slack-warning"
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": default,
            "group_by": list(alerting.group_by),
            "group_wait": alerting.group_wait,
            "group_interval": alerting.group_interval,
            "repeat_interval": alerting.repeat_interval,
            "routes": routes,
        },
        "inhibit_rules": [
            {
                # A firing critical silences the warning of the same alert for the same target.
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity = "warning"'],
                "equal": ["alertname", "namespace", "service", "instance"],
            }
        ],
        "receivers": receivers,
    }
