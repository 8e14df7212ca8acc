"""EKS control-plane logs: the preview warning for missing log types, who owns the log group in each case a
real account presents (none yet, this stack's, EKS's own), Grafana's access to it and the audit dashboard."""

from __future__ import annotations

import json
import logging

import pytest

from components.logging.control_plane import AUDIT_QUERIES, missing_types_warning, ownership
from tests.conftest import REDACTED, SECRET_CONFIG_KEYS
from tests.stackfixtures import fixture_values, to_pulumi_config
from tools.mockrun import AwsStandIn, RunResult, run_program

GROUP = "/aws/eks/fixture/cluster"
ARN = f"arn:aws:logs:eu-west-1:111122223333:log-group:{GROUP}"


def _run(stack: str = "prod", world: AwsStandIn | None = None, **overrides) -> RunResult:
    values = fixture_values(*(("prod",) if stack == "prod" else ()), **overrides)
    config, secret_keys = to_pulumi_config(values, {key: REDACTED for key in SECRET_CONFIG_KEYS})
    return run_program(config, secret_keys, stack=stack, aws=world)


def _group_name(result: RunResult) -> str:
    return json.loads(json.dumps(result.named("control-plane-logs-log-group").inputs))["name"]


def test_the_warning_names_the_missing_types_and_the_command():
    assert missing_types_warning("prod-eks", "ap-northeast-2", ["api", "audit", "authenticator", "scheduler"], ["api", "audit"]) is None
    message = missing_types_warning("prod-eks", "ap-northeast-2", ["api"], ["api", "audit", "authenticator"])
    assert message == (
        "EKS control-plane logging of cluster prod-eks does not send audit, authenticator: the audit queries of "
        "*Platform / EKS audit log* find nothing there. Enable them with: aws eks update-cluster-config --region ap-northeast-2 "
        """--name prod-eks --logging '{"clusterLogging":[{"types":["api","audit","authenticator"],"enabled":true}]}'"""
    )
    # Logging off altogether: the API answers no list.
    assert "does not send api, audit, authenticator" in str(missing_types_warning("c", "us-east-1", None, ["api", "audit", "authenticator"]))


@pytest.mark.parametrize(
    ("exists", "tags", "import_group", "expected"),
    [
        (False, {}, False, "create"),
        (True, {"eks-observability:stack": "prod"}, False, "own"),  # made by this stack on an earlier up
        (True, {}, False, "leave"),  # EKS made it: not this stack's to change unasked
        (True, {}, True, "import"),
        (True, {"eks-observability:stack": "dev"}, False, "leave"),  # another stack's
    ],
)
def test_who_owns_the_group(exists, tags, import_group, expected):
    assert ownership(exists, tags, ("eks-observability:stack", "prod"), import_group) == expected


def test_a_new_group_gets_the_retention_and_is_never_deleted(caplog):
    with caplog.at_level(logging.WARNING):
        result = _run()
    group = result.named("control-plane-logs-log-group")
    assert (group.inputs["name"], group.inputs["retentionInDays"]) == (GROUP, 90)
    assert (group.retain_on_delete, group.protect, group.import_id) == (True, True, "")
    assert not [r for r in caplog.records if "control-plane logging" in r.getMessage()]
    # Grafana may query it, and only the platform's groups.
    policy = json.loads(result.named("kube-prometheus-stack-grafana-irsa-policy").inputs["policy"])
    (query,) = [s for s in policy["Statement"] if s["Sid"] == "QueryPlatformLogs"]
    assert f"{ARN}:*" in query["Resource"]


def test_a_cluster_without_the_audit_log_is_named_at_preview(caplog):
    with caplog.at_level(logging.WARNING):
        _run(world=AwsStandIn(cluster_log_types=("api",)))
    (warning,) = [r.getMessage() for r in caplog.records if "control-plane logging" in r.getMessage()]
    assert "does not send audit, authenticator" in warning and "aws eks update-cluster-config" in warning


def test_eks_own_group_is_left_alone_unless_adopted(caplog):
    eks_made = AwsStandIn(log_groups={GROUP: (0, {})})
    with caplog.at_level(logging.WARNING):
        left = _run(world=eks_made)
    assert not [r for r in left.registrations if r.name == "control-plane-logs-log-group"]
    assert any("exists already" in r.getMessage() and "never expire" in r.getMessage() for r in caplog.records)
    adopted = _run(world=eks_made, controlPlaneLogs={"importLogGroup": True, "retentionDays": 90})
    assert adopted.named("control-plane-logs-log-group").import_id == GROUP
    # This stack's own group (its tag) is kept without an import.
    ours = _run(world=AwsStandIn(log_groups={GROUP: (90, {"eks-observability:stack": "prod"})}))
    assert ours.named("control-plane-logs-log-group").import_id == ""


def test_the_audit_dashboard_queries_the_group():
    result = _run()
    board = json.loads(result.named("control-plane-logs-dashboard").inputs["data"]["eks-audit-log.json"])
    assert [p["title"] for p in board["panels"]] == list(AUDIT_QUERIES)
    for panel in board["panels"]:
        (target,) = panel["targets"]
        assert target["queryMode"] == "Logs" and target["datasource"] == {"type": "cloudwatch", "uid": "cloudwatch"}
        assert target["logGroups"] == [{"arn": ARN, "name": GROUP}]
    assert 'filter verb = "delete"' in board["panels"][0]["targets"][0]["expression"]
    assert 'objectRef.resource = "secrets"' in board["panels"][1]["targets"][0]["expression"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"expectedTypes": ["api", "audits"]}, 'controlPlaneLogs.expectedTypes[1]: got "audits"'),
        ({"retentionDays": 45}, "controlPlaneLogs.retentionDays: got 45"),
    ],
)
def test_bad_control_plane_config_is_refused_with_the_key_path(section, message):
    from components.stack import ConfigError, load_stack_config

    values = fixture_values(controlPlaneLogs=section)
    with pytest.raises(ConfigError) as err:
        load_stack_config(*to_pulumi_config(values))
    assert any(message in issue for issue in err.value.issues), err.value.issues
