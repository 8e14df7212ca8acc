"""One real monitoring stack for the engine tier, built from exactly what the program renders.

How the test maps to production: scrapes and rule evaluations run every second here instead of every
30s; the rules themselves (their windows, `for:` durations, thresholds) are the rendered ones,
unchanged, so a 2m rate window sees more samples than in production, never fewer. Alertmanager runs
the rendered configuration with the fixture's `alerting` timings (group_wait 1s) and its receivers'
secret files written to a temporary directory, pointing at a local webhook sink.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.metrics.alertmanager import SECRETS_DIR
from tests.argo_expr import phase
from tests.conftest import REDACTED, SECRET_CONFIG_KEYS
from tests.engines import golden
from tests.engines.scrape import scrape_config
from tests.engines.servers import HOST, WebhookSink, free_port, get_json, process, require, wait_for, webhook_sink
from tests.engines.traffic import Pod, serving
from tests.stackfixtures import TEAM_PAYMENTS, TEAM_PAYMENTS_SECRETS, fixture_values, to_pulumi_config
from tools import charts
from tools.mockrun import RunResult, run_program
from tools.render import render

INTERVAL = "1s"
HEARTBEAT_TOKEN = "heartbeat-test-token"
# A healthchecks-style ping URL: its path is the credential, so it only ever exists as the `heartbeatUrl` secret.
HEARTBEAT_PATH = "/heartbeat/eb095278-f28d-448d-87fb-7b75c171a6aa"
CANARIES = {
    # name: (pod, p95 verdict, error-ratio verdict)
    "healthy": (Pod("orders-api", "2.0.0"), "Successful", "Successful"),
    "erroring": (Pod("orders-api", "2.0.1", error_ratio=0.1), "Successful", "Failed"),
    "slow": (Pod("orders-api", "2.0.2", latency=0.6), "Failed", "Successful"),
    "idle": (Pod("orders-api", "2.0.3", rps=0), "Inconclusive", "Inconclusive"),
    # A pod change without a version bump: stable's version label, its own pod template, 15% failing.
    "same-version": (Pod("orders-api", "1.4.2", error_ratio=0.15, pod_template="7b9d4c6f5"), "Successful", "Failed"),
}
# The golden path: the same service as four real FastAPI pods using the service-contract package.
GOLDEN = {
    # version: (pod, p95 verdict, error-ratio verdict)
    "1.0.0": (golden.AppVersion("1.0.0"), None, None),  # stable
    "1.1.0": (golden.AppVersion("1.1.0"), "Successful", "Successful"),
    "1.2.0": (golden.AppVersion("1.2.0", error_ratio=1.0), "Successful", "Failed"),
    "1.3.0": (golden.AppVersion("1.3.0", rps=0), "Inconclusive", "Inconclusive"),
}
PODS = {
    "orders-api": [Pod("orders-api", "1.4.2"), *(pod for pod, _, _ in CANARIES.values())],
    # Breaks the contract: a user_id and trace_id per request, and a metric outside the contract.
    "legacy-api": [Pod("legacy-api", "5.2.0", extra_labels=("user_id", "trace_id"), stray_metric=True)],
    # Every request fails: its SLO page must reach PagerDuty and Slack.
    "billing-api": [Pod("billing-api", "2.0.0", error_ratio=1.0)],
}


# A team with its own receivers: its alerts (label `team`) reach them, and only them.
TEAM = TEAM_PAYMENTS
PLATFORM_ROUTING_KEY = "0123456789abcdef0123456789abcdef"
TEAM_ROUTING_KEY = "fedcba9876543210fedcba9876543210"


@dataclass
class Stack:
    result: RunResult
    prometheus: str
    alertmanager: str
    sink: WebhookSink
    # The charts' own PrometheusRules (kube-prometheus-stack's default rules, Loki's), loaded beside the program's.
    chart_rules: list[dict[str, Any]] = field(default_factory=list)

    def query(self, expr: str) -> list[dict[str, Any]]:
        import urllib.parse

        answer = get_json(f"{self.prometheus}/api/v1/query?query={urllib.parse.quote(expr)}")
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def query_api(self, path: str) -> Any:
        return get_json(f"{self.prometheus}{path}")

    def verdicts(self, namespace: str, service: str, template_hash: str) -> dict[str, str]:
        """What Argo Rollouts decides for each metric of the service's AnalysisTemplate, queried on this server now."""
        (template,) = [t for t in self.custom("AnalysisTemplate") if t["metadata"]["name"] == f"{service}-canary"]
        out = {}
        for metric in template["spec"]["metrics"]:
            query = metric["provider"]["prometheus"]["query"]
            for arg, value in (("namespace", namespace), ("service", service), ("canary-hash", template_hash)):
                query = query.replace(f"{{{{args.{arg}}}}}", value)
            result = [float(v["value"][1]) for v in self.query(query)]
            out[metric["name"]] = phase(metric["successCondition"], metric["failureCondition"], result)
        return out

    def custom(self, kind: str) -> list[dict[str, Any]]:
        return [r.inputs for r in self.result.registrations if r.custom and r.inputs.get("kind") == kind]


def _render(sink: WebhookSink) -> RunResult:
    values = fixture_values(
        "prod",
        alerting={
            "groupWait": "1s",
            "groupInterval": "1s",
            "repeatInterval": "1m",
            "pagerduty": {"enabled": True, "url": sink.url("/pagerduty")},
            "heartbeat": {"enabled": True, "url": None, "authorization": "Bearer", "repeatInterval": "2s"},
            "teams": [TEAM],
        },
    )
    values["services"].append(
        {
            "name": golden.SERVICE,
            "namespace": "shop",
            "port": 8000,
            "version": "1.0.0",
            "image": "registry.example.com/shop-api:1.0.0",
            "healthPath": "/healthz",
        }
    )
    config, secret_keys = to_pulumi_config(values, {k: REDACTED for k in [*SECRET_CONFIG_KEYS, *TEAM_PAYMENTS_SECRETS]})
    return run_program(config, secret_keys, stack="prod")


