"""An S3 bucket hardened the one way this platform keeps data: encrypted, private, TLS-only."""

from __future__ import annotations

import json
from typing import Any, Optional, cast

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import PROJECT
from ..lib import iam
from ..lib.options import child_opts
from ..lib.types import KmsKeyArn

# Applies to the whole bucket but deletes nothing a client wrote: it only clears failed uploads.
ABORT_INCOMPLETE_UPLOADS: dict[str, Any] = {
    "id": "abort-incomplete-uploads",
    "status": "Enabled",
    "filter": {"prefix": ""},
    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
}


class HardenedBucketArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket_name: Optional[str] = Field(None, description="Explicit bucket name; None lets Pulumi auto-name it.")
    kms_key_arn: Optional[KmsKeyArn] = Field(None, description="SSE-KMS key; None uses SSE-S3 (AES256).")
    lifecycle_rules: list[dict[str, Any]] = Field(description="Lifecycle rules (the owner decides what may expire).")
    protect: bool = Field(description="Protect the bucket and retain it on delete.")


class HardenedBucket(pulumi.ComponentResource):
    """Creates the bucket (never force-destroyed), its default encryption, a full public access
    block, owner-enforced object ownership, a policy refusing non-TLS requests, and its lifecycle.

    `moved_from` is the component these children were created under before the bucket became a
    component of its own: each child carries an alias to that parent, so none is replaced.
    """

    bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: HardenedBucketArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
        moved_from: Optional[pulumi.Resource] = None,
    ):
        super().__init__(f"{PROJECT}:aws:HardenedBucket", name, None, opts)
        aliases = [pulumi.Alias(parent=moved_from)] if moved_from is not None else None
        child = child_opts(self, opts, aliases=aliases)
        self.bucket = aws.s3.Bucket(
            name,
            bucket=args.bucket_name,
            force_destroy=False,
            # Tags come from the provider's default_tags; the empty map keeps the bucket's inputs unchanged.
            tags={},
            opts=child_opts(self, opts, aliases=aliases, protect=args.protect, retain_on_delete=args.protect),
        )
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms" if args.kms_key_arn else "AES256",
                        kms_master_key_id=args.kms_key_arn,
                    ),
                    bucket_key_enabled=bool(args.kms_key_arn),
                )
            ],
            opts=child,
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        self.ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        self.policy = aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(lambda arn: json.dumps(iam.tls_only_bucket_policy(arn), sort_keys=True)),
            # S3 rejects a bucket policy while the public access block is still being applied.
            opts=child_opts(self, opts, aliases=aliases, depends_on=[self.public_access_block]),
        )
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id, rules=cast(Any, args.lifecycle_rules), opts=child
        )
        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn})
