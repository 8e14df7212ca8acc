"""CloudWatch Container Insights (optional): the EKS add-on, its IRSA role and its log group."""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..aws.irsa import ClusterIdentity, IrsaRole, IrsaRoleArgs
from ..conventions import PROJECT
from ..lib import iam
from ..lib.options import child_opts
from ..lib.types import Model, RetentionDays

ADDON = "amazon-cloudwatch-observability"
# Where the add-on runs its agent; the trust policy pins exactly this service account.
AGENT_NAMESPACE = "amazon-cloudwatch"
AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"


class ContainerInsightsConfig(Model):
    enabled: bool = Field(False, description="Install the amazon-cloudwatch-observability EKS add-on with its IRSA role.")
    addon_version: str = Field("v4.4.0-eksbuild.1", description="Pinned add-on version.")
    retention_days: RetentionDays = Field(30, description="Retention of the Container Insights performance log group.")

    @field_validator("addon_version")
    @classmethod
    def _addon_version(cls, value: str) -> str:
        if not re.match(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$", value):
            raise ValueError("must be an exact EKS add-on version such as v4.4.0-eksbuild.1")
        return value


def addon_configuration() -> dict[str, Any]:
    # Fluent Bit from this program is the one log agent; the add-on ships only metrics.
    return {"containerLogs": {"enabled": False}}


class ContainerInsightsArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: ContainerInsightsConfig = Field(description="Validated `containerInsights` stack config.")
    cluster_name: str = Field(description="EKS cluster name.")
    cluster: ClusterIdentity = Field(description="Cluster identity the agent's IRSA role trusts.")
    protect: bool = Field(description="Protect and retain the log group (prod).")


class ContainerInsights(pulumi.ComponentResource):
    """Creates the performance log group (so the agent never auto-creates one without retention),
    the agent's IRSA role scoped to it, and the `amazon-cloudwatch-observability` add-on."""

    def __init__(self, name: str, args: ContainerInsightsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:integrations:ContainerInsights", name, None, opts)
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
                cluster=args.cluster,
                namespace=AGENT_NAMESPACE,
                service_account=AGENT_SERVICE_ACCOUNT,
                policy=self.log_group.arn.apply(iam.container_insights_agent),
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
