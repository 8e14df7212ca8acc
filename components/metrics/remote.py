"""The metrics backend past the cluster's Prometheus: an AMP workspace, or Thanos on S3 (see backend.py)."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml
from pydantic import Field

from ..aws.irsa import IrsaRole, IrsaRoleArgs, IrsaWorkloadArgs
from ..aws.s3 import ABORT_INCOMPLETE_UPLOADS, HardenedBucket, HardenedBucketArgs
from ..conventions import MANAGED_BY_LABELS, PROJECT
from ..lib import iam
from ..lib.options import child_opts
from .backend import (
    PROMETHEUS_SERVICE_ACCOUNT,
    THANOS_COMPACT,
    THANOS_OBJSTORE_KEY,
    THANOS_OBJSTORE_SECRET,
    THANOS_STORE,
    MetricsBackendConfig,
    amp_remote_write,
    thanos_objstore,
    thanos_query_url,
    thanos_workloads,
)


class MetricsBackendArgs(IrsaWorkloadArgs):
    """`namespace` is the monitoring namespace (Prometheus, Grafana, Thanos); `protect` protects and
    retains the workspace or bucket; `prod` replicates the querier and store gateway."""

    config: MetricsBackendConfig = Field(description="Validated `prometheusStack.backend` stack config.")
    cluster_name: str = Field(description="Default alias of a created AMP workspace.")
    rollouts_namespace: Optional[str] = Field(None, description="Argo Rollouts' namespace: its controller reads AMP for canary analysis.")
    rollouts_service_account: str = Field(
        "argo-rollouts", description="The controller's service account (the chart names it after the release)."
    )
    storage_class: str = Field(description="StorageClass of the Thanos volumes.")


class MetricsBackend(pulumi.ComponentResource):
    """Creates, for `amp`, the workspace (unless given) and IRSA roles to write it (Prometheus,
    `aps:RemoteWrite` only) and read it (the Argo Rollouts controller); for `thanos`, the hardened
    bucket, the sidecar's, store gateway's and compactor's IRSA roles, the object storage Secret and
    the querier, store gateway and compactor."""

    prometheus_role_arn: Optional[pulumi.Output[str]] = None
    argo_role_arn: Optional[pulumi.Output[str]] = None
    workspace_arn: Optional[pulumi.Output[str]] = None
    bucket_name: Optional[pulumi.Output[str]] = None
    remote_write: Optional[list[dict[str, Any]]] = None
    query_url: Optional[Any] = None
    sigv4_region: Optional[str] = None

    def __init__(self, name: str, args: MetricsBackendArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:metrics:MetricsBackend", name, None, opts)
        self._name, self._args, self._opts = name, args, opts
        if args.config.mode == "amp":
            self._amp()
        elif args.config.mode == "thanos":
            self._thanos()
        self.register_outputs(
            {"prometheus_role_arn": self.prometheus_role_arn, "workspace_arn": self.workspace_arn, "bucket_name": self.bucket_name}
        )

    def _role(self, suffix: str, namespace: str, service_account: str, policy: Any, create: bool) -> pulumi.Output[str]:
        role = IrsaRole(
            f"{self._name}-{suffix}",
            IrsaRoleArgs(
                cluster=self._args.cluster,
                namespace=namespace,
                service_account=service_account,
                policy=policy,
                create_service_account=create,
            ),
            opts=child_opts(self, self._opts),
        )
        return role.role_arn

    def _amp(self) -> None:
        args, amp = self._args, self._args.config.amp
        region = args.cluster.region
        if amp.workspace_arn:
            workspace_id = amp.workspace_arn.rsplit("/", 1)[1]
            arn: pulumi.Output[str] = pulumi.Output.from_input(amp.workspace_arn)
            endpoint: Any = f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace_id}/"
        else:
            workspace = aws.amp.Workspace(
                f"{self._name}-workspace",
                alias=amp.alias or f"{args.cluster_name}-metrics",
                tags={},
                opts=child_opts(self, self._opts, protect=args.protect, retain_on_delete=args.protect),
            )
            arn, endpoint = workspace.arn, workspace.prometheus_endpoint
        self.workspace_arn = arn
        # The chart creates Prometheus' service account; the role only needs to trust it.
        self.prometheus_role_arn = self._role(
            "prometheus-irsa", args.namespace, PROMETHEUS_SERVICE_ACCOUNT, arn.apply(iam.amp_remote_writer), False
        )
        if args.rollouts_namespace:
            self.argo_role_arn = self._role(
                "argo-rollouts-irsa", args.rollouts_namespace, args.rollouts_service_account, arn.apply(iam.amp_reader), False
            )
        self.remote_write = amp_remote_write(pulumi.Output.concat(endpoint, "api/v1/remote_write"), region, amp.queue)
        self.query_url = endpoint
        self.sigv4_region = region

    def _thanos(self) -> None:
        args, cfg = self._args, self._args.config.thanos
        child = child_opts(self, self._opts)
        bucket = HardenedBucket(
            f"{self._name}-bucket",
            # No expiry: the compactor alone owns retention; an S3 expiry would delete blocks under it.
            HardenedBucketArgs(bucket_name=cfg.bucket_name, lifecycle_rules=[ABORT_INCOMPLETE_UPLOADS], protect=args.protect),
            opts=child,
        )
        self.bucket_name = bucket.bucket_name
        ns = args.namespace
        self.prometheus_role_arn = self._role(
            "prometheus-irsa",
            ns,
            PROMETHEUS_SERVICE_ACCOUNT,
            bucket.arn.apply(lambda a: iam.thanos_bucket_access(a, write=True, delete=False)),
            False,
        )
        self._role(
            "thanos-store-irsa", ns, THANOS_STORE, bucket.arn.apply(lambda a: iam.thanos_bucket_access(a, write=False, delete=False)), True
        )
        self._role(
            "thanos-compact-irsa",
            ns,
            THANOS_COMPACT,
            bucket.arn.apply(lambda a: iam.thanos_bucket_access(a, write=True, delete=True)),
            True,
        )
        config = bucket.bucket_name.apply(lambda b: yaml.safe_dump(thanos_objstore(b, args.cluster.region), sort_keys=True))
        self.objstore = k8s.core.v1.Secret(
            f"{self._name}-objstore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=THANOS_OBJSTORE_SECRET, namespace=ns, labels=dict(MANAGED_BY_LABELS)),
            type="Opaque",
            string_data={THANOS_OBJSTORE_KEY: config},
            opts=child,
        )
        after = child_opts(self, self._opts, depends_on=[self.objstore])
        kinds = {"Deployment": k8s.apps.v1.Deployment, "StatefulSet": k8s.apps.v1.StatefulSet, "Service": k8s.core.v1.Service}
        for resource, manifest in thanos_workloads(cfg, ns, args.prod, args.storage_class).items():
            kinds[manifest["kind"]](f"{self._name}-{resource}", metadata=manifest["metadata"], spec=manifest["spec"], opts=after)
        self.query_url = thanos_query_url(ns)
