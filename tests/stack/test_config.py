"""Stack config validation: good stacks load, each bad one is rejected before any resource exists."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from components.conventions import PROJECT, REDACTED, SECRET_CONFIG_KEYS
from components.stack import ConfigError, load_stack_config
from tests.stackfixtures import fixture_values, to_pulumi_config

WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/abcdefghijklmnop"
PASSWORD = "correct-horse-battery-staple"


def _service(values: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(values)
    values["services"][index].update(changes)
    return values


def _set(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    values = copy.deepcopy(values)
    *parents, last = path.split(".")
    node = values
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return values


def _drop(values: dict[str, Any], path: str) -> dict[str, Any]:
    values = copy.deepcopy(values)
    *parents, last = path.split(".")
    node = values
    for part in parents:
        node = node[part]
    del node[last]
    return values


# (id, how to break the dev stack, secrets given as plain text, the exact message expected)
BAD_CONFIGS: list[tuple[str, Callable[[dict], dict], dict[str, str], str]] = [
    (
        "duration",
        lambda v: _set(v, "prometheusStack.prometheus.retention", "15 days"),
        {},
        f'{PROJECT}:prometheusStack.prometheus.retention: got "15 days"; must be a Prometheus duration such as 30s, 5m, 1h30m or 15d',
    ),
    (
        "quantity",
        lambda v: _set(v, "prometheusStack.prometheus.storageSize", "50GB"),
        {},
        f'{PROJECT}:prometheusStack.prometheus.storageSize: got "50GB"; must be a Kubernetes quantity such as 500m, 2, 512Mi or 100Gi',
    ),
    (
        "threshold-above-range",
        lambda v: _service(v, 1, analysis={"errorRatio": 1.5}),
        {},
        f"{PROJECT}:services[1] (legacy-api).analysis.errorRatio: got 1.5; Input should be less than 1.",
    ),
    (
        "threshold-negative",
        lambda v: _service(v, 0, analysis={"latencyP95Seconds": -0.1}),
        {},
        f"{PROJECT}:services[0] (orders-api).analysis.latencyP95Seconds: got -0.1; Input should be greater than 0.",
    ),
    (
        "canary-weights-not-increasing",
        lambda v: _service(v, 2, canary={"steps": [{"setWeight": 50}, {"pause": "60s"}, {"setWeight": 10}]}),
        {},
        f"{PROJECT}:services[2] (billing-api).canary: got",
    ),
    (
        "canary-weight-over-100",
        lambda v: _service(v, 1, canary={"steps": [{"setWeight": 20}, {"setWeight": 150}]}),
        {},
        "setWeight 150 must be between 1 and 100",
    ),
    (
        "service-name-not-dns1123",
        lambda v: _service(v, 0, name="My_API"),
        {},
        f'{PROJECT}:services[0] (My_API).name: got "My_API"; must be a DNS-1123 label',
    ),
    (
        "duplicate-service-name",
        lambda v: _service(v, 2, name="legacy-api"),
        {},
        f'{PROJECT}:services[2] (legacy-api).name: got "legacy-api"; duplicate of services[1].name, service names must be unique.',
    ),
    (
        "port-out-of-range",
        lambda v: _service(v, 1, port=70000),
        {},
        f"{PROJECT}:services[1] (legacy-api).port: got 70000; Input should be less than or equal to 65535.",
    ),
    (
        "missing-irsa",
        lambda v: _drop(v, "cluster.oidcProviderArn"),
        {},
        f"{PROJECT}:cluster.oidcProviderArn: missing, but loki.enabled needs an IRSA role",
    ),
    (
        "plain-text-secret-key",
        lambda v: v,
        {"grafanaAdminPassword": PASSWORD},
        f"{PROJECT}:grafanaAdminPassword: got <value hidden>; this key holds a secret and must be set with "
        "`pulumi config set --secret grafanaAdminPassword <value>`, never as plain text.",
    ),
    (
        "webhook-in-structured-config",
        lambda v: _set(v, "alerting.slack.webhookUrl", WEBHOOK),
        {},
        f"{PROJECT}:alerting.slack.webhookUrl: got <value hidden>; this looks like a credential.",
    ),
    (
        "unknown-nested-key-suggests",
        lambda v: _set(v, "loki.retension", "360h"),
        {},
        f"{PROJECT}:loki.retension: unknown key. Did you mean 'retention'?",
    ),
    (
        "unknown-top-level-key-suggests",
        lambda v: {**v, "lokii": {"enabled": True}},
        {},
        f"{PROJECT}:lokii: unknown key. Did you mean '{PROJECT}:loki'?",
    ),
    (
        "cloudwatch-retention-not-allowed",
        lambda v: _set(v, "fluentBit.retentionDays", 45),
        {},
        f"{PROJECT}:fluentBit.retentionDays: got 45; must be one of the retention periods CloudWatch Logs accepts",
    ),
    (
        "prod-without-protection",
        lambda v: {**v, "environment": "prod", "protectData": False},
        {},
        f"{PROJECT}:protectData: got false; prod stacks must protect and retain their data (set true).",
    ),
    (
        "chart-version-range",
        lambda v: _set(v, "loki.chartVersion", "^18.0"),
        {},
        f'{PROJECT}:loki.chartVersion: got "^18.0"; must be an exact chart version',
    ),
    (
        "oidc-region-mismatch",
        lambda v: _set(v, "cluster.region", "us-east-1"),
        {},
        f"{PROJECT}:cluster: got",
    ),
    (
        "forbidden-metric-label",
        lambda v: _service(v, 0, metrics={"allowedLabels": ["method", "path", "status", "service", "version", "user_id"]}),
        {},
        "['user_id'] are high-cardinality labels and are never allowed",
    ),
    (
        "unpinned-image",
        lambda v: _service(v, 1, image="registry.example.com/legacy-api:latest"),
        {},
        f"{PROJECT}:services[1] (legacy-api).image: got",
    ),
    (
        "retention-size-exceeds-volume",
        lambda v: _set(v, "prometheusStack.prometheus.retentionSize", "20GB"),
        {},
        f'{PROJECT}:prometheusStack.prometheus.retentionSize: got "20GB"; that is 200% of storageSize 10Gi',
    ),
    (
        # 9GB looks like 84% of 10Gi in decimal units; Prometheus reads 9GiB: 90%, no room for WAL and compaction.
        "retention-size-leaves-no-headroom",
        lambda v: _set(v, "prometheusStack.prometheus.retentionSize", "9GB"),
        {},
        f'{PROJECT}:prometheusStack.prometheus.retentionSize: got "9GB"; that is 90% of storageSize 10Gi (Prometheus '
        "counts GB as GiB). Keep at most 85%, 8GB here",
    ),
    (
        "missing-required-key",
        lambda v: _drop(v, "cluster.name"),
        {},
        f"{PROJECT}:cluster.name: required key is missing.",
    ),
    (
        "toleration-exists-with-value",
        lambda v: _set(v, "dcgmExporter.tolerations", [{"key": "nvidia.com/gpu", "operator": "Exists", "value": "true"}]),
        {},
        "a toleration with operator Exists must not set value; use operator Equal",
    ),
]


BAD_CONFIGS += [
    (
        "latency-objective-not-a-bucket",
        lambda v: _service(v, 0, slo={"latencySeconds": 0.4}),
        {},
        f"{PROJECT}:services[0] (orders-api).slo.latencySeconds: got 0.4; the latency SLO reads the duration histogram's bucket at that "
        "bound and no series has it, so its alerts could never fire. Use one of the buckets: 0.005, 0.01, 0.025, 0.05, 0.1, "
        "0.25, 0.3, 0.5, 0.75, 1, 2.5, 5, 10 (or declare the service's own in metrics.buckets).",
    ),
    (
        "team-alert-named-like-a-platform-alert",
        lambda v: _service(
            v, 0, alerts=[{"name": "ServiceDown", "expr": "up == 0", "summary": "down", "runbook": "https://wiki.example.com/x"}]
        ),
        {},
        f'{PROJECT}:services[0] (orders-api).alerts[0] (ServiceDown).name: got "ServiceDown"; the platform already has an alert of that name',
    ),
]


def test_a_service_with_its_own_buckets_may_use_them():
    values = _service(
        fixture_values(), 0, slo={"latencySeconds": 0.4}, analysis={"latencyP95Seconds": 0.2}, metrics={"buckets": [0.1, 0.2, 0.4, 0.8, 1.6]}
    )
    config = load_stack_config(to_pulumi_config(values)[0], set())
    assert config.services[0].metrics.sample_limit == 50 * 4 * 8 * (1 + 5 + 1 + 2)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda v: _drop(v, "alerting.runbookBaseUrl"),
            f'{PROJECT}:alerting.runbookBaseUrl: got the placeholder "https://github.com/eks-observability/eks-observability/blob/main/'
            'docs/runbooks.md"; every prod alert links to it.',
        ),
        (
            lambda v: _set(v, "alerting.heartbeat", {"enabled": False}),
            f"{PROJECT}:alerting.heartbeat.enabled: got false; a prod stack must page when alerting itself dies.",
        ),
    ],
    ids=["placeholder-runbooks", "no-heartbeat"],
)
def test_prod_refuses_alerting_that_cannot_reach_anyone(change, expected):
    with pytest.raises(ConfigError) as err:
        load_stack_config(*to_pulumi_config(change(fixture_values("prod")), {key: REDACTED for key in SECRET_CONFIG_KEYS}))
    assert [i for i in err.value.issues if i.startswith(expected)], err.value.issues


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda v: _set(v, "prometheusStack.prometheus.replicas", 1),
            f"{PROJECT}:prometheusStack.prometheus.replicas: got 1; a prod stack must survive a node loss: one Prometheus down "
            "stops every alert and canary analysis. Set 2",
        ),
        (
            lambda v: _set(v, "prometheusStack.alertmanager.replicas", 1),
            f"{PROJECT}:prometheusStack.alertmanager.replicas: got 1; a prod stack must survive a node loss: one Alertmanager "
            "down sends no page. Set 3",
        ),
        (
            lambda v: _set(_set(v, "loki.deploymentMode", "Monolithic"), "loki.replicas", 1),
            f"{PROJECT}:loki: got deploymentMode Monolithic with 1 replica; a prod stack must survive a node loss: one Loki down "
            "stops log ingestion. Set deploymentMode Distributed and replicas 3",
        ),
        (
            lambda v: _set(_set(v, "loki.deploymentMode", "Distributed"), "loki.replicas", 1),
            f"{PROJECT}:loki: got deploymentMode Distributed with 1 replica; a prod stack must survive a node loss",
        ),
    ],
    ids=["one-prometheus", "one-alertmanager", "monolithic-loki", "one-replica-loki"],
)
def test_prod_refuses_what_a_node_loss_would_stop(change, expected):
    """As prod refuses a canary it cannot judge: one Prometheus, one Alertmanager or one Loki is a
    single node's loss away from no alerts, no pages or no logs."""
    with pytest.raises(ConfigError) as err:
        load_stack_config(*to_pulumi_config(change(fixture_values("prod")), {key: REDACTED for key in SECRET_CONFIG_KEYS}))
    assert [i for i in err.value.issues if i.startswith(expected)], err.value.issues
    # The same in dev is fine: dev runs one of each.
    load_stack_config(*to_pulumi_config(change(fixture_values()), {key: REDACTED for key in SECRET_CONFIG_KEYS}))


