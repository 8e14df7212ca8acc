"""DCGM exporter as pure data: which nodes it runs on, which counters it exports, its Helm values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..conventions import DAEMONSET_MAX_UNAVAILABLE, SELECTOR_LABELS

if TYPE_CHECKING:
    from .dcgm import DcgmExporterConfig

METRICS_PORT = 9400
# The exporter labels an allocated GPU's series with the pod, namespace and container holding it (from
# the kubelet's pod-resources API). The operator's target labels (the exporter's own pod) own those
# names, so Prometheus stores the workload's as exported_*; the metric relabelings give them back.
WORKLOAD_LABELS = ("namespace", "pod", "container")
# NVIDIA GPU instance families on EC2 and their sizes. Plain EKS GPU AMIs label nodes with nothing
# GPU-specific (`nvidia.com/gpu.present` needs GPU Feature Discovery), but every node carries its
# instance type: matching on it works everywhere, the other terms cover GFD, Karpenter and Auto Mode.
GPU_INSTANCE_FAMILIES: dict[str, tuple[str, ...]] = {
    "g4dn": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal"),
    "g5": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
    "g6": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
    "g6e": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
    "gr6": ("4xlarge", "8xlarge"),
    "p3": ("2xlarge", "8xlarge", "16xlarge"),
    "p3dn": ("24xlarge",),
    "p4d": ("24xlarge",),
    "p4de": ("24xlarge",),
    "p5": ("48xlarge",),
    "p5e": ("48xlarge",),
    "p5en": ("48xlarge",),
}
GPU_NODE_LABELS = (
    ("nvidia.com/gpu.present", "true"),  # GPU Feature Discovery / NVIDIA GPU Operator
    ("karpenter.k8s.aws/instance-gpu-manufacturer", "nvidia"),  # Karpenter
    ("eks.amazonaws.com/instance-gpu-manufacturer", "nvidia"),  # EKS Auto Mode
)
# Counters the exporter serves: the chart's defaults without profiling (DCGM_FI_PROF_* need
# CAP_SYS_ADMIN), plus the exporter's windowed XID count, one series per XID (label `xid`).
COUNTERS = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_EXP_XID_ERRORS_COUNT", "gauge", "Count of XID Errors within user-specified time window (see xid-count-window-size param)."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter", "Total number of double-bit volatile ECC errors."),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
)
PROFILING_COUNTERS = (
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
    ("DCGM_FI_PROF_SM_ACTIVE", "gauge", "The ratio of cycles an SM has at least 1 warp assigned."),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor (HMMA) pipe is active."),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge", "Ratio of cycles the device memory interface is active sending or receiving data."),
)


def gpu_instance_types() -> list[str]:
    return [f"{family}.{size}" for family, sizes in GPU_INSTANCE_FAMILIES.items() for size in sizes]


def gpu_node_affinity() -> dict[str, Any]:
    """Any one of the terms selects a node: instance type, or a GPU label some tool put there."""
    terms = [{"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": gpu_instance_types()}]}]
    terms += [{"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]} for key, value in GPU_NODE_LABELS]
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}


def counters_csv(profiling: bool) -> str:
    rows = COUNTERS + (PROFILING_COUNTERS if profiling else ())
    return "".join(f"{field}, {kind}, {help_text}\n" for field, kind, help_text in rows)


def workload_relabelings() -> list[dict[str, Any]]:
    """On a DCGM series `namespace`, `pod` and `container` name the workload using that GPU; a free GPU's
    series have none (the exporter's own pod stays in `instance` and `node`), so `pod!=""` means allocated."""
    moves = [
        {"sourceLabels": [f"exported_{label}"], "targetLabel": label, "regex": "(.*)", "replacement": "$1", "action": "replace"}
        for label in WORKLOAD_LABELS
    ]
    return [*moves, {"regex": f"exported_({'|'.join(WORKLOAD_LABELS)})", "action": "labeldrop"}]


def dcgm_values(cfg: DcgmExporterConfig, prometheus_operator: bool = True) -> dict[str, Any]:
    """Helm values: GPU nodes only, no host namespaces, CAP_SYS_ADMIN only for profiling metrics."""
    values: dict[str, Any] = {
        "nodeSelector": dict(cfg.node_selector),
        "affinity": {} if cfg.node_selector else gpu_node_affinity(),
        "tolerations": [t.model_dump(exclude_none=True) for t in cfg.tolerations],
        "hostNetwork": False,
        "hostPID": False,
        "securityContext": {
            # DCGM talks to the GPU through the NVIDIA runtime's device files, which need root;
            # nothing else is granted unless profiling metrics are asked for.
            "runAsNonRoot": False,
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"] if cfg.profiling_metrics else []},
        },
        "customMetrics": counters_csv(cfg.profiling_metrics),
        "rollingUpdate": {"maxUnavailable": DAEMONSET_MAX_UNAVAILABLE, "maxSurge": 0},
        "service": {"enable": True, "port": METRICS_PORT},
        # Without the operator's CRDs (prometheusStack off) a ServiceMonitor cannot be installed.
        "serviceMonitor": {
            "enabled": prometheus_operator,
            "interval": "15s",
            "honorLabels": False,
            "additionalLabels": dict(SELECTOR_LABELS),
            # `node` on every series, so GPUNodeWithoutExporter can tell which GPU node is blind.
            "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}],
            "metricRelabelings": workload_relabelings(),
        },
    }
    return values
