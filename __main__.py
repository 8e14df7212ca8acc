"""eks-observability: reads stack config and wires the platform components together."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.conventions import STACK_TAG
from components.delivery.argo_rollouts import ArgoRollouts, ArgoRolloutsArgs
from components.integrations.container_insights import ContainerInsights, ContainerInsightsArgs
from components.integrations.datadog import Datadog, DatadogArgs
from components.integrations.kubecost import Kubecost, KubecostArgs
from components.k8s.namespaces import PlatformNamespaces, PlatformNamespacesArgs
from components.k8s.network import NetworkPolicies, network_policies
from components.k8s.storage import ClusterPrerequisites, ClusterStorage
from components.logging.control_plane import ControlPlaneLogs, ControlPlaneLogsArgs
from components.logging.fluent_bit import FluentBit, FluentBitArgs
from components.logging.logql import logql_rule_groups
from components.logging.loki import Loki, LokiArgs
from components.logging.ruler import LokiRules, LokiRulesArgs
from components.metrics.dcgm import DcgmExporter, DcgmExporterArgs
from components.metrics.remote import MetricsBackend, MetricsBackendArgs
from components.metrics.stack import KubePrometheusStack, KubePrometheusStackArgs
from components.services.budgets import retention_warning
from components.services.canary import first_step_warning
from components.services.monitoring import ServiceFleetRules, ServiceMonitoring, ServiceMonitoringArgs
from components.stack import placeholder_secrets, read_secrets, read_stack_config

# Validation comes first: a bad key or a missing secret stops the run before any resource exists.
config = read_stack_config()
placeholders = placeholder_secrets()
secrets = read_secrets(config, placeholders)
cluster, ns, grafana = config.cluster, config.namespaces, config.grafana
identity = cluster.identity
stack = config.prometheus_stack
tags = {STACK_TAG: pulumi.get_stack(), "eks-observability:cluster": cluster.name, **cluster.tags}

aws_provider = aws.Provider("aws", region=cluster.region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
# Server-side apply pinned on, not left to PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY: the operator's CRDs (the
# `prometheuses` one is 833 KB) exceed the annotation client-side apply keeps. Adopting, the provider
# takes over existing objects (upsert) and their fields (patch force): it forces during preview only,
# so without this a field another manager owns fails just the real `up`.
adopt = cluster.adopt_existing_objects or None
k8s_provider = k8s.Provider(
    "k8s", context=cluster.kubeconfig_context, enable_server_side_apply=True, upsert_existing_objects=adopt, enable_patch_force=adopt
)

namespace_names = [
    name
    for name, on in (
        (ns.monitoring, stack.enabled or config.dcgm_exporter.enabled),
        (ns.logging, config.loki.enabled or config.fluent_bit.enabled),
        (ns.rollouts, config.argo_rollouts.enabled),
        ("datadog", config.datadog.enabled),
        ("kubecost", config.kubecost.enabled),
    )
    if on
] + [service.namespace for service in config.services]
# A team's namespace holds its workloads, secrets and volumes: never deleted by this program. The
# platform's own are kept too when the stack protects its data (their volumes live there).
service_namespaces = [service.namespace for service in config.services]
retained = service_namespaces + (namespace_names if config.protect_data else [])
privileged = {
    ns.monitoring: "node-exporter reads the host (hostNetwork, hostPID, /proc and /sys) and the DCGM exporter the GPUs",
    ns.logging: "Fluent Bit reads container logs from the node (hostPath /var/log) and buffers on it",
    "datadog": "the Datadog node agent reads the host (hostPID, /proc, cgroups, the container runtime socket)",
}
namespaces = PlatformNamespaces(
    "namespaces",
    PlatformNamespacesArgs(names=namespace_names, retained=retained, privileged=privileged, teams=service_namespaces),
    opts=pulumi.ResourceOptions(providers=[k8s_provider]),
)
providers = [aws_provider, k8s_provider]
if cluster.create_storage_class:
    ClusterStorage("storage", opts=pulumi.ResourceOptions(providers=[k8s_provider]))
ClusterPrerequisites(
    "prerequisite",
    storage_class=not cluster.create_storage_class,
    ingress_class=grafana and stack.grafana.ingress.enabled,
    opts=pulumi.ResourceOptions(providers=[k8s_provider]),
)


def deploy_opts(*namespace_names: str, after: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
    """Providers, plus the namespaces (only these: depending on a component means on all its
    children) and whatever else must exist first."""
    return pulumi.ResourceOptions(providers=providers, depends_on=[namespaces.namespaces[n] for n in namespace_names] + list(after or []))


crds: list[pulumi.Resource] = []

backend = None
if stack.enabled and stack.backend.mode != "prometheus":
    reads_amp = stack.backend.mode == "amp" and config.argo_rollouts.enabled
    backend = MetricsBackend(
        "metrics-backend",
        MetricsBackendArgs(
            config=stack.backend,
            cluster=cluster.require_identity(),
            cluster_name=cluster.name,
            namespace=ns.monitoring,
            rollouts_namespace=ns.rollouts if reads_amp else None,
            storage_class=stack.prometheus.storage_class,
            prod=config.prod,
            protect=config.protect_data,
        ),
        opts=deploy_opts(ns.monitoring, *([ns.rollouts] if reads_amp else [])),
    )
    if backend.workspace_arn is not None:
        pulumi.export("ampWorkspaceArn", backend.workspace_arn)
    if backend.bucket_name is not None:
        pulumi.export("thanosBucketName", backend.bucket_name)

if stack.enabled:
    metrics = KubePrometheusStack(
        "kube-prometheus-stack",
        KubePrometheusStackArgs(
            config=stack,
            alerting=config.alerting,
            contracts={service.name: service.metrics for service in config.services},
            cluster=identity,
            namespace=ns.monitoring,
            prod=config.prod,
            retain_volumes=config.protect_data,
            gpu_rules=config.dcgm_exporter.enabled,
            log_group_names=config.grafana_log_groups(),
            secrets=secrets,
            placeholder_secrets=placeholders,
            external_labels={"cluster": cluster.name, "environment": config.environment},
            backend=backend,
            trace_logs=config.logs_in_loki,
            kubernetes_events=config.events_in_loki,
            cost=config.kubecost.enabled,
        ),
        opts=deploy_opts(ns.monitoring),
    )
    # Every custom resource below (charts' ServiceMonitors included) waits for the operator CRDs.
    crds = metrics.crds
    pulumi.export("prometheusUrl", metrics.prometheus_url)
    pulumi.export("alertmanagerUrl", metrics.alertmanager_url)
    if grafana:
        pulumi.export("grafanaUrl", metrics.grafana_url)
    if metrics.grafana_role_arn is not None:
        pulumi.export("grafanaRoleArn", metrics.grafana_role_arn)

loki = None
if config.loki.enabled:
    loki = Loki(
        "loki",
        LokiArgs(
            config=config.loki,
            namespace=ns.logging,
            cluster=cluster.require_identity(),
            prod=config.prod,
            protect=config.protect_data,
            grafana_namespace=ns.monitoring if grafana else None,
            alertmanager_url=metrics.alertmanager_url if stack.enabled else None,
            prometheus_operator=stack.enabled,
        ),
        opts=deploy_opts(ns.logging, *([ns.monitoring] if grafana else []), after=crds),
    )
    pulumi.export("lokiBucketName", loki.bucket_name)
    pulumi.export("lokiRulerBucketName", loki.ruler_bucket_name)
    pulumi.export("lokiRoleArn", loki.role_arn)
    pulumi.export("lokiUrl", loki.gateway_url)
    if stack.enabled and config.logs_in_loki:
        # Loki's ruler sends its alerts to this Alertmanager; without it the rules would alert no one.
        LokiRules(
            "loki-rules",
            LokiRulesArgs(
                groups=logql_rule_groups(config.services_in_loki(), ns.logging, config.alerting),
                namespace=ns.logging,
                loki_url=loki.gateway_url,
            ),
            opts=deploy_opts(ns.logging, after=[loki]),
        )

if config.fluent_bit.enabled:
    fluent_bit = FluentBit(
        "fluent-bit",
        FluentBitArgs(
            config=config.fluent_bit,
            namespace=ns.logging,
            cluster=cluster.require_identity(),
            log_group_name=config.log_group_name,
            loki=(loki.gateway_host, loki.gateway_port) if loki and config.fluent_bit.send_to_loki else None,
            prod=config.prod,
            protect=config.protect_data,
            prometheus_operator=stack.enabled,
        ),
        opts=deploy_opts(ns.logging, after=crds),
    )
    pulumi.export("logGroupName", fluent_bit.log_group_name)
    pulumi.export("fluentBitRoleArn", fluent_bit.role_arn)

if config.control_plane_logs.enabled and identity is not None:
    ControlPlaneLogs(
        "control-plane-logs",
        ControlPlaneLogsArgs(
            config=config.control_plane_logs,
            cluster_name=cluster.name,
            cluster=identity,
            grafana_namespace=ns.monitoring if grafana else None,
            protect=config.protect_data,
            stack_tag=(STACK_TAG, pulumi.get_stack()),
        ),
        opts=deploy_opts(*([ns.monitoring] if grafana else [])),
    )

if config.dcgm_exporter.enabled:
    DcgmExporter(
        "dcgm-exporter",
        DcgmExporterArgs(config=config.dcgm_exporter, namespace=ns.monitoring, prometheus_operator=stack.enabled),
        opts=deploy_opts(ns.monitoring, after=crds),
    )

rollouts = None
if config.argo_rollouts.enabled:
    rollouts = ArgoRollouts(
        "argo-rollouts",
        ArgoRolloutsArgs(
            config=config.argo_rollouts,
            namespace=ns.rollouts,
            dashboard_namespace=ns.monitoring if grafana else None,
            prod=config.prod,
            role_arn=backend.argo_role_arn if backend else None,
            prometheus_operator=stack.enabled,
        ),
        opts=deploy_opts(ns.rollouts, *([ns.monitoring] if grafana else []), after=crds),
    )

if config.datadog.enabled:
    Datadog(
        "datadog",
        DatadogArgs(
            config=config.datadog,
            namespace="datadog",
            cluster_name=cluster.name,
            secrets=secrets,
            placeholder_secrets=placeholders,
        ),
        opts=deploy_opts("datadog"),
    )

if config.kubecost.enabled:
    Kubecost(
        "kubecost",
        KubecostArgs(
            config=config.kubecost,
            namespace="kubecost",
            cluster_name=cluster.name,
            prometheus_url=metrics.prometheus_url,
            rules_namespace=ns.monitoring,
            namespace_teams=config.namespace_teams(),
            runbook_base_url=config.alerting.runbook_base_url,
        ),
        opts=deploy_opts("kubecost", ns.monitoring, after=crds),
    )

if config.container_insights.enabled:
    insights = ContainerInsights(
        "container-insights",
        ContainerInsightsArgs(
            config=config.container_insights,
            cluster_name=cluster.name,
            cluster=cluster.require_identity(),
            protect=config.protect_data,
        ),
        opts=deploy_opts(),
    )
    pulumi.export("containerInsightsRoleArn", insights.irsa.role_arn)

if cluster.network_policies and stack.enabled:
    manifests = network_policies(
        ns.monitoring,
        ns.logging if config.loki.enabled else None,
        ns.rollouts if config.argo_rollouts.enabled else None,
        config.kubecost.enabled,
        thanos=stack.backend.mode == "thanos",
    )
    NetworkPolicies("network-policies", manifests, opts=deploy_opts(ns.monitoring, *([ns.logging] if config.loki.enabled else [])))

if config.services:
    # Validation guarantees Prometheus and Argo Rollouts are on whenever services are configured.
    period = config.alerting.slo_period
    ServiceFleetRules("svc-slo-windows", ns.monitoring, config.alerting.runbook_base_url, period, opts=deploy_opts(ns.monitoring, after=crds))
    dashboards = {}
    shares: dict[str, dict[str, float]] = {}
    for service in config.services:
        monitoring = ServiceMonitoring(
            f"svc-{service.name}",
            ServiceMonitoringArgs(
                service=service,
                # With a backend, the canary reads what Grafana reads: the same queries, one source.
                prometheus_url=backend.query_url if backend else metrics.prometheus_url,
                sigv4_region=backend.sigv4_region if backend else None,
                runbook_base_url=config.alerting.runbook_base_url,
                slo_period=period,
                grafana_url=metrics.grafana_url if grafana else None,
                adopted=cluster.adopt_existing_objects,
                monitoring_namespace=ns.monitoring if cluster.network_policies else None,
            ),
            # ServiceMonitors and rules need the operator CRDs, Rollouts the chart that installs theirs.
            opts=deploy_opts(service.namespace, after=[*crds, *([rollouts.release] if rollouts else [])]),
        )
        if monitoring.dashboard_url:
            dashboards[service.name] = monitoring.dashboard_url
        shares[service.name] = {f"setWeight {w}": share for w, share in monitoring.canary_shares.items()}
    pulumi.export("serviceDashboards", dashboards)
    # What each canary step really sends without a traffic router: traffic follows pod counts.
    pulumi.export("canaryTrafficShares", shares)
    for warning in (first_step_warning(config.services), retention_warning(period, stack.prometheus.retention)):
        if warning:
            pulumi.log.warn(warning)
