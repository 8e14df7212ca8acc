"""Ownership: `services[].team` and `alerting.teams`. A team's alerts carry its name and reach its own
receivers (amtool, on the rendered configuration); the platform's and unowned services' stay with the
platform; bad team config is refused with the key path. The real Alertmanager delivers them in
tests/engines/test_alertmanager.py."""

from __future__ import annotations

import copy
from typing import Any

from tests import promtool
from tests.conftest import REDACTED, SECRET_CONFIG_KEYS
from tests.stackfixtures import TEAM_PAYMENTS, TEAM_PAYMENTS_SECRETS

PAYMENTS = TEAM_PAYMENTS
# A team with only its own PagerDuty service: its Slack messages go to the platform's channels.
SEARCH = {"name": "search", "pagerduty": {"routingKeySecret": "searchPagerdutyKey"}}
TEAM_SECRETS = (*TEAM_PAYMENTS_SECRETS, "searchPagerdutyKey")


def _values(make_config: Any, **alerting: Any) -> dict[str, Any]:
    values = make_config(
        "prod",
        alerting={"slack": {"enabled": True}, "pagerduty": {"enabled": True}, "teams": [PAYMENTS, SEARCH], **alerting},
    )
    for service in values["services"]:
        if service["name"] == "orders-api":
            service["team"] = "payments"
    return values


def _secrets() -> dict[str, str]:
    return {**{key: REDACTED for key in SECRET_CONFIG_KEYS}, **{key: REDACTED for key in TEAM_SECRETS}}


def _alertmanager(result: Any) -> dict[str, Any]:
    return result.release("kube-prometheus-stack")["values"]["alertmanager"]["config"]


def test_a_teams_alerts_reach_its_receivers_and_the_platforms_stay(run, make_config):
    config = _alertmanager(run(_values(make_config), _secrets(), stack="prod"))
    assert promtool.check_alertmanager(config).returncode == 0
    page = ["team-payments-pagerduty", "team-payments-slack-critical"]
    assert promtool.route(config, "severity=critical", "alertname=ServiceAvailabilityBudgetBurnFast", "team=payments") == page
    assert promtool.route(config, "severity=warning", "alertname=ServiceErrorBudgetExhausted", "team=payments") == ["team-payments-slack-warning"]
    assert promtool.route(config, "severity=info", "alertname=Anything", "team=payments") == ["null"]
    # Unowned services and the platform's own alerts: the platform's receivers.
    assert promtool.route(config, "severity=critical", "alertname=ServiceDown", "team=platform") == ["pagerduty-critical", "slack-critical"]
    assert promtool.route(config, "severity=critical", "alertname=NodeDown") == ["pagerduty-critical", "slack-critical"]
    # A team without Slack pages its own PagerDuty service and writes to the platform's channels.
    assert promtool.route(config, "severity=critical", "alertname=X", "team=search") == ["team-search-pagerduty", "slack-critical"]
    assert promtool.route(config, "severity=warning", "alertname=X", "team=search") == ["slack-warning"]
    # A broken integration is still reported through the other one, whoever's alert it was.
    failed = "alertname=AlertmanagerFailedToSendAlerts"
    assert promtool.route(config, "severity=warning", failed, "integration=slack", "team=payments") == ["pagerduty-critical"]


def test_a_teams_credentials_are_files_of_the_receivers_secret(run, make_config):
    result = run(_values(make_config), _secrets(), stack="prod")
    receivers = {r["name"]: r for r in _alertmanager(result)["receivers"]}
    directory = "/etc/alertmanager/secrets/alertmanager-receivers"
    assert receivers["team-payments-pagerduty"]["pagerduty_configs"][0]["routing_key_file"] == f"{directory}/team-payments-pagerduty-routing-key"
    slack = receivers["team-payments-slack-critical"]["slack_configs"][0]
    assert (slack["api_url_file"], slack["channel"]) == (f"{directory}/team-payments-slack-critical-url", "#payments-oncall")
    assert REDACTED not in str(_alertmanager(result))