def _alertmanager_files(result: RunResult, root: Path, sink: WebhookSink) -> Path:
    secrets = root / "secrets"
    secrets.mkdir()
    files = {
        "slack-critical-url": sink.url("/slack/critical"),
        "slack-warning-url": sink.url("/slack/warning"),
        "pagerduty-routing-key": PLATFORM_ROUTING_KEY,
        "heartbeat-credentials": HEARTBEAT_TOKEN,
        "heartbeat-url": sink.url(HEARTBEAT_PATH),
        f"team-{TEAM['name']}-slack-critical-url": sink.url(f"/slack/{TEAM['name']}-critical"),
        f"team-{TEAM['name']}-slack-warning-url": sink.url(f"/slack/{TEAM['name']}-warning"),
        f"team-{TEAM['name']}-pagerduty-routing-key": TEAM_ROUTING_KEY,
    }
    for name, content in files.items():
        (secrets / name).write_text(content)
    config = result.release("kube-prometheus-stack")["values"]["alertmanager"]["config"]
    text = yaml.safe_dump(config, sort_keys=False).replace(SECRETS_DIR, str(secrets))
    (root / "alertmanager.yml").write_text(text)
    return root / "alertmanager.yml"


def chart_rules(result: RunResult) -> list[dict[str, Any]]:
    """The PrometheusRules the releases' pinned charts render; none where the charts are not available
    (a user's clone: the chart tier says so), which CI does not allow."""
    if not (charts.CHARTS_DIR / "README.md").is_file():
        if os.environ.get("REQUIRE_SHARED_SCHEMAS") == "1":
            pytest.fail(f"the pinned charts are not at {charts.CHARTS_DIR}")
        return []
    rendered, unrendered = charts.render_all(render(result))
    assert unrendered == [], [r.folder for r in unrendered]
    return [obj for objects in rendered.values() for obj in objects if obj["kind"] == "PrometheusRule"]


def _prometheus_files(result: RunResult, root: Path, alertmanager_port: int, from_charts: list[dict[str, Any]]) -> Path:
    rules = root / "rules"
    rules.mkdir()
    program = [reg.inputs for reg in result.registrations if reg.custom and reg.inputs.get("kind") == "PrometheusRule"]
    for rule in [*program, *from_charts]:
        meta = rule["metadata"]  # one file per object, as prometheus-operator loads them
        # A group's pinned interval is production's 30s, which runs at this tier's INTERVAL like every other.
        groups = [{**g, "interval": INTERVAL} if "interval" in g else g for g in rule["spec"]["groups"]]
        (rules / f"{meta['namespace']}-{meta['name']}.yaml").write_text(yaml.safe_dump({"groups": groups}))
    monitors = {
        r.inputs["metadata"]["name"]: r.inputs for r in result.registrations if r.custom and r.inputs.get("kind") == "ServiceMonitor"
    }
    spec = prometheus_spec(result)
    config = {
        "global": {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL, "scrape_timeout": INTERVAL},
        # What the operator writes for `exemplars.maxSize`.
        **({"storage": {"exemplars": {"max_exemplars": spec["exemplars"]["maxSize"]}}} if "exemplars" in spec else {}),
        "rule_files": [str(rules / "*.yaml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{alertmanager_port}"]}]}]},
        "scrape_configs": [scrape_config(monitors[name], pods, INTERVAL) for name, pods in PODS.items()]
        + [scrape_config(monitors[golden.SERVICE], [pod for pod, _, _ in GOLDEN.values()], INTERVAL)],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root / "prometheus.yml"


def prometheus_spec(result: RunResult) -> dict[str, Any]:
    return dict(result.release("kube-prometheus-stack")["values"]["prometheus"]["prometheusSpec"])


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    prometheus_bin, alertmanager_bin = require("prometheus"), require("alertmanager")
    with tempfile.TemporaryDirectory() as tmp, webhook_sink() as sink:
        root = Path(tmp)
        result = _render(sink)
        am_port, prom_port = free_port(), free_port()
        (root / "am").mkdir()
        (root / "prom").mkdir()
        am_config = _alertmanager_files(result, root / "am", sink)
        am_args = [
            alertmanager_bin,
            f"--config.file={am_config}",
            f"--storage.path={root / 'am' / 'data'}",
            f"--web.listen-address={HOST}:{am_port}",
            "--cluster.listen-address=",
        ]
        with process(am_args, root / "am", f"http://{HOST}:{am_port}/-/ready"):
            from_charts = chart_rules(result)
            prom_config = _prometheus_files(result, root / "prom", am_port, from_charts)
            prom_args = [
                prometheus_bin,
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={root / 'prom' / 'data'}",
                f"--web.listen-address={HOST}:{prom_port}",
                # The operator's flags for `enableFeatures`.
                *(f"--enable-feature={feature}" for feature in prometheus_spec(result).get("enableFeatures", [])),
            ]
            all_pods = [pod for pods in PODS.values() for pod in pods]
            apps = [pod for pod, _, _ in GOLDEN.values()]
            with serving(all_pods), golden.serving(apps), process(prom_args, root / "prom", f"http://{HOST}:{prom_port}/-/ready"):
                running = Stack(result, f"http://{HOST}:{prom_port}", f"http://{HOST}:{am_port}", sink, from_charts)
                up = f"count(up == 1) == {len(all_pods) + len(apps)}"
                wait_for(lambda: running.query(up), 30, "every pod to be scraped")
                yield running
