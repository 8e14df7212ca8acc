"""Alertmanager configuration: routing by severity to Slack and PagerDuty, a dead man's switch.

Credentials never appear here. The webhook URLs, the routing key and the heartbeat credentials live
in a Kubernetes Secret mounted into Alertmanager, and the configuration points at the mounted files
(`api_url_file`, `routing_key_file`, `credentials_file`, and the heartbeat's `url_file`, Alertmanager 0.27+), so the configuration (and the Helm values
that carry it) holds no secret.

Every notification template renders non-empty for any group: PagerDuty Events v2 rejects an empty
`payload.summary` with HTTP 400, which Alertmanager does not retry, so a page would be lost.
"""

from __future__ import annotations

from typing import Any

from ..lib.promql import duration
from ..lib.types import duration_seconds
from .config import AlertingConfig, TeamConfig

RECEIVERS_SECRET = "alertmanager-receivers"
# kube-prometheus-stack mounts each secret in `alertmanagerSpec.secrets` at this path.
SECRETS_DIR = f"/etc/alertmanager/secrets/{RECEIVERS_SECRET}"
SLACK_CRITICAL_KEY = "slack-critical-url"
SLACK_WARNING_KEY = "slack-warning-url"
PAGERDUTY_KEY = "pagerduty-routing-key"
HEARTBEAT_KEY = "heartbeat-credentials"
HEARTBEAT_URL_KEY = "heartbeat-url"
NULL_RECEIVER = "null"
HEARTBEAT_RECEIVER = "heartbeat"
PAGERDUTY_RECEIVER = "pagerduty-critical"
SLACK_CRITICAL, SLACK_WARNING = "slack-critical", "slack-warning"
# kube-prometheus-stack's alerts about Alertmanager's own deliveries, labelled with `integration`.
DELIVERY_FAILURES = "AlertmanagerFailedToSendAlerts|AlertmanagerClusterFailedToSendAlerts"
SLO_PAGES = "Service(Availability|Latency)BudgetBurnFast"
SLO_TICKETS = "Service(Availability|Latency)BudgetBurnSlow"

# "[FIRING:1] ServiceDown orders/orders-api: orders-api cannot be scraped": never empty, whatever the
# group holds, and two services of one name in two namespaces never read alike.
_HEADLINE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}]'
    "{{ with .CommonLabels.alertname }} {{ . }}{{ end }}"
    "{{ if .CommonLabels.service }} {{ with .CommonLabels.namespace }}{{ . }}/{{ end }}{{ .CommonLabels.service }}"
    "{{ else }}{{ with .CommonLabels.namespace }} {{ . }}{{ end }}{{ end }}"
    "{{ with (index .Alerts 0).Annotations.summary }}: {{ . }}{{ end }}"
    "{{ if gt (len .Alerts) 1 }} ({{ len .Alerts }} alerts){{ end }}"
)
_SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}"
)


def _team_keys(team: TeamConfig) -> dict[str, str]:
    """A team's keys in the receivers Secret -> the stack secrets it names."""
    keys = {}
    if team.slack:
        keys[f"team-{team.name}-{SLACK_CRITICAL_KEY}"] = team.slack.critical_webhook_secret
        keys[f"team-{team.name}-{SLACK_WARNING_KEY}"] = team.slack.warning_webhook_secret
    if team.pagerduty:
        keys[f"team-{team.name}-{PAGERDUTY_KEY}"] = team.pagerduty.routing_key_secret
    return keys


def receiver_secret_keys(alerting: AlertingConfig) -> dict[str, str]:
    """Secret key in the receivers Secret -> the stack config secret that fills it."""
    keys = {}
    if alerting.slack.enabled:
        keys[SLACK_CRITICAL_KEY] = "slackWebhookUrlCritical"
        keys[SLACK_WARNING_KEY] = "slackWebhookUrlWarning"
    if alerting.pagerduty.enabled:
        keys[PAGERDUTY_KEY] = "pagerdutyRoutingKey"
    if alerting.heartbeat.enabled and alerting.heartbeat.authorization:
        keys[HEARTBEAT_KEY] = "heartbeatCredentials"
    if alerting.heartbeat.url_from_secret:
        keys[HEARTBEAT_URL_KEY] = "heartbeatUrl"
    for team in alerting.teams:
        keys.update(_team_keys(team))
    return keys


