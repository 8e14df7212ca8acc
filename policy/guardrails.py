"""The guardrails `pulumi preview --policy-pack policy` enforces.

Self-contained (the engine runs this folder on its own): each policy is a small pure check over the
resource inputs Pulumi hands it. Values still unknown during a preview (computed ARNs) are skipped
rather than guessed; the tests run every policy on what the program registers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

Report = Callable[..., None]

# Helm values / manifest keys that hold a credential when given a literal value.
SECRET_KEYS = {
    "password",
    "adminpassword",
    "apikey",
    "appkey",
    "api_key",
    "app_key",
    "routing_key",
    "service_key",
    "api_url",
    "webhook_url",
    "token",
    "secretaccesskey",
    "secret_access_key",
}
SECRET_VALUES = re.compile(r"https://hooks\.slack\.com/services/|\bxox[abpr]-[0-9A-Za-z-]+|\bAKIA[0-9A-Z]{16}\b")
# Read-only actions AWS defines with no resource types: `*` is the only resource they accept.
NO_RESOURCE_TYPE_ACTIONS = {
    "cloudwatch:DescribeAlarmsForMetric",
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
    "cloudwatch:PutMetricData",
    "ec2:DescribeInstances",
    "ec2:DescribeRegions",
    "ec2:DescribeTags",
    "ec2:DescribeVolumes",
    "logs:DescribeLogGroups",
    "logs:StopQuery",
    "tag:GetResources",
}
FORBIDDEN_LABELS = ("user_id", "trace_id", "request_id", "session_id", "timestamp", "raw_path", "url")
STATEFUL_TYPES = {"aws:s3/bucket:Bucket", "aws:cloudwatch/logGroup:LogGroup", "aws:amp/workspace:Workspace"}
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every entry of nested dicts and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key), item
            yield from _walk(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            child = f"{path}[{index}]"
            yield child, "", item
            yield from _walk(item, child)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- no plain-text secrets --------------------------------------------------------------------------


def no_plaintext_secrets(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type == HELM_RELEASE:
        where, content = "values", args.props.get("values") or {}
    elif args.resource_type.startswith("kubernetes:") and args.props.get("kind") not in (None, "Secret"):
        where, content = "manifest", {k: v for k, v in args.props.items() if k != "metadata"}
    else:
        return
    for path, key, value in _walk(content):
        if not isinstance(value, str) or not value:
            continue
        if key.lower() in SECRET_KEYS:
            report(f"{where} {path} holds a literal credential; deliver it from a Kubernetes Secret (existingSecret / *_file).")
        elif SECRET_VALUES.search(value):
            report(f"{where} {path} contains a credential (webhook URL, token or access key) in plain text.")


# --- S3 ------------------------------------------------------------------------------------------------


def _depends_on_bucket(resource: Any, bucket: Any) -> bool:
    return any(dep.urn == bucket.urn for dep in (resource.property_dependencies or {}).get("bucket", []))


def s3_encrypted_and_private(args: StackValidationArgs, report: Report) -> None:
    resources = args.resources
    for bucket in (r for r in resources if r.resource_type == "aws:s3/bucket:Bucket"):
        encryption = [
            r
            for r in resources
            if r.resource_type == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
            and _depends_on_bucket(r, bucket)
        ]
        algorithms = {
            ((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"))
            for r in encryption
            for rule in r.props.get("rules") or []
        }
        if not algorithms & {"AES256", "aws:kms", "aws:kms:dsse"}:
            report(f"bucket {bucket.name} has no server-side encryption configuration.", bucket.urn)
        blocks = [
            r
            for r in resources
            if r.resource_type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock" and _depends_on_bucket(r, bucket)
        ]
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        if not any(all(b.props.get(flag) is True for flag in flags) for b in blocks):
            report(f"bucket {bucket.name} does not block all public access.", bucket.urn)


# --- IAM -----------------------------------------------------------------------------------------------


def iam_no_wildcard_data_actions(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type not in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
        return
    text = args.props.get("policy")
    if not isinstance(text, str):
        return  # computed during preview; checked on the next run
    for statement in _as_list(json.loads(text).get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action", []))
        wildcards = [a for a in actions if a == "*" or a.endswith(":*")]
        if wildcards:
            report(f"statement {statement.get('Sid', '?')} grants whole services {wildcards}; name the actions.")
        if "*" in _as_list(statement.get("Resource", [])):
            data = sorted(set(actions) - NO_RESOURCE_TYPE_ACTIONS)
            if data:
                report(f"statement {statement.get('Sid', '?')} grants {data} on every resource; scope them to ARNs.")


def irsa_trust_pinned(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != "aws:iam/role:Role":
        return
    text = args.props.get("assumeRolePolicy")
    if not isinstance(text, str):
        return
    for statement in _as_list(json.loads(text).get("Statement", [])):
        federated = _as_list((statement.get("Principal") or {}).get("Federated", []))
        if not any(":oidc-provider/" in str(f) for f in federated):
            continue
        condition = statement.get("Condition") or {}
        equals = condition.get("StringEquals") or {}
        subs = [v for k, v in equals.items() if k.endswith(":sub")]
        auds = [v for k, v in equals.items() if k.endswith(":aud")]
        pinned = (
            len(subs) == 1
            and isinstance(subs[0], str)
            and re.fullmatch(r"system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+", subs[0]) is not None
        )
        if not pinned or "StringLike" in condition:
            report("IRSA trust must pin `:sub` with StringEquals to exactly one system:serviceaccount:<namespace>:<name>.")
        if auds != ["sts.amazonaws.com"]:
            report("IRSA trust must pin `:aud` to sts.amazonaws.com.")


# --- Prometheus objects --------------------------------------------------------------------------------


def servicemonitor_drops_forbidden_labels(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("kind") != "ServiceMonitor":
        return
    for index, endpoint in enumerate((args.props.get("spec") or {}).get("endpoints") or []):
        keeps = [r for r in endpoint.get("metricRelabelings") or [] if r.get("action") == "labelkeep"]
        if not keeps:
            report(f"endpoints[{index}] keeps every label; add a labelkeep of the allowed labels.")
            continue
        for rule in keeps:
            kept = [label for label in FORBIDDEN_LABELS if re.fullmatch(rule.get("regex", ""), label)]
            if kept:
                report(f"endpoints[{index}] keeps high-cardinality labels {kept}.")


def alerts_have_severity_and_runbook(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("kind") != "PrometheusRule":
        return
    for group in (args.props.get("spec") or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            if "alert" not in rule:
                continue
            if (rule.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                report(f"alert {rule['alert']} in {group.get('name')} has no severity label (critical, warning or info).")
            if not (rule.get("annotations") or {}).get("runbook_url"):
                report(f"alert {rule['alert']} in {group.get('name')} has no runbook_url annotation.")


# --- prod data ------------------------------------------------------------------------------------------


def _stack_of(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    return urn.split("::")[0].split(":")[-1]


def prod_stateful_protected(args: StackValidationArgs, report: Report) -> None:
    protected_stacks = set(args.get_config().get("stacks") or ["prod"])
    for resource in args.resources:
        stateful = resource.resource_type in STATEFUL_TYPES and _stack_of(resource.urn) in protected_stacks
        if stateful and not resource.opts.protect:
            report(f"{resource.resource_type} {resource.name} holds data and must be protected in this stack.", resource.urn)


MANDATORY = EnforcementLevel.MANDATORY
POLICIES = [
    ResourceValidationPolicy(
        name="no-plaintext-secrets",
        description="Helm values and manifests carry no credentials; they come from Kubernetes Secrets.",
        validate=no_plaintext_secrets,
        enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="s3-encrypted-and-private",
        description="Every S3 bucket has server-side encryption and blocks all public access.",
        validate=s3_encrypted_and_private,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="iam-no-wildcard-data-actions",
        description="IAM policies never grant data actions on `*` nor whole services.",
        validate=iam_no_wildcard_data_actions,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="irsa-trust-pinned",
        description="IRSA roles trust exactly one service account and the STS audience.",
        validate=irsa_trust_pinned,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="servicemonitor-drops-forbidden-labels",
        description="ServiceMonitors keep only allowed labels; user_id, trace_id and the like never reach Prometheus.",
        validate=servicemonitor_drops_forbidden_labels,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="alerts-have-severity-and-runbook",
        description="Every PrometheusRule alert has a severity label and a runbook_url annotation.",
        validate=alerts_have_severity_and_runbook,
        enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="prod-stateful-resources-protected",
        description="Buckets and log groups are protected in the stacks listed in config (default: prod).",
        validate=prod_stateful_protected,
        enforcement_level=MANDATORY,
        config_schema=PolicyConfigSchema(properties={"stacks": {"type": "array", "items": {"type": "string"}}}),
    ),
]
