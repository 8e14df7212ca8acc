"""The one way this program installs a Helm chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from .options import child_opts


@dataclass(frozen=True)
class Chart:
    """Where a chart comes from and the release name it is installed as."""

    chart: str
    repository: str
    release: str


def helm_release(
    parent: pulumi.ComponentResource,
    name: str,
    chart: Chart,
    version: str,
    namespace: str,
    values: Any,
    opts: Optional[pulumi.ResourceOptions],
    *,
    depends_on: Sequence[pulumi.Resource] = (),
    timeout: int = 600,
    skip_crds: bool = False,
    replace_on_changes: Sequence[str] = (),
) -> k8s.helm.v3.Release:
    """`<name>-release`: a Helm release of `chart` pinned to `version`, child of `parent` (named `name`).

    Atomic: a failed install or upgrade rolls back instead of leaving a half-applied release. `timeout`
    bounds each install or upgrade: size it for the largest rollout the release does (a DaemonSet
    over every node), or a slow but healthy rollout is rolled back.

    Replaced delete-before-replace: the provider's default (create the new release, then delete the
    old) installs a second copy of every cluster-scoped object (ClusterRoles, webhooks, CRDs) while the
    first still owns it, and Helm refuses the install. A release is replaced when its name or
    namespace changes (a renamed platform namespace), or when a value in `replace_on_changes` does
    (a field Kubernetes will not update in place, such as a StatefulSet's volume claim templates).
    """
    return k8s.helm.v3.Release(
        f"{name}-release",
        name=chart.release,
        chart=chart.chart,
        version=version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=namespace,
        values=values,
        atomic=True,
        timeout=timeout,
        skip_crds=skip_crds or None,
        opts=child_opts(
            parent,
            opts,
            depends_on=list(depends_on),
            delete_before_replace=True,
            replace_on_changes=[f"values.{path}" for path in replace_on_changes] or None,
        ),
    )
