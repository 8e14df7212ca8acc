"""Datadog agent (optional): keys only from secrets, delivered as a Kubernetes Secret."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import DAEMONSET_RELEASE_TIMEOUT_S, MANAGED_BY_LABELS, PROJECT, SECRET_DATA
from ..lib.helm import Chart, helm_release
from ..lib.options import child_opts
from ..lib.types import ChartVersion, Model

CHART = Chart("datadog", "https://helm.datadoghq.com", "datadog")
KEYS_SECRET = "datadog-keys"
# Key in the keys Secret (as the chart reads it) -> the stack config secret that fills it.
KEY_SECRETS = {"api-key": "datadogApiKey", "app-key": "datadogAppKey"}


class DatadogConfig(Model):
    enabled: bool = Field(False, description="Deploy the Datadog agent (API/app keys from secrets).")
    chart_version: ChartVersion = Field("3.72.1", description="Pinned `datadog` chart version.")
    site: str = Field("datadoghq.com", description="Datadog site.")


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
            # On (the chart default), the cluster agent lists every Secret in the cluster, values included,
            # to count them: kube-state-metrics in the monitoring namespace already reports Secrets' metadata.
            "kubeStateMetricsCore": {"collectSecretMetrics": False},
        },
    }


class DatadogArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: DatadogConfig = Field(description="Validated `datadog` stack config.")
    namespace: str = Field(description="Namespace of the agent.")
    cluster_name: str = Field(description="Cluster name reported to Datadog.")
    secrets: dict[str, Any] = Field(description="Secret Outputs by stack config key (the two of KEY_SECRETS).")
    placeholder_secrets: bool = Field(False, description="The secrets are a preview's placeholders: the Secret ignores changes to its data.")


class Datadog(pulumi.ComponentResource):
    """Creates the Datadog keys Secret and the `datadog` release that reads it."""

    def __init__(self, name: str, args: DatadogArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:integrations:Datadog", name, None, opts)
        keys = k8s.core.v1.Secret(
            f"{name}-keys",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=KEYS_SECRET, namespace=args.namespace, labels=dict(MANAGED_BY_LABELS)),
            type="Opaque",
            string_data={key: args.secrets[config_key] for key, config_key in KEY_SECRETS.items()},
            opts=child_opts(self, opts, ignore_changes=SECRET_DATA if args.placeholder_secrets else None),
        )
        values = datadog_values(args.config, args.cluster_name)
        self.release = helm_release(
            self,
            name,
            CHART,
            args.config.chart_version,
            args.namespace,
            values,
            opts,
            depends_on=[keys],
            timeout=DAEMONSET_RELEASE_TIMEOUT_S,
        )
        self.register_outputs({"release": self.release.name})
