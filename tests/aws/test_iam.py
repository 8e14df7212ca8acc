"""Every IAM policy the program renders: parliament-clean, least privilege, exact IRSA trust."""

from __future__ import annotations

import json
import sys

import pytest
from parliament import analyze_policy_string

from tests.conftest import ROOT
from tools.mockrun import RunResult

sys.path.insert(0, str(ROOT / "policy"))
from guardrails import NO_RESOURCE_TYPE_ACTIONS  # noqa: E402  (the policy pack owns the list)

# parliament predates IRSA: it recognises SAML providers and four web-identity providers but not an
# EKS OIDC provider, and it lints every document as an identity policy, so a trust policy (which
# by design has no Resource) is "MALFORMED" to it. These two, on trust policies only, are the
# whole allowance; any other finding fails.
TRUST_POLICY_FALSE_POSITIVES = {"UNKNOWN_FEDERATION_SOURCE", "MALFORMED"}


def _policies(result: RunResult) -> list[tuple[str, str, dict]]:
    """(resource name, field, document) for every policy document the program registers."""
    found = []
    for reg in result.registrations:
        for field in ("policy", "assumeRolePolicy"):
            value = reg.inputs.get(field)
            if isinstance(value, str):
                found.append((reg.name, field, json.loads(value)))
    return found


def _findings(document: dict) -> list[tuple[str, str]]:
    policy = analyze_policy_string(json.dumps(document))
    return sorted((f.issue, str(f.detail)) for f in policy.findings)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_parliament_finds_nothing(stack, request):
    result = request.getfixturevalue(stack)
    policies = _policies(result)
    assert len(policies) == {"dev": 8, "prod": 8}[stack]  # 3 trust, 3 role policies, 2 bucket policies (chunks, ruler)
    for name, field, document in policies:
        findings = _findings(document)
        if field == "assumeRolePolicy":
            assert {issue for issue, _ in findings} <= TRUST_POLICY_FALSE_POSITIVES, (name, findings)
            assert [d for i, d in findings if i == "MALFORMED"] in ([], ["Statement contains neither Resource nor NotResource"])
        else:
            assert findings == [], (name, findings)


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        ({"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::b/*"}, "UNKNOWN_ACTION"),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, "RESOURCE_STAR"),
        ({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:s3:::b/*"}, "RESOURCE_MISMATCH"),
    ],
)
def test_parliament_is_not_blind(statement, issue):
    """The linter really runs: each of these is flagged, so the zero-findings test can fail."""
    assert [i for i, _ in _findings({"Version": "2012-10-17", "Statement": [statement]})] == [issue]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_data_actions_never_on_wildcard_resource(stack, request):
    for name, field, document in _policies(request.getfixturevalue(stack)):
        if field != "policy":
            continue
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "*" in resources:
                assert set(actions) <= NO_RESOURCE_TYPE_ACTIONS, (name, statement["Sid"])
            assert all(r != "arn:aws:s3:::*" and not r.endswith(":log-group:*") for r in resources), name


def test_loki_policy_names_only_its_buckets(prod):
    chunks, ruler = "arn:aws:s3:::loki-bucket-mock0001", "arn:aws:s3:::loki-ruler-bucket-mock0001"
    policy = json.loads(prod.named("loki-irsa-policy").inputs["policy"])
    assert policy["Statement"] == [
        {"Sid": "ListLokiBuckets", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": [chunks, ruler]},
        {
            "Sid": "LokiObjects",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": [f"{chunks}/*", f"{ruler}/*"],
        },
    ]


def test_fluent_bit_policy_names_only_its_log_group(prod):
    group = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/eks/fixture/containers"
    policy = json.loads(prod.named("fluent-bit-irsa-policy").inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "DescribeAndCreateStreams",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams"],
            "Resource": f"{group}:*",
        },
        {"Sid": "PutEvents", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": f"{group}:log-stream:*"},
    ]
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "logs:CreateLogGroup" not in actions


@pytest.mark.parametrize(("role", "service_account"), [("loki-irsa-role", "logging:loki"), ("fluent-bit-irsa-role", "logging:fluent-bit")])
def test_irsa_trust_is_pinned_to_one_service_account(prod, role, service_account):
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/00112233445566778899AABBCCDDEEFF"
    trust = json.loads(prod.named(role).inputs["assumeRolePolicy"])
    assert trust == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "IrsaServiceAccount",
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::111122223333:oidc-provider/{issuer}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{service_account}",
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


@pytest.mark.parametrize(("sa", "role"), [("loki-irsa-sa", "loki-irsa-role"), ("fluent-bit-irsa-sa", "fluent-bit-irsa-role")])
def test_service_account_carries_the_role_it_is_trusted_by(prod, sa, role):
    account = prod.named(sa).inputs
    trust = json.loads(prod.named(role).inputs["assumeRolePolicy"])
    sub = next(v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    assert sub == f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": f"arn:aws:iam::111122223333:role/{role}-mock0001"}


def test_optional_components_policies_are_clean(run, make_config):
    """Container Insights and every other optional piece on: still zero findings, still scoped."""
    result = run(
        make_config("prod", containerInsights={"enabled": True}, datadog={"enabled": True}, kubecost={"enabled": True}),
        stack="prod",
    )
    policies = _policies(result)
    assert len(policies) == 10  # + Container Insights trust and role policy
    for name, field, document in policies:
        findings = _findings(document)
        if field == "assumeRolePolicy":
            assert {issue for issue, _ in findings} <= TRUST_POLICY_FALSE_POSITIVES, (name, findings)
        else:
            assert findings == [], (name, findings)
    agent = json.loads(result.named("container-insights-irsa-policy").inputs["policy"])
    group = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/containerinsights/fixture/performance"
    assert [s["Resource"] for s in agent["Statement"]] == ["*", f"{group}:*", f"{group}:log-stream:*", "*"]
    assert agent["Statement"][0]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ContainerInsights"}}