def _slack(name: str, channel: str, key: str) -> dict[str, Any]:
    return {
        "name": name,
        "slack_configs": [
            {
                "api_url_file": f"{SECRETS_DIR}/{key}",
                "channel": channel,
                "send_resolved": True,
                "title": _HEADLINE,
                "text": _SLACK_TEXT,
            }
        ],
    }


def _pagerduty(alerting: AlertingConfig, name: str = PAGERDUTY_RECEIVER, key: str = PAGERDUTY_KEY) -> dict[str, Any]:
    return {
        "name": name,
        "pagerduty_configs": [
            {
                "routing_key_file": f"{SECRETS_DIR}/{key}",
                "url": alerting.pagerduty.url,
                "send_resolved": True,
                "severity": "critical",
                "description": _HEADLINE,
            }
        ],
    }


def _heartbeat(alerting: AlertingConfig) -> dict[str, Any]:
    heartbeat = alerting.heartbeat
    target = {"url_file": f"{SECRETS_DIR}/{HEARTBEAT_URL_KEY}"} if heartbeat.url_from_secret else {"url": heartbeat.url}
    webhook: dict[str, Any] = {**target, "send_resolved": False}
    if heartbeat.authorization:
        webhook["http_config"] = {"authorization": {"type": heartbeat.authorization, "credentials_file": f"{SECRETS_DIR}/{HEARTBEAT_KEY}"}}
    return {"name": HEARTBEAT_RECEIVER, "webhook_configs": [webhook]}


def _team_receivers(alerting: AlertingConfig, team: TeamConfig) -> list[dict[str, Any]]:
    receivers = []
    if team.pagerduty:
        receivers.append(_pagerduty(alerting, f"team-{team.name}-pagerduty", f"team-{team.name}-{PAGERDUTY_KEY}"))
    if team.slack:
        receivers.append(_slack(f"team-{team.name}-{SLACK_CRITICAL}", team.slack.critical_channel, f"team-{team.name}-{SLACK_CRITICAL_KEY}"))
        receivers.append(_slack(f"team-{team.name}-{SLACK_WARNING}", team.slack.warning_channel, f"team-{team.name}-{SLACK_WARNING_KEY}"))
    return receivers


def _severity_routes(pagerduty: str | None, critical: str | None, warning: str | None) -> list[dict[str, Any]]:
    """critical: a page (`continue`, one incident per service) and the critical channel; warning: the warning channel."""
    routes: list[dict[str, Any]] = []
    if pagerduty:
        # One service's critical alerts are one PagerDuty incident (its dedup key is the group's):
        # ServiceDown after the SLO page, or the page of the other SLO, update it instead of paging again.
        routes.append({"receiver": pagerduty, "matchers": ['severity = "critical"'], "group_by": ["namespace", "service"], "continue": True})
    if critical:
        routes.append({"receiver": critical, "matchers": ['severity = "critical"']})
    if warning:
        routes.append({"receiver": warning, "matchers": ['severity = "warning"']})
    return routes


def _team_route(alerting: AlertingConfig, team: TeamConfig) -> dict[str, Any]:
    """A team's alerts (`team` label, from its services' rules) to its own receivers; an integration
    the team has not configured falls back to the platform's, so no alert of a team goes nowhere."""
    slack, pagerduty = alerting.slack.enabled, alerting.pagerduty.enabled
    page = f"team-{team.name}-pagerduty" if team.pagerduty else (PAGERDUTY_RECEIVER if pagerduty else None)
    critical = f"team-{team.name}-{SLACK_CRITICAL}" if team.slack else (SLACK_CRITICAL if slack else None)
    warning = f"team-{team.name}-{SLACK_WARNING}" if team.slack else (SLACK_WARNING if slack else None)
    return {
        "receiver": warning or NULL_RECEIVER,
        "matchers": [f'team = "{team.name}"'],
        "routes": [{"receiver": NULL_RECEIVER, "matchers": ['severity = "info"']}, *_severity_routes(page, critical, warning)],
    }


