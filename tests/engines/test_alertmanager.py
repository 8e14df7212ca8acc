"""The rendered Alertmanager configuration on Debian's real Alertmanager: who is notified, with what.

Alerts are posted to Alertmanager's API as Prometheus would send them; notifications land in the
local webhook sink (Slack webhooks, the PagerDuty Events API and the heartbeat all point there).
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from tests.engines.conftest import HEARTBEAT_PATH, HEARTBEAT_TOKEN, PLATFORM_ROUTING_KEY, TEAM, TEAM_ROUTING_KEY, Stack
from tests.engines.servers import Request, post_json, wait_for

_ids = itertools.count()


def _now(offset_s: float = 0) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_s)).isoformat()


def _alert(name: str, severity: str, summary: str, ends_in: float = 300, **labels: str) -> dict[str, Any]:
    """An alert of service `checkout` in namespace `engines` unless the labels say otherwise. Each test
    names its own service where it pages: one service's critical alerts are one PagerDuty group."""
    return {
        "labels": {"alertname": name, "severity": severity, "namespace": "engines", "service": "checkout", **labels},
        "annotations": {"summary": summary, "description": f"{summary}.", "runbook_url": "https://runbooks.example.com#x"},
        "startsAt": _now(-1),
        "endsAt": _now(ends_in),
    }


def _send(stack: Stack, *alerts: dict[str, Any]) -> None:
    assert post_json(f"{stack.alertmanager}/api/v2/alerts", list(alerts)) == 200


def _pages(stack: Stack, name: str) -> list[Request]:
    return [r for r in stack.sink.at("/pagerduty") if name in r.body["payload"]["summary"]]


def _slack(stack: Stack, channel: str, name: str) -> list[Request]:
    return [r for r in stack.sink.at(f"/slack/{channel}") if name in r.body["attachments"][0]["title"]]


def test_critical_pages_and_reaches_the_critical_channel_only(stack: Stack):
    name = f"EngineCritical{next(_ids)}"
    _send(stack, _alert(name, "critical", "Checkout is down", service=name.lower()))
    (page, *_) = wait_for(lambda: _pages(stack, name), 20, "the page")
    assert page.body["payload"]["summary"] == f"[FIRING:1] {name} engines/{name.lower()}: Checkout is down"
    assert page.body["payload"]["severity"] == "critical"
    wait_for(lambda: _slack(stack, "critical", name), 20, "the critical Slack message")
    assert _slack(stack, "warning", name) == []


def test_warning_reaches_only_the_warning_channel(stack: Stack):
    name = f"EngineWarning{next(_ids)}"
    _send(stack, _alert(name, "warning", "Checkout is slow"))
    wait_for(lambda: _slack(stack, "warning", name), 20, "the warning Slack message")
    assert _pages(stack, name) == [] and _slack(stack, "critical", name) == []


def test_a_critical_inhibits_the_warning_of_the_same_alert(stack: Stack):
    name, other = f"EngineInhibited{next(_ids)}", f"EngineNotInhibited{next(_ids)}"
    _send(stack, _alert(name, "critical", "Checkout errors: critical", service=name.lower()))
    wait_for(lambda: _pages(stack, name), 20, "the critical page")
    _send(
        stack, _alert(name, "warning", "Checkout errors: warning", service=name.lower()), _alert(other, "warning", "Another warning")
    )
    # The warning of another alert arrives; by then the inhibited one would have been sent too.
    wait_for(lambda: _slack(stack, "warning", other), 20, "the other warning")
    assert _slack(stack, "warning", name) == []


def test_resolved_notifications_arrive(stack: Stack):
    name = f"EngineResolved{next(_ids)}"
    _send(stack, _alert(name, "critical", "Checkout is down", service=name.lower()))
    wait_for(lambda: _pages(stack, name), 20, "the page")
    _send(stack, _alert(name, "critical", "Checkout is down", ends_in=-0.5, service=name.lower()))
    resolved = wait_for(lambda: [r for r in _pages(stack, name) if r.body["event_action"] == "resolve"], 20, "the resolve event")
    assert resolved[0].body["payload"]["summary"].startswith(f"[RESOLVED] {name}")
    wait_for(
        lambda: [r for r in _slack(stack, "critical", name) if r.body["attachments"][0]["title"].startswith("[RESOLVED]")],
        20,
        "Slack resolved",
    )


def test_a_two_alert_group_renders_a_non_empty_pagerduty_summary(stack: Stack):
    """`{{ .CommonAnnotations.summary }}` is empty for two different summaries; PagerDuty rejects an empty one."""
    name = f"EngineNodeDown{next(_ids)}"
    _send(
        stack,
        _alert(name, "critical", "Node a is down", instance="10.0.0.1:9100", service=name.lower()),
        _alert(name, "critical", "Node b is down", instance="10.0.0.2:9100", service=name.lower()),
    )
    grouped = wait_for(lambda: [r for r in _pages(stack, name) if "(2 alerts)" in r.body["payload"]["summary"]], 20, "the grouped page")
    summary = grouped[0].body["payload"]["summary"]
    assert summary.startswith(f"[FIRING:2] {name} engines/{name.lower()}: Node ") and summary.endswith("(2 alerts)")


