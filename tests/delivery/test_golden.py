"""Argo Rollouts values and dashboard, checked whole against their golden files."""

from __future__ import annotations

import pytest

from components.delivery.argo_rollouts import argo_rollouts_values
from components.delivery.dashboards import argo_rollouts
from tests.golden import assert_golden
from tests.stackfixtures import fixture_config


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_argo_rollouts_values(stack):
    config = fixture_config(*(("prod",) if stack == "prod" else ()))
    assert_golden(f"delivery/argo-rollouts.{stack}.yaml", argo_rollouts_values(config.argo_rollouts, config.prod))


def test_argo_rollouts_dashboard():
    assert_golden("delivery/dashboards/platform-argo-rollouts.json", argo_rollouts())
