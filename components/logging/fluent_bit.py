"""Fluent Bit: container logs to a CloudWatch log group the program owns, and to Loki."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import Field

from ..aws.irsa import IrsaRole, IrsaWorkloadArgs
from ..conventions import DAEMONSET_RELEASE_TIMEOUT_S, MANAGED_BY_LABELS, PROJECT
from ..lib import iam
from ..lib.helm import Chart, helm_release
from ..lib.options import child_opts
from .config import FluentBitConfig
from .fluent_bit_values import EVENTS_SERVICE_ACCOUNT, SERVICE_ACCOUNT, events_pipeline, events_values, fluent_bit_values, pipeline

CHART = Chart("fluent-bit", "https://fluent.github.io/helm-charts", "fluent-bit")
EVENTS_CHART = Chart("fluent-bit", "https://fluent.github.io/helm-charts", "fluent-bit-events")
EVENTS_READER = "fluent-bit-events-reader"


class FluentBitArgs(IrsaWorkloadArgs):
    config: FluentBitConfig = Field(description="Validated `fluentBit` stack config.")
    log_group_name: str = Field(description="CloudWatch log group the program creates.")
    loki: Optional[tuple[str, int]] = Field(
        None, description="Loki gateway (host, port), read from the Loki component; None disables the Loki output."
    )
    prometheus_operator: bool = Field(
        True,
        description="The prometheus-operator CRDs are installed (prometheusStack.enabled): the chart's ServiceMonitor and rules are rendered.",
    )


class FluentBit(pulumi.ComponentResource):
    """Creates the CloudWatch log group (retention, optional KMS), the IRSA role allowed to write only
    to that group's streams, and the `fluent-bit` Helm release shipping to CloudWatch and Loki; with
    Loki, the `fluent-bit-events` release sending the cluster's Kubernetes events there too."""

    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: FluentBitArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:logging:FluentBit", name, None, opts)
        cfg = args.config
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            name=args.log_group_name,
            retention_in_days=cfg.retention_days,
            kms_key_id=cfg.kms_key_arn,
            # Tags come from the provider's default_tags; the empty map keeps the group's inputs unchanged.
            tags={},
            opts=child_opts(self, opts, protect=args.protect, retain_on_delete=args.protect),
        )
        policy = self.log_group.arn.apply(iam.log_group_writer)
        self.irsa = IrsaRole(f"{name}-irsa", args.role(SERVICE_ACCOUNT, policy), opts=child_opts(self, opts))
        sections = pipeline(cfg, args.cluster.region, args.log_group_name, args.loki, args.namespace)
        values = fluent_bit_values(cfg, sections, args.prometheus_operator)
        # Writing starts only once the group exists, so nothing is ever auto-created without retention.
        after = [self.log_group, self.irsa]
        self.release = helm_release(
            self, name, CHART, cfg.chart_version, args.namespace, values, opts, depends_on=after, timeout=DAEMONSET_RELEASE_TIMEOUT_S
        )
        if args.loki and cfg.events.enabled:
            self._events(name, args, args.loki, opts)
        self.log_group_name = self.log_group.name
        self.log_group_arn = self.log_group.arn
        self.role_arn = self.irsa.role_arn
        self.register_outputs({"log_group_name": self.log_group_name, "log_group_arn": self.log_group_arn, "role_arn": self.role_arn})

    def _events(self, name: str, args: FluentBitArgs, loki: tuple[str, int], opts: Optional[pulumi.ResourceOptions]) -> None:
        """The events collector's identity (read events, nothing else) and its release."""
        child = child_opts(self, opts)
        meta = k8s.meta.v1.ObjectMetaArgs(name=EVENTS_SERVICE_ACCOUNT, namespace=args.namespace, labels=dict(MANAGED_BY_LABELS))
        account = k8s.core.v1.ServiceAccount(f"{name}-events-sa", metadata=meta, opts=child)
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-events-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=EVENTS_READER, labels=dict(MANAGED_BY_LABELS)),
            rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["events"], verbs=["get", "list", "watch"])],
            opts=child,
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-events-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=EVENTS_READER, labels=dict(MANAGED_BY_LABELS)),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=EVENTS_READER),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=EVENTS_SERVICE_ACCOUNT, namespace=args.namespace)],
            opts=child,
        )
        values = events_values(args.config, events_pipeline(args.config, loki), args.prometheus_operator)
        self.events_release = helm_release(
            self, f"{name}-events", EVENTS_CHART, args.config.chart_version, args.namespace, values, opts, depends_on=[account, role, binding]
        )
