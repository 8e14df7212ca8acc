"""Names and labels the whole platform agrees on, kept in one place.

Anything two components must agree on (a selector label, a namespace default, a secret's config
key) lives here so that a mismatch cannot be written by editing only one side.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

PROJECT: Final = "eks-observability"

# The kube-prometheus-stack Helm release. The chart labels every monitor and rule it ships
# (node-exporter, kube-state-metrics, its own components) with `release: <release name>`.
PROMETHEUS_RELEASE: Final = "kube-prometheus-stack"

# Prometheus selects ServiceMonitors, PodMonitors, Probes and PrometheusRules by this label; every
# monitor or rule this program creates carries it, and so does everything the chart ships. Both
# sides read this constant, so "monitor silently ignored because its labels don't match the
# selector" cannot happen.
SELECTOR_LABELS: Final = {"release": PROMETHEUS_RELEASE}

# The prometheus-operator version (the chart's appVersion) each pinned kube-prometheus-stack chart
# runs, so the CRDs applied beside the release match it. Bumping `prometheusStack.chartVersion`
# needs its entry here; config validation says so, and a test checks the entry against the chart.
KUBE_PROMETHEUS_STACK_OPERATOR: Final = {"88.5.3": "v0.93.1"}
PROMETHEUS_OPERATOR_CRDS: Final = (
    "alertmanagerconfigs",
    "alertmanagers",
    "podmonitors",
    "probes",
    "prometheusagents",
    "prometheuses",
    "prometheusrules",
    "scrapeconfigs",
    "servicemonitors",
    "thanosrulers",
)

# Grafana's sidecar loads ConfigMaps carrying these labels; the Grafana values and the ConfigMaps
# both read them.
GRAFANA_DASHBOARD_LABEL: Final = {"grafana_dashboard": "1"}
GRAFANA_DATASOURCE_LABEL: Final = {"grafana_datasource": "1"}
# Datasource uids dashboards and links name: `prometheus` (the metrics backend) and Loki's.
PROMETHEUS_DATASOURCE_UID: Final = "prometheus"
LOKI_DATASOURCE_UID: Final = "loki"
CLOUDWATCH_DATASOURCE_UID: Final = "cloudwatch"
# The AWS provider's default tag naming the stack: what tells this stack's resources from others'.
STACK_TAG: Final = "eks-observability:stack"
# Sloth's info series, one per service and SLO, carrying the owning team (components/services/budgets.py).
SLO_INFO: Final = "sloth_slo_info"
# The Loki `job` label of the cluster's Kubernetes events (Fluent Bit's events collector).
KUBERNETES_EVENTS_JOB: Final = "kubernetes-events"
# The exemplar label the service package puts the request's trace id in (its log lines carry the
# same id as `trace_id`): Grafana links an exemplar to those lines through it.
EXEMPLAR_TRACE_LABEL: Final = "trace_id"

MANAGED_BY_LABELS: Final = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": PROJECT}

# What a Secret built from stack secrets ignores in a placeholder preview (components/stack/secrets.py).
SECRET_DATA: Final = ["stringData", "data"]

# The audience EKS puts in projected service-account tokens for IRSA.
IRSA_AUDIENCE: Final = "sts.amazonaws.com"
# The service-account annotation EKS's pod identity webhook reads the role to assume from.
IRSA_ROLE_ANNOTATION: Final = "eks.amazonaws.com/role-arn"

# Written instead of a secret's value wherever a secret would otherwise be shown (render output).
REDACTED: Final = "[secret]"

# Secrets are separate top-level config keys set with `pulumi config set --secret`, never part of
# the structured config, so a plain-text copy cannot hide inside an object.
SECRET_CONFIG_KEYS: Final[dict[str, str]] = {
    "grafanaAdminPassword": "Grafana admin password (user `admin`); required when prometheusStack.grafana is enabled.",
    "slackWebhookUrlCritical": "Slack incoming-webhook URL for the critical channel; required when alerting.slack.enabled.",
    "slackWebhookUrlWarning": "Slack incoming-webhook URL for the warning channel; required when alerting.slack.enabled.",
    "pagerdutyRoutingKey": "PagerDuty Events v2 routing key; required when alerting.pagerduty.enabled.",
    "heartbeatCredentials": "Credentials for the heartbeat URL; required when alerting.heartbeat.authorization is set.",
    "heartbeatUrl": "The whole heartbeat ping URL (its path or query may be the token); required when alerting.heartbeat is "
    "enabled without alerting.heartbeat.url.",
    "datadogApiKey": "Datadog API key; required when datadog.enabled.",
    "datadogAppKey": "Datadog application key; required when datadog.enabled.",
}

# The per-service metric contract: the only labels a service's series may keep.
DEFAULT_REQUESTS_METRIC: Final = "http_requests_total"
DEFAULT_DURATION_METRIC: Final = "http_request_duration_seconds"
# The duration histogram's bucket bounds as the service-contract package exposes them
# (instrumentation/src/service_contract/contract.py BUCKETS; a test keeps the two equal).
DEFAULT_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
DEFAULT_ALLOWED_LABELS: Final = ("method", "path", "status", "service", "version")
# Labels that are never allowed whatever the config says: each makes one series per user/request.
FORBIDDEN_LABELS: Final = ("user_id", "trace_id", "request_id", "session_id", "timestamp", "raw_path", "url")

# A sample carrying a forbidden label is renamed to this metric, with the label's name in
# CONTRACT_VIOLATION_LABEL, instead of being merged into the contract's series: visible, not
# silently undercounted.
CONTRACT_VIOLATION_METRIC: Final = "metric_contract_violation"
CONTRACT_VIOLATION_LABEL: Final = "forbidden_label"

# Recording rules every service gets; dashboards and canary analysis read these names, never the
# raw metric, so a service with its own metric names (metric contract overrides) looks the same.
# Names are built from the window, as sloth's format strings are, so a name never lies about it.
ANALYSIS_WINDOW: Final = "2m"
RECORD_REQUEST_RATE: Final = f"service_version:http_requests:rate{ANALYSIS_WINDOW}"
RECORD_ERROR_RATE: Final = f"service_version:http_requests_5xx:rate{ANALYSIS_WINDOW}"
RECORD_ERROR_RATIO: Final = f"service_version:http_request_error_ratio:rate{ANALYSIS_WINDOW}"
# Quantiles of the service dashboard's latency panel. Neither it nor the canary analysis reads a
# recorded quantile: recording them for every version of every service, every 30s, rated ~1,000
# bucket series per service per evaluation (a fifth of all rule time) for numbers that are read
# only while someone looks at the dashboard or a rollout is being analysed.
LATENCY_QUANTILES: Final = (0.5, 0.95, 0.99)


# Multi-window multi-burn-rate alerting (Google SRE workbook, chapter 5): (name, severity, for,
# [(burn rate factor, long window, short window), ...]). The alert fires when any pair burns.
# The 10m/2m pair pages a sustained 20% error burst on a 99.5% objective within 5 minutes (1h/5m
# alone needs 21); a 2-minute blip reaches at most 2/10 of its rate over 10m and never pages. The
# short window already debounces, so the page has no `for`. docs/alerting.md tabulates the times.
# A page stays firing this long after its condition stops holding: one incident is one page. Without
# it a steady error rate just over the threshold paged 6 times in 40 minutes as the short window
# dipped, and a 2-minute outage paged twice (the catch-all fired after the page, its inhibitor, had
# resolved); with it the page outlasts the catch-all and ServiceDown's `for` after every pod crashed.
# The price: a page resolves this much later after recovery (docs/alerting.md).
PAGE_KEEP_FIRING_FOR: Final = "10m"
SLO_WINDOWS: Final = ("2m", "5m", "10m", "30m", "1h", "2h", "6h", "1d", "3d")
Severity = Literal["critical", "warning", "info"]
BURN_RATE_ALERTS: Final[tuple[tuple[str, Severity, str, tuple[tuple[float, str, str], ...]], ...]] = (
    ("Fast", "critical", "0s", ((14.4, "10m", "2m"), (14.4, "1h", "5m"), (6, "6h", "30m"))),
    ("Slow", "warning", "15m", ((3, "1d", "2h"), (1, "3d", "6h"))),
)
# Windows of 30m and longer are not read raw each evaluation (a 3d rate() decodes every sample of
# every series for 3 days, 120 times an hour): the group records each one's events (SLO_PARTS),
# 30m from raw series and every longer window as the sum of a few recorded ones, now and a tile
# apart back from now (1h from two 30m, 2h from two 1h, 6h from three 2h, 1d from four 6h, 3d
# from three 1d). rate() is the slope between a window's first and last samples, so tiles are exact
# when they share their boundary samples: every tile but the oldest is read one scrape interval
# longer (its first sample is the last of the tile before it), the oldest over the window itself.
# The sum of their sampled increases is then the increase raw rate() sees over the whole window,
# at the cost of one lookup of three recorded series per tile. Series that start or end inside a tile (a
# new pod's, a status="500" series at its first error) are not exact: rate() extrapolates them by
# up to half a scrape interval from the slope it sees in the tile, not in the whole window, so
# around a pod change the ratios differ a little (docs/rule-cost.md measures it), and the shorter
# the tile the more: with 10m tiles a page moved by one evaluation. So 2m, 5m and 10m,
# the windows that time a page, stay raw; tools/rulebench measures the equality and the cost on
# the server.
SLO_TILES: Final = (("30m", "1h"), ("1h", "2h"), ("2h", "6h"), ("6h", "1d"), ("1d", "3d"))
SLO_RULE_INTERVAL: Final = "30s"
# The windows summed for every service at once, in one platform group (SLO_FLEET_GROUP): each of
# their tile lookups reaches into hours-old blocks, where a lookup costs about the same for 3 series
# as for 600, so one lookup for the fleet replaces one per service (docs/rule-cost.md). The first of
# them reads the service groups' tiles, which run at other evaluation offsets and may be mid-evaluation
# as it reads: every such lookup reads SLO_FLEET_LAG back, so all its tiles end on the same service
# evaluation. These windows therefore end 30 to 60s before the alert that reads them; the page's
# 1h/5m and 10m/2m pairs stay in the service group, unlagged.
SLO_FLEET_WINDOWS: Final = ("2h", "6h", "1d", "3d")
SLO_FLEET_LAG: Final = SLO_RULE_INTERVAL
SLO_FLEET_GROUP: Final = "service-fleet.slo-windows"
# The windows that time a page are read raw, but recorded as events first like the 30m base: each
# reads the histogram once, and the ratios, the page's traffic gate and the 2m page window read them.
SLO_EVENT_WINDOWS: Final = ("2m", "5m", "10m")
# Every SLO event is counted from one histogram in one lookup per window: its `+Inf` bucket (every
# request, by status class) and the latency objective's bucket. A rule's cost on the server is
# mostly its lookups and the series they read, so both SLOs' events of a window are one rule
# reading one selector, told apart by the `part` label. (The request counter counts the same
# requests with the same labels, by the contract; reading it too cost a third more series.)
#   error: requests answered 5xx         (availability's bad events)
#   ok:    every other request           (error + ok: both SLOs' total)
#   fast:  requests within the objective (latency's good events; bad = total - fast)
# A part with no series (no 5xx yet) is recorded as 0, so every part of every window exists.
SloPart = Literal["error", "ok", "fast"]
SLO_PARTS: Final[tuple[SloPart, ...]] = ("error", "ok", "fast")
SLO_PART_LABEL: Final = "part"


def record_slo_events(window: str, tile: bool = False) -> str:
    """Each SLO event `part` (SLO_PARTS) between the first and last samples of `window`, one series
    per part; a `tile` starts one scrape interval earlier, on the last sample of the window before it."""
    return f"service:slo_parts:increase{window}{'_tile' if tile else ''}"


# A page needs this much traffic over this window: a handful of errors on an idle service is a
# ticket (the slow tier), never a page.
PAGE_TRAFFIC_WINDOW: Final = "10m"
RECORD_SLO_REQUESTS: Final = f"service:slo_requests:rate{PAGE_TRAFFIC_WINDOW}"


# Both SLOs' error ratios of a window are one metric told apart by this label (the alerts carry it
# too): one rule computes both from two lookups of the window's events.
SLO_LABEL: Final = "slo"


# Sloth's identity labels on the error-budget series (components/services/budgets.py): Sloth's own
# dashboards select by them.
SLOTH_ID_LABEL: Final = "sloth_id"
# The owning team of a service's alerts and budget series (`services[].team`, or the platform's).
TEAM_LABEL: Final = "team"
SLOTH_SERVICE_LABEL: Final = "sloth_service"
SLOTH_SLO_LABEL: Final = "sloth_slo"
SLOTH_WINDOW_LABEL: Final = "sloth_window"
SLO_PERIODS: Final = ("28d", "30d")


def record_slo_errors(window: str) -> str:
    """Error ratio of each SLO (`slo`: `availability` or `latency`) over one window."""
    return f"service:slo_errors:ratio_rate{window}"


SERVICE_RULE_GROUP_PREFIX: Final = "service"

# Dashboard UIDs: links (stack outputs, runbooks) and the dashboards themselves read these.
SERVICE_DASHBOARD_UID: Final = "service-detail"
ERROR_BUDGET_DASHBOARD_UID: Final = "service-error-budget"
BUDGETS_OVERVIEW_DASHBOARD_UID: Final = "services-error-budgets"
OVERVIEW_DASHBOARD_UID: Final = "platform-overview"
GPU_DASHBOARD_UID: Final = "platform-gpu"
ROLLOUTS_DASHBOARD_UID: Final = "platform-argo-rollouts"

# DaemonSets roll 10% of the nodes at a time, so a rollout takes about ten pod start-ups whatever the
# cluster's size, and their releases wait long enough for that on a slow node pool (a healthy rollout
# over 200 nodes must not be rolled back by an atomic release's timeout).
DAEMONSET_MAX_UNAVAILABLE: Final = "10%"
DAEMONSET_RELEASE_TIMEOUT_S: Final = 1800

# A container securityContext the Pod Security `restricted` level admits (with a non-root pod).
RESTRICTED_CONTAINER: Mapping[str, Any] = MappingProxyType(
    {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
)
