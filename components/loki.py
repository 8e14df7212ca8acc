"""Loki on S3: a locked-down bucket, an IRSA role scoped to it, and the Loki Helm release."""

from __future__ import annotations

import json
import math
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import yaml
from pydantic import BaseModel, ConfigDict, Field

from . import iam
from .config import LokiConfig, duration_seconds
from .conventions import SELECTOR_LABELS, TYPE_PREFIX
from .helm import helm_release
from .irsa import IrsaRole, IrsaRoleArgs
from .options import child_opts
from .sidecar import datasource_config_map

CHART = "loki"
# The OSS chart moved to grafana-community; the chart in grafana/loki is the enterprise one.
REPOSITORY = "https://grafana-community.github.io/helm-charts"
SERVICE_ACCOUNT = "loki"
# With auth_enabled false Loki writes every chunk under the tenant prefix `fake/`. The index
# (`index/`), the cluster seed (`loki_cluster_seed.json`) and the delete-request store live
# elsewhere in the bucket and must never be expired by a lifecycle rule.
TENANT = "fake"
CHUNK_PREFIX = f"{TENANT}/"
SCHEMA_FROM = "2024-04-01"
STORAGE_CLASS = "gp3"


def chunk_expiry_days(retention: str, delete_delay: str) -> int:
    """Days after which S3 may expire a chunk: never before Loki stops serving it.

    Loki serves a chunk until `retention` has passed and the compactor's `delete_delay` has run
    out; one extra day covers the compactor's sweep interval. S3 only ever rounds expiry later.
    """
    return math.ceil((duration_seconds(retention) + duration_seconds(delete_delay)) / 86400) + 1


def lifecycle_rules(retention: str, delete_delay: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "expire-loki-chunks",
            "status": "Enabled",
            "filter": {"prefix": CHUNK_PREFIX},
            "expiration": {"days": chunk_expiry_days(retention, delete_delay)},
        },
        {
            # Applies to the whole bucket but deletes nothing a client wrote: it only clears failed uploads.
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
        },
    ]


