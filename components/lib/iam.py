"""IAM policy documents as pure functions, so tests and the linter read exactly what AWS gets.

Every data action is scoped to one named ARN; none of these ever grants a data action on `*`.
"""

from __future__ import annotations

from typing import Any

from ..conventions import IRSA_AUDIENCE

Policy = dict[str, Any]


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str) -> Policy:
    """Only this one service account, with the STS audience, may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "IrsaServiceAccount",
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{oidc_issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{oidc_issuer}:aud": IRSA_AUDIENCE,
                    }
                },
            }
        ],
    }


def loki_bucket_access(bucket_arn: str, ruler_bucket_arn: str, kms_key_arn: str | None = None) -> Policy:
    """Loki reads, writes and deletes (compactor retention, rule group deletion) objects in its own
    chunk and ruler buckets only."""
    buckets = [bucket_arn, ruler_bucket_arn]
    statements: list[dict[str, Any]] = [
        {"Sid": "ListLokiBuckets", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": buckets},
        {
            "Sid": "LokiObjects",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": [f"{arn}/*" for arn in buckets],
        },
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "LokiBucketKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": kms_key_arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def tls_only_bucket_policy(bucket_arn: str) -> Policy:
    """Refuse every request to the bucket that is not made over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def log_group_writer(log_group_arn: str) -> Policy:
    """Fluent Bit creates streams in, and writes to, its one log group; it can never create groups."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DescribeAndCreateStreams",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams"],
                "Resource": f"{log_group_arn}:*",
            },
            {
                "Sid": "PutEvents",
                "Effect": "Allow",
                "Action": "logs:PutLogEvents",
                "Resource": f"{log_group_arn}:log-stream:*",
            },
        ],
    }


def cloudwatch_reader(partition: str, region: str, account: str, log_group_names: list[str]) -> Policy:
    """Grafana's CloudWatch datasource: read metrics and alarms, query only the platform's log groups.

    The metric and EC2 lookups have no resource-level permissions in AWS, so they take `*`; they
    are read-only and reveal no log or object data.
    """
    groups = [f"arn:{partition}:logs:{region}:{account}:log-group:{name}:*" for name in sorted(log_group_names)]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:DescribeAlarmsForMetric", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics"],
            "Resource": "*",
        },
        {
            "Sid": "ReadAlarms",
            "Effect": "Allow",
            "Action": ["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"],
            "Resource": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*",
        },
        {
            "Sid": "DimensionLookups",
            "Effect": "Allow",
            "Action": ["ec2:DescribeInstances", "ec2:DescribeRegions", "ec2:DescribeTags", "tag:GetResources"],
            "Resource": "*",
        },
        {
            "Sid": "ListLogGroupsAndStopQueries",
            "Effect": "Allow",
            "Action": ["logs:DescribeLogGroups", "logs:StopQuery"],
            "Resource": "*",
        },
    ]
    if groups:
        statements.insert(
            3,
            {
                "Sid": "QueryPlatformLogs",
                "Effect": "Allow",
                "Action": [
                    "logs:FilterLogEvents",
                    "logs:GetLogEvents",
                    "logs:GetLogGroupFields",
                    "logs:GetQueryResults",
                    "logs:StartQuery",
                ],
                "Resource": groups if len(groups) > 1 else groups[0],
            },
        )
    return {"Version": "2012-10-17", "Statement": statements}


def container_insights_agent(log_group_arn: str) -> Policy:
    """The CloudWatch agent of Container Insights: metrics to its namespace, logs to its one group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PutContainerInsightsMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "ContainerInsights"}},
            },
            {
                "Sid": "DescribeAndCreateStreams",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams"],
                "Resource": f"{log_group_arn}:*",
            },
            {"Sid": "PutEvents", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": f"{log_group_arn}:log-stream:*"},
            {
                "Sid": "NodeMetadata",
                "Effect": "Allow",
                "Action": ["ec2:DescribeInstances", "ec2:DescribeTags", "ec2:DescribeVolumes"],
                "Resource": "*",
            },
        ],
    }


def amp_remote_writer(workspace_arn: str) -> Policy:
    """Prometheus writes samples to this one workspace, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "RemoteWrite", "Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": workspace_arn}],
    }


AMP_QUERY_ACTIONS = ["aps:GetLabels", "aps:GetMetricMetadata", "aps:GetSeries", "aps:QueryMetrics"]


def amp_query_statement(workspace_arn: str) -> dict[str, Any]:
    return {"Sid": "QueryWorkspace", "Effect": "Allow", "Action": AMP_QUERY_ACTIONS, "Resource": workspace_arn}


def amp_reader(workspace_arn: str) -> Policy:
    """Grafana and the canary analysis read this one workspace."""
    return {"Version": "2012-10-17", "Statement": [amp_query_statement(workspace_arn)]}


def thanos_bucket_access(bucket_arn: str, write: bool, delete: bool) -> Policy:
    """One Thanos role on its bucket: every role lists and reads; the sidecar also writes blocks,
    the compactor also writes and deletes (compaction, downsampling, retention)."""
    actions = ["s3:GetObject"] + (["s3:PutObject"] if write else []) + (["s3:DeleteObject"] if delete else [])
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListThanosBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
            {"Sid": "ThanosObjects", "Effect": "Allow", "Action": sorted(actions), "Resource": f"{bucket_arn}/*"},
        ],
    }