def _routes(alerting: AlertingConfig) -> list[dict[str, Any]]:
    slack, pagerduty, heartbeat = alerting.slack.enabled, alerting.pagerduty.enabled, alerting.heartbeat.enabled
    routes: list[dict[str, Any]] = [
        {
            # The always-firing Watchdog pings the dead man's switch on a short repeat; without one it goes nowhere.
            "receiver": HEARTBEAT_RECEIVER if heartbeat else NULL_RECEIVER,
            "matchers": ['alertname = "Watchdog"'],
            "group_wait": "0s",
            # Alertmanager sends only at group_interval ticks, and only if repeat_interval has passed
            # since the last send: equal, a tick a few ms early skips and pings come 1-2 intervals apart.
            "group_interval": alerting.heartbeat.repeat_interval,
            "repeat_interval": duration(max(1, int(duration_seconds(alerting.heartbeat.repeat_interval)) // 2)),
        },
        {"receiver": NULL_RECEIVER, "matchers": ['alertname = "InfoInhibitor"']},
    ]
    # A broken integration is reported through the other one, never through itself.
    if slack and pagerduty:
        routes.append({"receiver": PAGERDUTY_RECEIVER, "matchers": [f'alertname =~ "{DELIVERY_FAILURES}"', 'integration = "slack"']})
        routes.append({"receiver": SLACK_CRITICAL, "matchers": [f'alertname =~ "{DELIVERY_FAILURES}"', 'integration = "pagerduty"']})
    routes.append({"receiver": NULL_RECEIVER, "matchers": ['severity = "info"']})
    routes += [_team_route(alerting, team) for team in alerting.teams]
    # `continue` on the page so a critical alert pages and also lands in the critical Slack channel.
    routes += _severity_routes(PAGERDUTY_RECEIVER if pagerduty else None, SLACK_CRITICAL if slack else None, SLACK_WARNING if slack else None)
    return routes


def alertmanager_config(alerting: AlertingConfig) -> dict[str, Any]:
    receivers: list[dict[str, Any]] = [{"name": NULL_RECEIVER}]
    if alerting.heartbeat.enabled:
        receivers.append(_heartbeat(alerting))
    if alerting.pagerduty.enabled:
        receivers.append(_pagerduty(alerting))
    if alerting.slack.enabled:
        receivers.append(_slack(SLACK_CRITICAL, alerting.slack.critical_channel, SLACK_CRITICAL_KEY))
        receivers.append(_slack(SLACK_WARNING, alerting.slack.warning_channel, SLACK_WARNING_KEY))
    for team in alerting.teams:
        receivers += _team_receivers(alerting, team)
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": SLACK_WARNING if alerting.slack.enabled else NULL_RECEIVER,
            "group_by": list(alerting.group_by),
            "group_wait": alerting.group_wait,
            "group_interval": alerting.group_interval,
            "repeat_interval": alerting.repeat_interval,
            "routes": _routes(alerting),
        },
        "inhibit_rules": [
            {
                # A service's page says everything its ticket (the slow burn of the same SLO) would.
                "source_matchers": [f'alertname =~ "{SLO_PAGES}"'],
                "target_matchers": [f'alertname =~ "{SLO_TICKETS}"'],
                "equal": ["namespace", "service", "slo"],
            },
            {
                # A firing critical silences the warning of the same alert for the same target.
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity = "warning"'],
                "equal": ["alertname", "namespace", "service", "instance"],
            },
            {
                # kube-prometheus-stack's InfoInhibitor: info alerts only matter beside a warning or critical.
                "source_matchers": ['alertname = "InfoInhibitor"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace"],
            },
            {
                # A service's own SLO page says it all; the platform catch-all would page twice.
                "source_matchers": [f'alertname =~ "{SLO_PAGES}"'],
                "target_matchers": ['alertname =~ "PlatformHighErrorRate|PlatformHighLatencyP99"'],
                "equal": ["namespace", "service"],
            },
        ],
        "receivers": receivers,
    }
