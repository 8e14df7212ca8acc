"""The rendered Alertmanager configuration on Debian's real Alertmanager: who is notified, with what.

Alerts are posted to Alertmanager's API as Prometheus would send them; notifications land in the
local webhook sink (Slack webhooks, the PagerDuty Events API and the heartbeat all point there).
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from tests.engines.conftest import HEARTBEAT_PATH, HEARTBEAT_TOKEN, Stack
from tests.engines.servers import Request, post_json, wait_for

_ids = itertools.count()


def _now(offset_s: float = 0) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_s)).isoformat()


def _alert(name: str, severity: str, summary: str, ends_in: float = 300, **labels: str) -> dict[str, Any]:
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
    _send(stack, _alert(name, "critical", "Checkout is down"))
    (page, *_) = wait_for(lambda: _pages(stack, name), 20, "the page")
    assert page.body["payload"]["summary"] == f"[FIRING:1] {name} checkout: Checkout is down"
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
    _send(stack, _alert(name, "critical", "Checkout errors: critical"))
    wait_for(lambda: _pages(stack, name), 20, "the critical page")
    _send(stack, _alert(name, "warning", "Checkout errors: warning"), _alert(other, "warning", "Another warning"))
    # The warning of another alert arrives; by then the inhibited one would have been sent too.
    wait_for(lambda: _slack(stack, "warning", other), 20, "the other warning")
    assert _slack(stack, "warning", name) == []


def test_resolved_notifications_arrive(stack: Stack):
    name = f"EngineResolved{next(_ids)}"
    _send(stack, _alert(name, "critical", "Checkout is down"))
    wait_for(lambda: _pages(stack, name), 20, "the page")
    _send(stack, _alert(name, "critical", "Checkout is down", ends_in=-0.5))
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
        _alert(name, "critical", "Node a is down", instance="10.0.0.1:9100"),
        _alert(name, "critical", "Node b is down", instance="10.0.0.2:9100"),
    )
    grouped = wait_for(lambda: [r for r in _pages(stack, name) if "(2 alerts)" in r.body["payload"]["summary"]], 20, "the grouped page")
    summary = grouped[0].body["payload"]["summary"]
    assert summary.startswith(f"[FIRING:2] {name} checkout: Node ") and summary.endswith("(2 alerts)")


def test_the_watchdog_keeps_pinging_the_heartbeat(stack: Stack):
    """The ping URL is read from the mounted secret (`url_file`) and the credentials from theirs."""
    _send(stack, {**_alert("Watchdog", "none", "Alerting pipeline is alive"), "labels": {"alertname": "Watchdog", "severity": "none"}})
    pings = wait_for(lambda: len(stack.sink.at(HEARTBEAT_PATH)) >= 2 and stack.sink.at(HEARTBEAT_PATH), 30, "two heartbeat pings")
    assert pings[0].headers["Authorization"] == f"Bearer {HEARTBEAT_TOKEN}"
    assert pings[0].body["alerts"][0]["labels"]["alertname"] == "Watchdog"
    assert _slack(stack, "warning", "Watchdog") == [] and _pages(stack, "Watchdog") == []
