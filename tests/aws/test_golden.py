"""Every IAM document the program emits, checked whole against its golden file."""

from __future__ import annotations

from components.lib import iam
from tests.golden import assert_golden
from tests.stackfixtures import fixture_config

BUCKET = "arn:aws:s3:::fixture-loki-chunks"
RULER_BUCKET = "arn:aws:s3:::fixture-loki-ruler"
LOG_GROUP = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/eks/fixture/containers"


def test_iam_documents():
    identity = fixture_config().cluster.identity
    assert identity is not None
    kms = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    documents = {
        "irsa-trust": iam.irsa_trust_policy(identity.oidc_provider_arn, identity.oidc_issuer, "logging", "loki"),
        "loki-bucket-access": iam.loki_bucket_access(BUCKET, RULER_BUCKET),
        "loki-bucket-access.kms": iam.loki_bucket_access(BUCKET, RULER_BUCKET, kms),
        "tls-only-bucket": iam.tls_only_bucket_policy(BUCKET),
        "log-group-writer": iam.log_group_writer(LOG_GROUP),
        "cloudwatch-reader": iam.cloudwatch_reader(
            identity.partition, identity.region, identity.account_id, ["/aws/eks/fixture/containers"]
        ),
        "container-insights-agent": iam.container_insights_agent(LOG_GROUP),
    }
    for name, document in documents.items():
        assert_golden(f"aws/iam/{name}.json", document)
