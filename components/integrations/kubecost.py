"""Kubecost (optional), reading the platform Prometheus instead of bundling its own."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..conventions import MANAGED_BY_LABELS, PROJECT, SELECTOR_LABELS
from ..lib.helm import Chart, helm_release
from ..lib.options import child_opts
from ..lib.types import ChartVersion, DnsLabel, Model
from .cost import Budget, cost_rule_groups

CHART = Chart("cost-analyzer", "https://kubecost.github.io/cost-analyzer/", "kubecost")
RULES = "cost-budgets"


class CostBudgetConfig(Model):
    namespace: Optional[DnsLabel] = Field(None, description="The namespace this budget covers (or `team`).")
    team: Optional[str] = Field(None, description="The team this budget covers: the namespaces only its services run in (or `namespace`).")
    monthly: float = Field(gt=0, description="Monthly budget, in the currency the cost model prices in (USD unless configured).")

    @model_validator(mode="after")
    def _one_scope(self) -> CostBudgetConfig:
        if (self.namespace is None) == (self.team is None):
            raise ValueError("name exactly one of namespace or team")
        return self

    def as_budget(self) -> Budget:
        return Budget(monthly=self.monthly, namespace=self.namespace, team=self.team)


class KubecostConfig(Model):
    enabled: bool = Field(False, description="Deploy Kubecost (cost-analyzer).")
    chart_version: ChartVersion = Field("2.8.2", description="Pinned `cost-analyzer` chart version.")
    budgets: list[CostBudgetConfig] = Field(
        default_factory=list, description="Monthly budgets per namespace or team; CostBudgetForecastOverrun warns on the 3-day run rate."
    )
    spend_change_ratio: float = Field(
        0.5, gt=0, le=100, description="CostSpendSurge: a namespace's hourly spend above (1 + this) times its 7-day average."
    )
    spend_change_min_hourly: float = Field(0.10, ge=0, description="CostSpendSurge ignores namespaces spending less than this an hour.")

    @model_validator(mode="after")
    def _distinct(self) -> KubecostConfig:
        scopes = [(b.namespace, b.team) for b in self.budgets]
        duplicates = sorted({f"{'namespace' if ns else 'team'} {ns or team}" for ns, team in scopes if scopes.count((ns, team)) > 1})
        if duplicates:
            raise ValueError(f"one budget per namespace or team; repeated: {', '.join(duplicates)}")
        return self


def kubecost_values(cluster_name: str, prometheus_url: str, prometheus_operator: bool = True) -> dict[str, Any]:
    return {
        "global": {
            "prometheus": {"enabled": False, "fqdn": prometheus_url},
            "grafana": {"enabled": False, "proxy": False},
        },
        "kubecostProductConfigs": {"clusterName": cluster_name},
        # The cost model's own metrics (node prices, allocations) must be in the platform Prometheus: Kubecost
        # reads them back from there, and the budget rules price namespaces with them.
        "serviceMonitor": {"enabled": prometheus_operator, "additionalLabels": dict(SELECTOR_LABELS)},
    }


class KubecostArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: KubecostConfig = Field(description="Validated `kubecost` stack config.")
    namespace: str = Field(description="Namespace of Kubecost.")
    cluster_name: str = Field(description="Cluster name shown in Kubecost.")
    prometheus_url: str = Field(description="The platform Prometheus Kubecost queries.")
    rules_namespace: str = Field(description="Namespace of the budget rules (the platform Prometheus's).")
    namespace_teams: dict[str, str] = Field(default_factory=dict, description="Namespace -> the one team whose services run there.")
    runbook_base_url: str = Field(description="alerting.runbookBaseUrl.")


class Kubecost(pulumi.ComponentResource):
    """Creates the `cost-analyzer` release pointed at the platform Prometheus."""

    def __init__(self, name: str, args: KubecostArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:integrations:Kubecost", name, None, opts)
        cfg = args.config
        values = kubecost_values(args.cluster_name, args.prometheus_url)
        self.release = helm_release(self, name, CHART, cfg.chart_version, args.namespace, values, opts)
        groups = cost_rule_groups(
            [b.as_budget() for b in cfg.budgets], args.namespace_teams, cfg.spend_change_ratio, cfg.spend_change_min_hourly, args.runbook_base_url
        )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=RULES, namespace=args.rules_namespace, labels={**MANAGED_BY_LABELS, **SELECTOR_LABELS}),
            spec={"groups": groups},
            opts=child_opts(self, opts),
        )
        self.register_outputs({"release": self.release.name, "rules": RULES})