def test_a_teams_services_alerts_and_budgets_carry_its_name(run, make_config):
    result = run(_values(make_config), _secrets(), stack="prod")
    rules = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]["groups"]
        for r in result.registrations
        if r.custom and r.inputs.get("kind") == "PrometheusRule"
    }
    teams = {
        name: {rule["labels"]["team"] for group in groups for rule in group["rules"] if "alert" in rule}
        for name, groups in rules.items()
        if name.endswith("-slo")
    }
    assert teams["orders-api-slo"] == {"payments"}
    others = [team for name, team in teams.items() if name != "orders-api-slo"]
    assert others and all(team == {"platform"} for team in others)
    budget = next(g for g in rules["orders-api-slo"] if g["name"].endswith(".budget"))
    assert {rule["labels"]["team"] for rule in budget["rules"]} == {"payments"}


def test_a_missing_team_secret_names_its_key(run, make_config):
    secrets = {k: v for k, v in _secrets().items() if k != "paymentsPagerdutyKey"}
    result = run(_values(make_config), secrets, stack="prod", check=False)
    assert "eks-observability:paymentsPagerdutyKey: required secret is not set (a team's receiver credential, named in alerting.teams)" in str(
        result.error
    )


def test_bad_team_config_is_refused_with_the_key_path(run, make_config):
    values = _values(make_config, teams=[PAYMENTS, {**SEARCH, "pagerduty": {"routingKeySecret": "pagerdutyRoutingKey"}}])
    values["services"][0]["team"] = "paymnets"
    secrets = {k: v for k, v in _secrets().items() if k != "searchPagerdutyKey"}
    result = run(values, secrets, stack="prod", check=False)
    message = str(result.error)
    name = values["services"][0]["name"]
    assert f"eks-observability:services[0] ({name}).team: got 'paymnets'; must be one of alerting.teams (payments, search)" in message
    assert "eks-observability:alerting.teams[1] (search): secret name 'pagerdutyRoutingKey' is a key the program already reads" in message
    twice = run(_values(make_config, teams=[PAYMENTS, {**PAYMENTS, "slack": None, "pagerduty": None}]), _secrets(), stack="prod", check=False)
    assert "team names must be unique; ['payments'] appear more than once" in str(twice.error)
    reserved = run(_values(make_config, teams=[{"name": "platform"}]), _secrets(), stack="prod", check=False)
    assert "'platform' is the platform's own team" in str(reserved.error)


def test_a_team_secret_set_as_plain_text_is_refused(run, make_config):
    values = _values(make_config)
    values["paymentsPagerdutyKey"] = "0123456789abcdef0123456789abcdef"
    secrets = {k: v for k, v in _secrets().items() if k != "paymentsPagerdutyKey"}
    result = run(values, secrets, stack="prod", check=False)
    assert "eks-observability:paymentsPagerdutyKey: got <value hidden>; this key holds a secret" in str(result.error)


def test_the_platform_catch_alls_carry_the_owning_team_and_fall_back_to_the_platform(prod):
    """PlatformHighErrorRate reads raw series, which have no team: it takes the team from the service's SLO
    info series; an app the program does not list (no SLO info) still fires, to the platform."""
    # promtool compares annotations too: these are left out, on a copy of the session's rendering.
    groups = copy.deepcopy(prod.named("kube-prometheus-stack-platform-rules").inputs["spec"]["groups"])
    http = 'method="GET", path="/orders", version="1.4.2"'
    series = [
        {"series": f'http_requests_total{{namespace="orders", service="orders-api", {http}, status="200"}}', "values": "0+540x20"},
        {"series": f'http_requests_total{{namespace="orders", service="orders-api", {http}, status="500"}}', "values": "0+60x20"},
        {"series": f'http_requests_total{{namespace="misc", service="stray-api", {http}, status="200"}}', "values": "0+540x20"},
        {"series": f'http_requests_total{{namespace="misc", service="stray-api", {http}, status="500"}}', "values": "0+60x20"},
        # Two SLOs, one team: one alert.
        *(
            {"series": f'sloth_slo_info{{namespace="orders", service="orders-api", sloth_slo="{slo}", team="payments"}}', "values": "1x20"}
            for slo in ("availability", "latency")
        ),
    ]
    fired = [
        {"namespace": "misc", "service": "stray-api", "severity": "critical"},
        {"namespace": "orders", "service": "orders-api", "team": "payments", "severity": "critical"},
    ]
    tests = [
        {
            "name": "catch-all with teams",
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {
                    "eval_time": "6m",
                    "alertname": "PlatformHighErrorRate",
                    "exp_alerts": [{"exp_labels": labels} for labels in fired],
                }
            ],
        }
    ]
    for group in groups:
        for rule in group["rules"]:
            rule.get("annotations", {}).clear()
    proc = promtool.test_rules(groups, tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr
