"""The Loki bucket as its own HardenedBucket component: hardened, and moved without replacement."""

from __future__ import annotations

from tools.mockrun import RunResult

CHILDREN = {
    "aws:s3/bucket:Bucket": "loki-bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "loki-bucket-encryption",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "loki-bucket-public-access",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "loki-bucket-ownership",
    "aws:s3/bucketPolicy:BucketPolicy": "loki-bucket-tls-only",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "loki-bucket-lifecycle",
}


def _old_urn(result: RunResult, typ: str, name: str) -> str:
    """The URN each child had when the Loki component was its parent."""
    loki = result.named("loki", component=True).urn
    stack, project = loki.split("::")[0:2]
    return f"{stack}::{project}::eks-observability:logging:Loki${typ}::{name}"


def test_every_bucket_child_keeps_its_old_urn_through_an_alias(prod):
    bucket = prod.named("loki-bucket", component=True)
    assert bucket.typ == "eks-observability:aws:HardenedBucket"
    loki = prod.named("loki", component=True)
    assert bucket.parent == loki.urn
    for typ, name in CHILDREN.items():
        (child,) = [r for r in prod.registrations if r.typ == typ and r.name == name]
        assert child.parent == bucket.urn
        assert f"parentUrn={loki.urn}" in child.aliases, (name, child.aliases)
        # The engine resolves that alias to the old URN: same name and type, the Loki component's type chain.
        assert _old_urn(prod, typ, name).endswith(f"Loki${typ}::{name}")


def test_only_the_bucket_itself_is_protected(prod, dev):
    for result, protected in ((prod, True), (dev, False)):
        for typ, name in CHILDREN.items():
            (child,) = [r for r in result.registrations if r.typ == typ and r.name == name]
            expected = protected and name == "loki-bucket"
            assert (child.protect, child.retain_on_delete) == (expected, expected), name


def test_hardening(prod):
    block = prod.named("loki-bucket-public-access").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert prod.named("loki-bucket-ownership").inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert prod.named("loki-bucket").inputs["forceDestroy"] is False
    policy = prod.named("loki-bucket-tls-only")
    assert prod.named("loki-bucket-public-access").urn in policy.depends_on
