"""Datadog agent (optional): keys only from secrets, delivered as a Kubernetes Secret."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from .config import DatadogConfig
from .conventions import MANAGED_BY_LABELS, TYPE_PREFIX
from .helm import helm_release
from .options import child_opts

CHART = "datadog"
REPOSITORY = "https://helm.datadoghq.com"
KEYS_SECRET = "datadog-keys"


def datadog_values(cfg: DatadogConfig, cluster_name: str) -> dict[str, Any]:
    return {
        "datadog": {
            "site": cfg.site,
            "clusterName": cluster_name,
            # The chart reads `api-key` and `app-key` from this Secret; no key is ever in the values.
            "apiKeyExistingSecret": KEYS_SECRET,
            "appKeyExistingSecret": KEYS_SECRET,
            # Fluent Bit is the platform's one log agent.
            "logs": {"enabled": False},
        },
    }


class DatadogArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: DatadogConfig = Field(description="Validated `datadog` stack config.")
    namespace: str = Field(description="Namespace of the agent.")
    cluster_name: str = Field(description="Cluster name reported to Datadog.")
    api_key: Any = Field(description="Secret Output: Datadog API key.")
    app_key: Any = Field(description="Secret Output: Datadog application key.")


class Datadog(pulumi.ComponentResource):
    """Creates the Datadog keys Secret and the `datadog` release that reads it."""

    def __init__(self, name: str, args: DatadogArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}:integrations:Datadog", name, None, opts)
        keys = k8s.core.v1.Secret(
            f"{name}-keys",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=KEYS_SECRET, namespace=args.namespace, labels=dict(MANAGED_BY_LABELS)),
            type="Opaque",
            string_data={"api-key": args.api_key, "app-key": args.app_key},
            opts=child_opts(self, opts),
        )
        self.release = helm_release(
            self,
            f"{name}-release",
            release="datadog",
            chart=CHART,
            repository=REPOSITORY,
            version=args.config.chart_version,
            namespace=args.namespace,
            values=datadog_values(args.config, args.cluster_name),
            opts=opts,
            depends_on=[keys],
        )
        self.register_outputs({"release": self.release.name})