def test_the_watchdog_keeps_pinging_the_heartbeat(stack: Stack):
    """The ping URL is read from the mounted secret (`url_file`) and the credentials from theirs."""
    _send(stack, {**_alert("Watchdog", "none", "Alerting pipeline is alive"), "labels": {"alertname": "Watchdog", "severity": "none"}})
    pings = wait_for(lambda: len(stack.sink.at(HEARTBEAT_PATH)) >= 5 and stack.sink.at(HEARTBEAT_PATH), 30, "five heartbeat pings")
    # Every repeatInterval (2s here), not every one or two: a dead man's switch set to expect a ping a
    # minute would otherwise see two-minute gaps.
    gaps = [b.received_at - a.received_at for a, b in zip(pings, pings[1:], strict=False)]
    assert max(gaps) < 2 * 1.25, gaps
    assert pings[0].headers["Authorization"] == f"Bearer {HEARTBEAT_TOKEN}"
    assert pings[0].body["alerts"][0]["labels"]["alertname"] == "Watchdog"
    assert _slack(stack, "warning", "Watchdog") == [] and _pages(stack, "Watchdog") == []


def test_a_page_silences_its_own_ticket(stack: Stack):
    """The fast and the slow burn of one SLO are one problem: while it pages, its ticket waits."""
    service = f"budget{next(_ids)}"
    page = _alert("ServiceAvailabilityBudgetBurnFast", "critical", "burning fast", service=service, slo="availability")
    _send(stack, page)
    wait_for(lambda: [r for r in stack.sink.at("/pagerduty") if service in r.body["payload"]["summary"]], 20, "the page")
    ticket = _alert("ServiceAvailabilityBudgetBurnSlow", "warning", "burning slowly", service=service, slo="availability")
    other = _alert("ServiceLatencyBudgetBurnSlow", "warning", "slow requests", service=service, slo="latency")
    _send(stack, ticket, other)
    # The other SLO's ticket is not held back; by the time it arrives the held one would have too.
    wait_for(lambda: _slack(stack, "warning", f"ServiceLatencyBudgetBurnSlow engines/{service}"), 20, "the other SLO's ticket")
    assert _slack(stack, "warning", f"ServiceAvailabilityBudgetBurnSlow engines/{service}") == []


def test_one_service_is_one_incident_and_namespaces_tell_services_apart(stack: Stack):
    """ServiceDown joining a firing SLO page updates that PagerDuty incident (same dedup key) instead of
    opening a second; the same service name in another namespace is another incident, titled apart."""
    service = f"twin{next(_ids)}"
    _send(stack, _alert("ServiceAvailabilityBudgetBurnFast", "critical", "burning", service=service, namespace="team-a", slo="availability"))
    first = wait_for(lambda: _pages(stack, f"team-a/{service}"), 20, "the page")
    _send(
        stack,
        _alert("ServiceDown", "critical", "no pod", service=service, namespace="team-a"),
        _alert("ServiceAvailabilityBudgetBurnFast", "critical", "burning", service=service, namespace="team-b", slo="availability"),
    )
    joined = wait_for(
        lambda: [r for r in _pages(stack, f"team-a/{service}") if r.body["payload"]["summary"].startswith("[FIRING:2]")], 20, "the update"
    )
    other = wait_for(lambda: _pages(stack, f"team-b/{service}"), 20, "the other namespace's page")
    assert {r.body["dedup_key"] for r in _pages(stack, f"team-a/{service}")} == {first[0].body["dedup_key"]}
    assert joined[0].body["event_action"] == "trigger"
    assert other[0].body["dedup_key"] != first[0].body["dedup_key"]
    assert "team-b/" + service in other[0].body["payload"]["summary"]


def test_a_teams_page_reaches_only_its_pagerduty_and_channel(stack: Stack):
    """`alerting.teams`: a page for the team's service goes to the team's PagerDuty service (its routing
    key) and critical channel; the platform's alert, sent alongside, to the platform's."""
    team, platform = f"EngineTeamPage{next(_ids)}", f"EnginePlatformPage{next(_ids)}"
    _send(
        stack,
        _alert(team, "critical", "Payments API is failing", service=team.lower(), team=TEAM["name"]),
        _alert(platform, "critical", "A node is down", service=platform.lower()),
    )
    (page, *_) = wait_for(lambda: _pages(stack, team), 20, "the team's page")
    assert page.body["routing_key"] == TEAM_ROUTING_KEY
    (other, *_) = wait_for(lambda: _pages(stack, platform), 20, "the platform's page")
    assert other.body["routing_key"] == PLATFORM_ROUTING_KEY
    wait_for(lambda: _slack(stack, f"{TEAM['name']}-critical", team), 20, "the team's critical message")
    wait_for(lambda: _slack(stack, "critical", platform), 20, "the platform's critical message")
    assert _slack(stack, "critical", team) == [] and _slack(stack, f"{TEAM['name']}-critical", platform) == []
    assert [p for p in _pages(stack, team) if p.body["routing_key"] != TEAM_ROUTING_KEY] == []


def test_a_teams_warning_reaches_only_its_warning_channel(stack: Stack):
    name = f"EngineTeamWarning{next(_ids)}"
    _send(stack, _alert(name, "warning", "Payments budget is spent", team=TEAM["name"]))
    wait_for(lambda: _slack(stack, f"{TEAM['name']}-warning", name), 20, "the team's warning message")
    assert _slack(stack, "warning", name) == [] and _pages(stack, name) == []