def loki_values(cfg: LokiConfig, bucket: str, region: str, prod: bool) -> dict[str, Any]:
    """Helm values for the grafana-community `loki` chart; `prod` replicates, adds disruption budgets
    and keeps the volumes when the StatefulSets are deleted or scaled down."""
    single = cfg.deployment_mode == "SingleBinary"
    replication = 1 if single else min(3, cfg.replicas)
    resources = cfg.resources.as_k8s()
    pdb = {"podDisruptionBudget": {"maxUnavailable": 1}} if prod else {}
    retain = {"whenDeleted": "Retain", "whenScaled": "Retain", "enableStatefulSetAutoDeletePVC": False} if prod else {}

    def target(persistence: Optional[dict[str, Any]]) -> dict[str, Any]:
        spec: dict[str, Any] = {"replicas": cfg.replicas, "resources": resources, **pdb}
        if persistence is not None:
            spec["persistence"] = {**persistence, "size": cfg.storage_size, "storageClass": STORAGE_CLASS, **retain}
        return spec

    values: dict[str, Any] = {
        "deploymentMode": cfg.deployment_mode,
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": replication},
            "schemaConfig": {
                "configs": [
                    {
                        "from": SCHEMA_FROM,
                        "store": "tsdb",
                        "object_store": "s3",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            # IRSA supplies credentials; `region` (not `endpoint`) makes the SDK pick the regional endpoint.
            "storage": {
                "type": "s3",
                "bucketNames": {"chunks": bucket, "ruler": bucket},
                "s3": {"region": region},
            },
            "limits_config": {"retention_period": cfg.retention},
            "compactor": {
                "retention_enabled": True,
                "retention_delete_delay": cfg.delete_delay,
                "delete_request_store": "s3",
                "working_directory": "/var/loki/compactor",
            },
        },
        "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
        # Each target names its volume switch differently; read is a stateless Deployment.
        "singleBinary": target({"enabled": True}) if single else {"replicas": 0},
        "read": {"replicas": 0} if single else target(None),
        "write": {"replicas": 0} if single else target({"volumeClaimsEnabled": True}),
        "backend": {"replicas": 0} if single else target({"enabled": True}),
        "minio": {"enabled": False},
        # The chart's default memcached chunk cache asks for 8 GiB; off until sized on purpose.
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "gateway": {"enabled": True, "replicas": 2 if prod else 1},
        "monitoring": {"serviceMonitor": {"enabled": True, "labels": dict(SELECTOR_LABELS)}},
    }
    return values


def grafana_datasource(url: str) -> dict[str, Any]:
    """Grafana datasource provisioning file for this Loki (loaded by Grafana's datasource sidecar)."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Loki",
                "uid": "loki",
                "type": "loki",
                "access": "proxy",
                "url": url,
                "jsonData": {"maxLines": 1000, "timeout": 60},
            }
        ],
    }


class LokiArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: LokiConfig = Field(description="Validated `loki` stack config.")
    namespace: str = Field(description="Namespace for the release and its service account.")
    region: str = Field(description="AWS region of the bucket.")
    oidc_provider_arn: str = Field(description="Cluster IAM OIDC provider ARN.")
    oidc_issuer: str = Field(description="OIDC issuer host/path.")
    protect: bool = Field(description="Protect and retain the bucket (prod).")
    grafana_namespace: Optional[str] = Field(None, description="Namespace of Grafana, which gets the Loki datasource; None for no Grafana.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags for AWS resources.")


class Loki(pulumi.ComponentResource):
    """Creates the Loki S3 bucket (encryption, public access block, owner-enforced, TLS-only policy,
    chunk-only lifecycle), the IRSA role for Loki's service account, the `loki` Helm release, and the
    Grafana datasource ConfigMap for it."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    gateway_url: str

    def __init__(self, name: str, args: LokiArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}:logging:Loki", name, None, opts)
        cfg = args.config
        child = child_opts(self, opts)
        stateful = child_opts(self, opts, protect=args.protect, retain_on_delete=args.protect)

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket=cfg.bucket_name, force_destroy=False, tags=args.tags, opts=stateful
        )
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms" if cfg.kms_key_arn else "AES256",
                        kms_master_key_id=cfg.kms_key_arn,
                    ),
                    bucket_key_enabled=bool(cfg.kms_key_arn),
                )
            ],
            opts=child,
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-bucket-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        self.ownership = aws.s3.BucketOwnershipControls(
            f"{name}-bucket-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket-tls-only",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(lambda arn: json.dumps(iam.tls_only_bucket_policy(arn), sort_keys=True)),
            # S3 rejects a bucket policy while the public access block is still being applied.
            opts=child_opts(self, opts, depends_on=[self.public_access_block]),
        )
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-bucket-lifecycle",
            bucket=self.bucket.id,
            rules=lifecycle_rules(cfg.retention, cfg.delete_delay),
            opts=child,
        )
        self.irsa = IrsaRole(
            f"{name}-irsa",
            IrsaRoleArgs(
                namespace=args.namespace,
                service_account=SERVICE_ACCOUNT,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                policy=self.bucket.arn.apply(
                    lambda arn: json.dumps(iam.loki_bucket_access(arn, cfg.kms_key_arn), sort_keys=True)
                ),
                tags=args.tags,
            ),
            opts=child,
        )
        prod = args.protect
        self.release = helm_release(
            self,
            f"{name}-release",
            release="loki",
            chart=CHART,
            repository=REPOSITORY,
            version=cfg.chart_version,
            namespace=args.namespace,
            values=self.bucket.bucket.apply(lambda bucket: loki_values(cfg, bucket, args.region, prod)),
            opts=opts,
            depends_on=[self.irsa, self.bucket_policy, self.lifecycle, self.encryption],
            timeout=900,
        )
        self.gateway_url = f"http://loki-gateway.{args.namespace}.svc.cluster.local"
        if args.grafana_namespace:
            self.datasource = datasource_config_map(
                f"{name}-grafana-datasource",
                "loki",
                args.grafana_namespace,
                yaml.safe_dump(grafana_datasource(self.gateway_url), sort_keys=True),
                child,
            )
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.role_arn = self.irsa.role_arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "role_arn": self.role_arn,
                "gateway_url": self.gateway_url,
            }
        )
