"""Rollouts the atomic releases must see through: a DaemonSet over every node of a large cluster
rolls 10% of them at a time, and its release waits long enough for that."""

from __future__ import annotations

import math

import pytest
import yaml

from components.conventions import DAEMONSET_MAX_UNAVAILABLE, DAEMONSET_RELEASE_TIMEOUT_S
from tests.charts.helm import STACKS, rendered

NODES = 200
# A DaemonSet pod on a slow node: image pull, start, readiness (a generous bound, not a measurement).
POD_READY_S = 120


def rollout_seconds(max_unavailable: str | int, nodes: int = NODES) -> int:
    """How long a healthy rollout over `nodes` nodes takes, a batch of `max_unavailable` at a time."""
    batch = max(1, math.floor(nodes * int(max_unavailable[:-1]) / 100)) if isinstance(max_unavailable, str) else int(max_unavailable)
    return math.ceil(nodes / batch) * POD_READY_S


@pytest.mark.parametrize("stack", STACKS)
def test_a_healthy_daemonset_rollout_over_200_nodes_is_not_rolled_back(stack):
    out = rendered(stack)
    timeouts = {yaml.safe_load(t)["release"]: yaml.safe_load(t)["timeout"] for p, t in out.files.items() if p.startswith("helm/")}
    checked = []
    for release, obj in out.chart_objects():
        if obj["kind"] != "DaemonSet":
            continue
        strategy = obj["spec"].get("updateStrategy") or {}
        assert strategy.get("type", "RollingUpdate") == "RollingUpdate", obj["metadata"]["name"]
        unavailable = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)
        assert unavailable == DAEMONSET_MAX_UNAVAILABLE, f"{release}/{obj['metadata']['name']}: maxUnavailable {unavailable}"
        assert rollout_seconds(unavailable) <= timeouts[release], f"{release}: {rollout_seconds(unavailable)}s > {timeouts[release]}s"
        checked.append(release)
    assert "fluent-bit" in checked


def test_the_chart_default_would_be_rolled_back():
    """Planted defect: one pod at a time (the charts' default) over 200 nodes outlasts the release's wait."""
    assert rollout_seconds(1) > DAEMONSET_RELEASE_TIMEOUT_S
    assert rollout_seconds(DAEMONSET_MAX_UNAVAILABLE) <= DAEMONSET_RELEASE_TIMEOUT_S
