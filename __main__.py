"""eks-observability: reads stack config and wires the platform components together."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import read_secrets, read_stack_config
from components.fluent_bit import FluentBit, FluentBitArgs
from components.loki import Loki, LokiArgs
from components.namespaces import PlatformNamespaces, PlatformNamespacesArgs

# Validation comes first: a bad key or a missing secret stops the run before any resource exists.
config = read_stack_config()
secrets = read_secrets(config)
cluster = config.cluster
tags = {"eks-observability:stack": pulumi.get_stack(), "eks-observability:cluster": cluster.name, **cluster.tags}

aws_provider = aws.Provider("aws", region=cluster.region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
k8s_provider = k8s.Provider("k8s", context=cluster.kubeconfig_context)

grafana = config.prometheus_stack.enabled and config.prometheus_stack.grafana.enabled
namespace_names = []
if config.prometheus_stack.enabled:
    namespace_names.append(config.namespaces.monitoring)
if config.loki.enabled or config.fluent_bit.enabled:
    namespace_names.append(config.namespaces.logging)
namespaces = PlatformNamespaces(
    "namespaces",
    PlatformNamespacesArgs(names=namespace_names),
    opts=pulumi.ResourceOptions(providers=[k8s_provider]),
)
platform = pulumi.ResourceOptions(providers=[aws_provider, k8s_provider], depends_on=[namespaces])

loki = None
if config.loki.enabled:
    loki = Loki(
        "loki",
        LokiArgs(
            config=config.loki,
            namespace=config.namespaces.logging,
            region=cluster.region,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            protect=config.protect_data,
            grafana_namespace=config.namespaces.monitoring if grafana else None,
        ),
        opts=platform,
    )
    pulumi.export("lokiBucketName", loki.bucket_name)
    pulumi.export("lokiRoleArn", loki.role_arn)
    pulumi.export("lokiUrl", loki.gateway_url)

if config.fluent_bit.enabled:
    fluent_bit = FluentBit(
        "fluent-bit",
        FluentBitArgs(
            config=config.fluent_bit,
            namespace=config.namespaces.logging,
            region=cluster.region,
            log_group_name=config.log_group_name,
            loki_host=f"loki-gateway.{config.namespaces.logging}.svc.cluster.local"
            if loki is not None and config.fluent_bit.send_to_loki
            else None,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            protect=config.protect_data,
        ),
        opts=platform,
    )
    pulumi.export("logGroupName", fluent_bit.log_group_name)
    pulumi.export("fluentBitRoleArn", fluent_bit.role_arn)
