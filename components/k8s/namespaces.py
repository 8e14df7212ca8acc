"""The platform's namespaces."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import MANAGED_BY_LABELS, PROJECT
from ..lib.options import child_opts

# Server-side apply takes the fields over even when another manager (the Namespace resource this one
# replaced, kubectl, a team's tooling) owns them.
PATCH_FORCE = "pulumi.com/patchForce"


class PlatformNamespacesArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    names: list[str] = Field(description="Namespaces to create, deduplicated and sorted for stable output.")
    privileged: dict[str, str] = Field(
        default_factory=dict,
        description="Namespaces whose agents need host access, with the reason; Pod Security Admission enforces `privileged` there.",
    )
    teams: list[str] = Field(
        default_factory=list, description="Namespaces teams share with the platform (services' namespaces): `baseline` is enforced there."
    )
    retained: list[str] = Field(
        default_factory=list,
        description="Namespaces never deleted by this program (kept in the cluster when dropped from config or on destroy): "
        "teams' service namespaces, whose Deployments, Secrets and volumes the platform does not own.",
    )


def pod_security(namespace: str, args: PlatformNamespacesArgs) -> dict[str, str]:
    """Pod Security Admission labels: `restricted` is always warned and audited; enforced `baseline`
    in teams' namespaces (their other workloads predate the platform and must keep starting), and
    `privileged` only where an agent needs the host (node-exporter, Fluent Bit, the DCGM exporter)."""
    enforce = "privileged" if namespace in args.privileged else "baseline" if namespace in args.teams else "restricted"
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


class PlatformNamespaces(pulumi.ComponentResource):
    """Creates one Namespace per distinct name (platform namespaces and service namespaces); the
    retained ones are left in the cluster when the program stops managing them.

    A retained namespace is a `NamespacePatch` (server-side apply, forced): applied whether or not the
    namespace exists, never deleted. A plain Namespace would leave it behind on removal and then fail
    with AlreadyExists when the same name comes back (a service removed and re-added, a team's namespace
    that predates the platform), since the provider creates without upsert unless told to adopt."""

    namespaces: dict[str, pulumi.Resource]

    def __init__(self, name: str, args: PlatformNamespacesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:k8s:PlatformNamespaces", name, None, opts)
        self.namespaces = {ns: self._namespace(name, ns, args, opts) for ns in sorted(set(args.names))}
        self.register_outputs({"names": sorted(self.namespaces)})

    def _namespace(self, name: str, ns: str, args: PlatformNamespacesArgs, opts: Optional[pulumi.ResourceOptions]) -> pulumi.Resource:
        annotations = {"eks-observability/pod-security-reason": args.privileged[ns]} if ns in args.privileged else {}
        labels = {**MANAGED_BY_LABELS, "kubernetes.io/metadata.name": ns, **pod_security(ns, args)}
        if ns not in args.retained:
            metadata = k8s.meta.v1.ObjectMetaArgs(name=ns, labels=labels, annotations=annotations or None)
            return k8s.core.v1.Namespace(f"{name}-{ns}", metadata=metadata, opts=child_opts(self, opts))
        patched = k8s.meta.v1.ObjectMetaPatchArgs(name=ns, labels=labels, annotations={**annotations, PATCH_FORCE: "true"})
        return k8s.core.v1.NamespacePatch(f"{name}-{ns}", metadata=patched, opts=child_opts(self, opts, retain_on_delete=True))
