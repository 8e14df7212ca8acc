"""Cluster prerequisites: the `gp3` StorageClass (created on request), and a read of each thing the
platform needs but does not install, so a missing one stops `pulumi preview` with its name."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from ..conventions import MANAGED_BY_LABELS, PROJECT
from ..lib.options import child_opts

GP3 = "gp3"


def gp3_storage_class() -> dict[str, Any]:
    """EBS gp3 through the EBS CSI driver: encrypted, bound where the pod lands (volumes are AZ-bound), expandable."""
    return {
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true", "fsType": "ext4"},
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
        "reclaimPolicy": "Retain",
    }


class ClusterStorage(pulumi.ComponentResource):
    """Creates the `gp3` StorageClass (retained on delete: other workloads' volumes may use it)."""

    def __init__(self, name: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:k8s:ClusterStorage", name, None, opts)
        sc = gp3_storage_class()
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GP3, labels=dict(MANAGED_BY_LABELS)),
            provisioner=sc["provisioner"],
            parameters=sc["parameters"],
            volume_binding_mode=sc["volumeBindingMode"],
            allow_volume_expansion=sc["allowVolumeExpansion"],
            reclaim_policy=sc["reclaimPolicy"],
            opts=child_opts(self, opts, retain_on_delete=True),
        )
        self.register_outputs({"storage_class": GP3})


class ClusterPrerequisites(pulumi.ComponentResource):
    """Reads (never changes) what the platform relies on: the EBS CSI driver, the `gp3` StorageClass
    unless this program creates it, and the `alb` IngressClass when Grafana has an ingress. A missing
    one fails the preview with the logical name `prerequisite-<what>` and the object it looked for."""

    def __init__(self, name: str, storage_class: bool, ingress_class: bool, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:k8s:ClusterPrerequisites", name, None, opts)
        child = child_opts(self, opts)
        self.csi_driver = k8s.storage.v1.CSIDriver.get(f"{name}-ebs-csi-driver", "ebs.csi.aws.com", opts=child)
        checked = ["CSIDriver/ebs.csi.aws.com"]
        if storage_class:
            k8s.storage.v1.StorageClass.get(f"{name}-storage-class-{GP3}", GP3, opts=child)
            checked.append(f"StorageClass/{GP3}")
        if ingress_class:
            k8s.networking.v1.IngressClass.get(f"{name}-ingress-class-alb", "alb", opts=child)
            checked.append("IngressClass/alb")
        self.register_outputs({"checked": checked})
