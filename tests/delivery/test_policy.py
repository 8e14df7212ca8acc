"""The policy pack, run without the CLI on the resources the program really registers."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from tests.conftest import ROOT
from tools.mockrun import Registration, RunResult

sys.path.insert(0, str(ROOT / "policy"))
import guardrails  # noqa: E402

POLICIES = {p.name: p for p in guardrails.POLICIES}


def _plain(value: Any) -> Any:
    """Policies see secret values decrypted, as the engine hands them over."""
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _opts(reg: Registration) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=reg.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=reg.aliases,
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=reg.parent or None,
    )


def _policy_resources(registrations: list[Registration]) -> list[PolicyResource]:
    by_urn: dict[str, PolicyResource] = {}
    for reg in registrations:
        by_urn[reg.urn] = PolicyResource(reg.typ, _plain(reg.inputs), reg.urn, reg.name, _opts(reg), None, None, [], {})
    for reg in registrations:
        resource = by_urn[reg.urn]
        resource.dependencies = [by_urn[u] for u in reg.depends_on if u in by_urn]
        resource.property_dependencies = {k: [by_urn[u] for u in v if u in by_urn] for k, v in reg.property_dependencies.items()}
    return list(by_urn.values())


def violations(name: str, registrations: list[Registration], config: dict | None = None) -> list[str]:
    policy = POLICIES[name]
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    if isinstance(policy, ResourceValidationPolicy):
        for reg in registrations:
            args = ResourceValidationArgs(reg.typ, _plain(reg.inputs), reg.urn, reg.name, _opts(reg), None, config)
            policy.validate(args, report)
    else:
        policy.validate(StackValidationArgs(_policy_resources(registrations), config), report)  # type: ignore[attr-defined]
    return found


def _mutated(result: RunResult, name: str, change: Callable[[Registration], None]) -> list[Registration]:
    registrations = copy.deepcopy(result.registrations)
    change(next(r for r in registrations if r.name == name and r.custom))
    return registrations


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_program_passes_every_policy(policy, stack, request):
    assert violations(policy, request.getfixturevalue(stack).registrations) == []


def _set_helm_value(reg: Registration) -> None:
    values = _plain(reg.inputs["values"])
    values["grafana"]["adminPassword"] = "hunter2-hunter2"
    reg.inputs["values"] = values


def _slack_in_configmap(reg: Registration) -> None:
    reg.inputs["data"] = {"note.txt": "post to https://hooks.slack.com/services/T0/B0/abcdef"}


def _no_encryption(result: RunResult) -> list[Registration]:
    return [copy.deepcopy(r) for r in result.registrations if r.name != "loki-bucket-encryption"]


def _public(reg: Registration) -> None:
    reg.inputs["restrictPublicBuckets"] = False


def _star_resource(reg: Registration) -> None:
    policy = json.loads(reg.inputs["policy"])
    policy["Statement"][1]["Resource"] = "*"
    reg.inputs["policy"] = json.dumps(policy)


def _service_wildcard(reg: Registration) -> None:
    policy = json.loads(reg.inputs["policy"])
    policy["Statement"][1]["Action"] = "s3:*"
    reg.inputs["policy"] = json.dumps(policy)


def _trust_like(reg: Registration) -> None:
    trust = json.loads(reg.inputs["assumeRolePolicy"])
    equals = trust["Statement"][0]["Condition"].pop("StringEquals")
    trust["Statement"][0]["Condition"]["StringLike"] = {k: v.replace(":loki", ":*") for k, v in equals.items()}
    reg.inputs["assumeRolePolicy"] = json.dumps(trust)


def _trust_no_aud(reg: Registration) -> None:
    trust = json.loads(reg.inputs["assumeRolePolicy"])
    equals = trust["Statement"][0]["Condition"]["StringEquals"]
    for key in [k for k in equals if k.endswith(":aud")]:
        del equals[key]
    reg.inputs["assumeRolePolicy"] = json.dumps(trust)


def _keep_user_id(reg: Registration) -> None:
    rules = reg.inputs["spec"]["endpoints"][0]["metricRelabelings"]
    next(r for r in rules if r["action"] == "labelkeep")["regex"] += "|user_id"


def _no_labelkeep(reg: Registration) -> None:
    reg.inputs["spec"]["endpoints"][0]["metricRelabelings"] = []


def _no_runbook(reg: Registration) -> None:
    del reg.inputs["spec"]["groups"][0]["rules"][0]["annotations"]["runbook_url"]


def _no_severity(reg: Registration) -> None:
    alert = next(r for g in reg.inputs["spec"]["groups"] for r in g["rules"] if "alert" in r)
    alert["labels"] = {}


def _unprotect(reg: Registration) -> None:
    reg.protect = False


VIOLATIONS = [
    ("no-plaintext-secrets", "kube-prometheus-stack-release", _set_helm_value, "values grafana.adminPassword holds a literal credential"),
    ("no-plaintext-secrets", "loki-grafana-datasource", _slack_in_configmap, "manifest data.note.txt contains a credential"),
    ("s3-encrypted-and-private", "loki-bucket-public-access", _public, "bucket loki-bucket does not block all public access."),
    (
        "iam-no-wildcard-data-actions",
        "loki-irsa-policy",
        _star_resource,
        "statement LokiObjects grants ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'] on every resource",
    ),
    ("iam-no-wildcard-data-actions", "loki-irsa-policy", _service_wildcard, "statement LokiObjects grants whole services ['s3:*']"),
    ("irsa-trust-pinned", "loki-irsa-role", _trust_like, "IRSA trust must pin `:sub` with StringEquals"),
    ("irsa-trust-pinned", "fluent-bit-irsa-role", _trust_no_aud, "IRSA trust must pin `:aud` to sts.amazonaws.com."),
    (
        "servicemonitor-drops-forbidden-labels",
        "svc-orders-api-servicemonitor",
        _keep_user_id,
        "endpoints[0] keeps high-cardinality labels ['user_id'].",
    ),
    ("servicemonitor-drops-forbidden-labels", "svc-orders-api-servicemonitor", _no_labelkeep, "endpoints[0] keeps every label"),
    (
        "alerts-have-severity-and-runbook",
        "kube-prometheus-stack-platform-rules",
        _no_runbook,
        "alert PlatformHighErrorRate in platform.http has no runbook_url annotation.",
    ),
    ("alerts-have-severity-and-runbook", "svc-orders-api-rules", _no_severity, "has no severity label"),
    (
        "prod-stateful-resources-protected",
        "loki-bucket",
        _unprotect,
        "aws:s3/bucket:Bucket loki-bucket holds data and must be protected in this stack.",
    ),
    (
        "prod-stateful-resources-protected",
        "fluent-bit-log-group",
        _unprotect,
        "aws:cloudwatch/logGroup:LogGroup fluent-bit-log-group holds data",
    ),
]


@pytest.mark.parametrize(("policy", "resource", "change", "message"), VIOLATIONS, ids=[f"{v[0]}:{v[2].__name__}" for v in VIOLATIONS])
def test_policy_catches_violation(prod, policy, resource, change, message):
    found = violations(policy, _mutated(prod, resource, change))
    assert any(message in v for v in found), found


def test_missing_encryption_is_caught(prod):
    assert violations("s3-encrypted-and-private", _no_encryption(prod)) == [
        "bucket loki-bucket has no server-side encryption configuration."
    ]


def test_dev_data_need_not_be_protected_unless_configured(dev):
    assert violations("prod-stateful-resources-protected", dev.registrations) == []
    assert (
        len(violations("prod-stateful-resources-protected", dev.registrations, {"stacks": ["dev"]})) == 4
    )  # the containers' and the control plane's log groups, and both Loki buckets


def test_every_policy_is_mandatory_and_described():
    assert len(POLICIES) == 7
    for policy in POLICIES.values():
        assert policy.enforcement_level is not None and policy.enforcement_level.value == "mandatory"
        assert policy.description


def test_policy_pack_entry_point_lists_the_guardrails():
    text = (ROOT / "policy" / "__main__.py").read_text()
    assert 'PolicyPack(name="eks-observability-guardrails", policies=POLICIES)' in text


def test_policy_pack_agrees_with_the_program_conventions():
    """The pack is self-contained (the engine runs its folder alone), so its copy is pinned here."""
    from components.conventions import FORBIDDEN_LABELS

    assert guardrails.FORBIDDEN_LABELS == FORBIDDEN_LABELS
