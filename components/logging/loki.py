"""Loki on S3: a hardened bucket, an IRSA role scoped to it, the Loki Helm release and its Grafana datasource."""

from __future__ import annotations

from typing import Optional

import pulumi
import yaml
from pydantic import Field

from ..aws.irsa import IrsaRole, IrsaWorkloadArgs
from ..aws.s3 import HardenedBucket, HardenedBucketArgs
from ..conventions import PROJECT
from ..lib import iam
from ..lib.helm import Chart, helm_release
from ..lib.options import child_opts
from ..lib.sidecar import datasource_config_map
from .config import LokiConfig
from .loki_values import (
    GATEWAY_PORT,
    GATEWAY_SERVICE,
    SERVICE_ACCOUNT,
    grafana_datasource,
    lifecycle_rules,
    loki_values,
    ruler_lifecycle_rules,
    volume_claim_paths,
)

# The OSS chart moved to grafana-community; the chart in grafana/loki is the enterprise one.
CHART = Chart("loki", "https://grafana-community.github.io/helm-charts", "loki")


class LokiArgs(IrsaWorkloadArgs):
    config: LokiConfig = Field(description="Validated `loki` stack config.")
    grafana_namespace: Optional[str] = Field(None, description="Namespace of Grafana, which gets the Loki datasource; None for no Grafana.")
    alertmanager_url: Optional[str] = Field(None, description="Alertmanager the Loki ruler sends alerts to; None for none.")
    prometheus_operator: bool = Field(
        True,
        description="The prometheus-operator CRDs are installed (prometheusStack.enabled): the chart's ServiceMonitor and rules are rendered.",
    )


class Loki(pulumi.ComponentResource):
    """Creates the Loki chunk bucket (`HardenedBucket`, chunk-only lifecycle) and ruler bucket (rule
    groups, never expired), the IRSA role for Loki's service account scoped to both, the `loki` Helm
    release, and the Grafana datasource ConfigMap for it."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    ruler_bucket_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    gateway_host: str
    gateway_port: int
    gateway_url: str

    def __init__(self, name: str, args: LokiArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:logging:Loki", name, None, opts)
        cfg, child = args.config, child_opts(self, opts)
        self.gateway_host = f"{GATEWAY_SERVICE}.{args.namespace}.svc.cluster.local"
        self.gateway_port = GATEWAY_PORT
        self.gateway_url = f"http://{self.gateway_host}"
        self.bucket = HardenedBucket(
            f"{name}-bucket",
            HardenedBucketArgs(
                bucket_name=cfg.bucket_name,
                kms_key_arn=cfg.kms_key_arn,
                lifecycle_rules=lifecycle_rules(cfg.retention, cfg.delete_delay),
                protect=args.protect,
            ),
            opts=child,
            moved_from=self,
        )
        self.ruler_bucket = HardenedBucket(
            f"{name}-ruler-bucket",
            HardenedBucketArgs(
                bucket_name=cfg.ruler_bucket_name,
                kms_key_arn=cfg.kms_key_arn,
                lifecycle_rules=ruler_lifecycle_rules(),
                protect=args.protect,
            ),
            opts=child,
        )
        policy = pulumi.Output.all(self.bucket.arn, self.ruler_bucket.arn).apply(
            lambda arns: iam.loki_bucket_access(arns[0], arns[1], cfg.kms_key_arn)
        )
        self.irsa = IrsaRole(f"{name}-irsa", args.role(SERVICE_ACCOUNT, policy), opts=child)
        values = pulumi.Output.all(self.bucket.bucket_name, self.ruler_bucket.bucket_name).apply(
            lambda names: loki_values(
                cfg, names[0], names[1], args.cluster.region, args.prod, args.alertmanager_url, args.prometheus_operator
            )
        )
        # Loki writes only once the buckets are encrypted, private and have their lifecycle.
        after = [self.irsa, self.bucket, self.ruler_bucket]
        self.release = helm_release(
            self,
            name,
            CHART,
            cfg.chart_version,
            args.namespace,
            values,
            opts,
            depends_on=after,
            timeout=900,
            replace_on_changes=volume_claim_paths(cfg, args.prod),
        )
        if args.grafana_namespace:
            self.datasource = datasource_config_map(
                f"{name}-grafana-datasource",
                "loki",
                args.grafana_namespace,
                yaml.safe_dump(grafana_datasource(self.gateway_url), sort_keys=True),
                child,
            )
        self.bucket_name = self.bucket.bucket_name
        self.bucket_arn = self.bucket.arn
        self.ruler_bucket_name = self.ruler_bucket.bucket_name
        self.role_arn = self.irsa.role_arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "ruler_bucket_name": self.ruler_bucket_name,
                "role_arn": self.role_arn,
                "gateway_url": self.gateway_url,
            }
        )