@pytest.mark.parametrize(("breaker", "plain_secrets", "expected"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_rejected_before_any_resource(run, breaker, plain_secrets, expected):
    values = breaker(fixture_values())
    config, _ = to_pulumi_config(values)
    # Plain-text secrets: present in config but not marked secret.
    config.update({f"{PROJECT}:{k}": v for k, v in plain_secrets.items()})
    from tools.mockrun import run_program

    result = run_program(config, set(), stack="dev", check=False)
    assert isinstance(result.error, ConfigError), result.error
    assert any(expected in issue for issue in result.error.issues), "\n".join(result.error.issues)
    assert result.registrations == [], [r.name for r in result.registrations]
    for secret in (WEBHOOK, PASSWORD):
        assert secret not in str(result.error)


def test_all_problems_are_reported_together():
    values = _service(_set(fixture_values(), "loki.retension", "1h"), 1, port=0)
    with pytest.raises(ConfigError) as err:
        load_stack_config(to_pulumi_config(values)[0], set())
    assert len(err.value.issues) == 2
    assert err.value.issues[0].startswith(f"{PROJECT}:loki.retension: unknown key.")
    assert err.value.issues[1].startswith(f"{PROJECT}:services[1] (legacy-api).port: got 0;")


def test_canary_error_names_the_offending_step():
    values = _service(fixture_values(), 2, canary={"steps": [{"setWeight": 50}, {"pause": "60s"}, {"setWeight": 10}]})
    with pytest.raises(ConfigError) as err:
        load_stack_config(to_pulumi_config(values)[0], set())
    assert err.value.issues == [
        f"{PROJECT}:services[2] (billing-api).canary: got "
        '{"steps": [{"setWeight": 50}, {"pause": "60s"}, {"setWeight": 10}]}; '
        "steps[2].setWeight 10 must be greater than the previous weight 50."
    ]


def test_missing_required_secret_is_a_deploy_time_error(run, make_config):
    values = make_config("dev", alerting={"slack": {"enabled": True}})
    result = run(values, secrets={"grafanaAdminPassword": "x" * 20}, check=False)
    assert isinstance(result.error, ConfigError)
    assert result.error.issues == [
        f"{PROJECT}:slackWebhookUrlCritical: required secret is not set (Slack incoming-webhook URL for the critical "
        "channel; required when alerting.slack.enabled.) Set it with `pulumi config set --secret slackWebhookUrlCritical <value>`.",
        f"{PROJECT}:slackWebhookUrlWarning: required secret is not set (Slack incoming-webhook URL for the warning "
        "channel; required when alerting.slack.enabled.) Set it with `pulumi config set --secret slackWebhookUrlWarning <value>`.",
    ]
    assert result.registrations == []


def test_secret_given_as_secret_is_accepted(run, make_config):
    result = run(make_config("dev"), secrets={"grafanaAdminPassword": PASSWORD})
    assert result.error is None
    assert result.registrations


def test_reads_config_the_way_the_cli_passes_it(monkeypatch):
    """The CLI's language host hands config over in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS."""
    from pulumi.runtime.config import set_all_config

    from components.stack import read_stack_config

    config, _ = to_pulumi_config(fixture_values("prod"))
    config[f"{PROJECT}:grafanaAdminPassword"] = PASSWORD
    set_all_config({}, [])
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps([f"{PROJECT}:grafanaAdminPassword"]))
    assert read_stack_config().cluster.name == "fixture"
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")
    with pytest.raises(ConfigError) as err:
        read_stack_config()
    assert err.value.issues[0].startswith(f"{PROJECT}:grafanaAdminPassword: got <value hidden>; this key holds a secret")
    assert PASSWORD not in str(err.value)


def test_a_placeholder_preview_holds_no_real_secret_and_up_refuses_it(monkeypatch):
    """The pull-request preview's environment holds no stack secret (any branch can run a workflow):
    the program stands a placeholder in for each, its Secrets ignore their data so the preview shows
    no false update of them, and a `pulumi up` with the variable set is refused before anything exists."""
    from components.stack.secrets import PLACEHOLDER, PLACEHOLDERS_ENV
    from tools.mockrun import run_program

    monkeypatch.setenv(PLACEHOLDERS_ENV, "1")
    config, _ = to_pulumi_config(fixture_values("prod"))  # not one secret set
    preview = run_program(config, set(), stack="prod", preview=True)
    secrets = {r.name: r for r in preview.of_type("kubernetes:core/v1:Secret") if "stringData" in r.inputs}
    assert set(secrets) == {"kube-prometheus-stack-alertmanager-receivers", "kube-prometheus-stack-grafana-admin"}
    for name, secret in secrets.items():
        assert secret.ignore_changes == ["data", "stringData"], name
        assert PLACEHOLDER in json.dumps(secret.inputs["stringData"], default=str), name
    up = run_program(config, set(), stack="prod", check=False)
    assert isinstance(up.error, ConfigError) and up.registrations == []
    assert up.error.issues[0].startswith(f"{PLACEHOLDERS_ENV}=1: placeholder secrets are for `pulumi preview` only")
    # Without the variable, nothing changes: a missing secret is still an error naming the command.
    monkeypatch.delenv(PLACEHOLDERS_ENV)
    missing = run_program(config, set(), stack="prod", check=False, preview=True)
    assert isinstance(missing.error, ConfigError) and "required secret is not set" in missing.error.issues[0]
