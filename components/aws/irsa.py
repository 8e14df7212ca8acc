"""IRSA: an IAM role one Kubernetes service account can assume, and that service account."""

from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import IRSA_ROLE_ANNOTATION, MANAGED_BY_LABELS, PROJECT
from ..lib import iam
from ..lib.options import child_opts


class ClusterIdentity(BaseModel):
    """What every AWS-facing component needs to know about the cluster, built once from config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    oidc_provider_arn: str = Field(description="Cluster IAM OIDC provider ARN.")
    oidc_issuer: str = Field(description="Issuer host/path, the prefix of the :sub and :aud condition keys.")
    region: str = Field(description="AWS region of the cluster and of everything the platform creates.")

    @property
    def partition(self) -> str:
        return self.oidc_provider_arn.split(":")[1]

    @property
    def account_id(self) -> str:
        return self.oidc_provider_arn.split(":")[4]


class IrsaWorkloadArgs(BaseModel):
    """What every chart that runs with an IRSA role and keeps data is given besides its own config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str = Field(description="Namespace for the release and its service account.")
    cluster: ClusterIdentity = Field(description="Cluster identity: the region of its AWS resources and the IRSA trust.")
    prod: bool = Field(description="Replicas and disruption budgets sized for production.")
    protect: bool = Field(description="Protect the data it keeps (bucket, log group) and retain it on delete.")

    def role(self, service_account: str, policy: Any) -> IrsaRoleArgs:
        """The IRSA role for this chart's service account in its namespace, with `policy`."""
        return IrsaRoleArgs(cluster=self.cluster, namespace=self.namespace, service_account=service_account, policy=policy)


class IrsaRoleArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    cluster: ClusterIdentity = Field(description="The cluster whose OIDC provider the role trusts.")
    namespace: str = Field(description="Namespace of the service account.")
    service_account: str = Field(description="Service account name; the trust policy pins exactly this one.")
    policy: Any = Field(description="Permissions policy: a document (dict), its JSON, or an Output of either.")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels for the service account.")
    create_service_account: bool = Field(
        True, description="Create the annotated ServiceAccount; false when its owner (an EKS add-on) creates it."
    )


class IrsaRole(pulumi.ComponentResource):
    """Creates an IAM role (trust pinned to one service account and the STS audience), its inline
    permissions policy, and the Kubernetes ServiceAccount annotated with the role ARN.

    The chart that runs as this identity is configured with `serviceAccount.create: false` and this
    account's name, so the name in the trust policy and the name the pods use come from one value.
    """

    role_arn: pulumi.Output[str]
    service_account_name: str

    def __init__(self, name: str, args: IrsaRoleArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:aws:IrsaRole", name, None, opts)
        child = child_opts(self, opts)
        cluster = args.cluster
        trust = iam.irsa_trust_policy(cluster.oidc_provider_arn, cluster.oidc_issuer, args.namespace, args.service_account)
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(trust, sort_keys=True),
            description=f"IRSA role for {args.namespace}/{args.service_account}",
            max_session_duration=3600,
            # Tags come from the provider's default_tags; the empty map keeps the role's inputs unchanged.
            tags={},
            opts=child,
        )
        # One serialisation for every role: sorted keys, so the same document is the same bytes.
        policy = pulumi.Output.from_input(args.policy).apply(lambda p: p if isinstance(p, str) else json.dumps(p, sort_keys=True))
        self.policy = aws.iam.RolePolicy(f"{name}-policy", role=self.role.id, policy=policy, opts=child)
        if args.create_service_account:
            self.service_account = k8s.core.v1.ServiceAccount(
                f"{name}-sa",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=args.service_account,
                    namespace=args.namespace,
                    labels={**MANAGED_BY_LABELS, **args.labels},
                    annotations={IRSA_ROLE_ANNOTATION: self.role.arn},
                ),
                opts=child,
            )
        self.role_arn = self.role.arn
        self.service_account_name = args.service_account
        self.register_outputs({"role_arn": self.role_arn, "service_account_name": self.service_account_name})
