"""CloudWatch Container Insights (optional): the EKS add-on, its IRSA role and its log group."""

from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field

from . import iam
from .config import ContainerInsightsConfig
from .conventions import TYPE_PREFIX
from .irsa import IrsaRole, IrsaRoleArgs
from .options import child_opts

ADDON = "amazon-cloudwatch-observability"
# Where the add-on runs its agent; the trust policy pins exactly this service account.
AGENT_NAMESPACE = "amazon-cloudwatch"
AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"


def addon_configuration() -> dict[str, Any]:
    # Fluent Bit from this program is the one log agent; the add-on ships only metrics.
    return {"containerLogs": {"enabled": False}}


class ContainerInsightsArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: ContainerInsightsConfig = Field(description="Validated `containerInsights` stack config.")
    cluster_name: str = Field(description="EKS cluster name.")
    oidc_provider_arn: str = Field(description="Cluster IAM OIDC provider ARN.")
    oidc_issuer: str = Field(description="OIDC issuer host/path.")
    protect: bool = Field(description="Protect and retain the log group (prod).")


class ContainerInsights(pulumi.ComponentResource):
    """Creates the performance log group (so the agent never auto-creates one without retention),
    the agent's IRSA role scoped to it, and the `amazon-cloudwatch-observability` add-on."""

    def __init__(self, name: str, args: ContainerInsightsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}:integrations:ContainerInsights", name, None, opts)
        cfg = args.config
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-performance-log-group",
            name=f"/aws/containerinsights/{args.cluster_name}/performance",
            retention_in_days=cfg.retention_days,
            opts=child_opts(self, opts, protect=args.protect, retain_on_delete=args.protect),
        )
        self.irsa = IrsaRole(
            f"{name}-irsa",
            IrsaRoleArgs(
                namespace=AGENT_NAMESPACE,
                service_account=AGENT_SERVICE_ACCOUNT,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                policy=self.log_group.arn.apply(lambda arn: json.dumps(iam.container_insights_agent(arn), sort_keys=True)),
                create_service_account=False,
            ),
            opts=child_opts(self, opts),
        )
        self.addon = aws.eks.Addon(
            f"{name}-addon",
            cluster_name=args.cluster_name,
            addon_name=ADDON,
            addon_version=cfg.addon_version,
            service_account_role_arn=self.irsa.role_arn,
            configuration_values=json.dumps(addon_configuration(), sort_keys=True),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            opts=child_opts(self, opts, depends_on=[self.log_group]),
        )
        self.register_outputs({"role_arn": self.irsa.role_arn, "log_group_name": self.log_group.name})
