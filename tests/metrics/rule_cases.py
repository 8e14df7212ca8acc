"""One unit-test case per platform alert: series that breach, when the alert fires, what it says,
and series that stay healthy. `test_rules.py` turns each into promtool unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field

RUNBOOKS = "https://github.com/eks-observability/eks-observability/blob/main/docs/runbooks.md"
NODE = 'instance="10.0.1.5:9100", job="node-exporter"'
GPU = 'gpu="0", Hostname="gpu-node-1", UUID="GPU-5f1e2d3c", modelName="NVIDIA A10G"'
HTTP = 'namespace="shop", service="api", method="GET", path="/orders", version="1.4.2"'


@dataclass
class Case:
    firing: list[tuple[str, str]]
    fires_at: str
    labels: dict[str, str]
    summary: str
    description: str
    healthy: list[tuple[str, str]]
    idle: list[tuple[str, str]] = field(default_factory=list)
    pending_at: str | None = None


CASES: dict[str, Case] = {
    "PlatformHighErrorRate": Case(
        firing=[(f'http_requests_total{{{HTTP}, status="200"}}', "0+540x20"), (f'http_requests_total{{{HTTP}, status="500"}}', "0+60x20")],
        pending_at="5m",
        fires_at="6m",
        labels={"namespace": "shop", "service": "api", "severity": "critical"},
        summary="api is failing requests",
        description="api in shop answered 10% of requests with 5xx over 5m (threshold 5%).",
        healthy=[(f'http_requests_total{{{HTTP}, status="200"}}', "0+594x20"), (f'http_requests_total{{{HTTP}, status="500"}}', "0+6x20")],
        idle=[(f'http_requests_total{{{HTTP}, status="200"}}', "0x20"), (f'http_requests_total{{{HTTP}, status="500"}}', "0x20")],
    ),
    "PlatformHighLatencyP99": Case(
        firing=[
            (f'http_request_duration_seconds_bucket{{{HTTP}, status="200", le="{le}"}}', v)
            for le, v in (("0.5", "0x30"), ("1", "0x30"), ("5", "0x30"), ("10", "0+600x30"), ("+Inf", "0+600x30"))
        ],
        pending_at="10m",
        fires_at="11m",
        labels={"namespace": "shop", "service": "api", "severity": "warning"},
        summary="api is slow",
        description="p99 latency of api in shop is 9.95s (threshold 5s).",
        healthy=[
            (f'http_request_duration_seconds_bucket{{{HTTP}, status="200", le="{le}"}}', "0+600x30")
            for le in ("0.5", "1", "5", "10", "+Inf")
        ],
        idle=[
            (f'http_request_duration_seconds_bucket{{{HTTP}, status="200", le="{le}"}}', "0x30")
            for le in ("0.5", "1", "5", "10", "+Inf")
        ],
    ),
    "NodeDown": Case(
        firing=[(f"up{{{NODE}}}", "0x20")],
        pending_at="4m",
        fires_at="5m",
        labels={"instance": "10.0.1.5:9100", "job": "node-exporter", "severity": "critical"},
        summary="Node 10.0.1.5:9100 is down",
        description="node-exporter on 10.0.1.5:9100 has been unreachable for 5m.",
        healthy=[(f"up{{{NODE}}}", "1x20")],
        idle=[('up{instance="10.0.1.5:10250", job="kubelet"}', "0x20")],
    ),
    "NodeNotReady": Case(
        firing=[('kube_node_status_condition{condition="Ready", status="true", node="ip-10-0-1-5", job="kube-state-metrics"}', "0x20")],
        pending_at="9m",
        fires_at="10m",
        labels={"condition": "Ready", "status": "true", "node": "ip-10-0-1-5", "job": "kube-state-metrics", "severity": "critical"},
        summary="Node ip-10-0-1-5 is not ready",
        description="Node ip-10-0-1-5 has not been Ready for 10m.",
        healthy=[('kube_node_status_condition{condition="Ready", status="true", node="ip-10-0-1-5", job="kube-state-metrics"}', "1x20")],
    ),
    "NodeCPUSaturated": Case(
        firing=[(f'node_cpu_seconds_total{{{NODE}, cpu="0", mode="idle"}}', "0+3x30")],
        pending_at="15m",
        fires_at="16m",
        labels={"instance": "10.0.1.5:9100", "severity": "warning"},
        summary="Node 10.0.1.5:9100 CPU is saturated",
        description="CPU on 10.0.1.5:9100 is 95% busy (threshold 90%).",
        healthy=[(f'node_cpu_seconds_total{{{NODE}, cpu="0", mode="idle"}}', "0+30x30")],
        idle=[(f'node_cpu_seconds_total{{{NODE}, cpu="0", mode="user"}}', "0+57x30")],
    ),
    "NodeMemorySaturated": Case(
        firing=[(f"node_memory_MemAvailable_bytes{{{NODE}}}", "500000000x30"), (f"node_memory_MemTotal_bytes{{{NODE}}}", "10000000000x30")],
        pending_at="14m",
        fires_at="15m",
        labels={"instance": "10.0.1.5:9100", "job": "node-exporter", "severity": "warning"},
        summary="Node 10.0.1.5:9100 memory is almost exhausted",
        description="Memory on 10.0.1.5:9100 is 95% used (threshold 90%).",
        healthy=[(f"node_memory_MemAvailable_bytes{{{NODE}}}", "5000000000x30"), (f"node_memory_MemTotal_bytes{{{NODE}}}", "10000000000x30")],
        idle=[(f"node_memory_MemTotal_bytes{{{NODE}}}", "10000000000x30")],
    ),
    "NodeDiskSpaceLow": Case(
        firing=[
            (f'node_filesystem_avail_bytes{{{NODE}, device="/dev/nvme0n1p1", fstype="xfs", mountpoint="/"}}', "1000000000x20"),
            (f'node_filesystem_size_bytes{{{NODE}, device="/dev/nvme0n1p1", fstype="xfs", mountpoint="/"}}', "10000000000x20"),
            (f'node_filesystem_readonly{{{NODE}, device="/dev/nvme0n1p1", fstype="xfs", mountpoint="/"}}', "0x20"),
        ],
        pending_at="9m",
        fires_at="10m",
        labels={
            "device": "/dev/nvme0n1p1",
            "fstype": "xfs",
            "mountpoint": "/",
            "instance": "10.0.1.5:9100",
            "job": "node-exporter",
            "severity": "warning",
        },
        summary="Disk / on 10.0.1.5:9100 is almost full",
        description="/ on 10.0.1.5:9100 has 10% space left (threshold 15%).",
        # A full tmpfs is not a full disk; the real disk is half empty.
        healthy=[
            (f'node_filesystem_avail_bytes{{{NODE}, device="/dev/nvme0n1p1", fstype="xfs", mountpoint="/"}}', "5000000000x20"),
            (f'node_filesystem_size_bytes{{{NODE}, device="/dev/nvme0n1p1", fstype="xfs", mountpoint="/"}}', "10000000000x20"),
            (f'node_filesystem_readonly{{{NODE}, device="/dev/nvme0n1p1", fstype="xfs", mountpoint="/"}}', "0x20"),
            (f'node_filesystem_avail_bytes{{{NODE}, device="tmpfs", fstype="tmpfs", mountpoint="/dev/shm"}}', "0x20"),
            (f'node_filesystem_size_bytes{{{NODE}, device="tmpfs", fstype="tmpfs", mountpoint="/dev/shm"}}', "1000000x20"),
            (f'node_filesystem_readonly{{{NODE}, device="tmpfs", fstype="tmpfs", mountpoint="/dev/shm"}}', "0x20"),
        ],
    ),
    "PodCrashLooping": Case(
        firing=[
            (
                'kube_pod_container_status_waiting_reason{namespace="shop", pod="api-7d9f", container="api", '
                'reason="CrashLoopBackOff", job="kube-state-metrics"}',
                "1x30",
            )
        ],
        pending_at="14m",
        fires_at="15m",
        labels={
            "namespace": "shop",
            "pod": "api-7d9f",
            "container": "api",
            "reason": "CrashLoopBackOff",
            "job": "kube-state-metrics",
            "severity": "warning",
        },
        summary="shop/api-7d9f is crash-looping",
        description="Container api of shop/api-7d9f has been in CrashLoopBackOff for 15m.",
        healthy=[
            (
                'kube_pod_container_status_waiting_reason{namespace="shop", pod="api-7d9f", container="api", '
                'reason="CrashLoopBackOff", job="kube-state-metrics"}',
                "0x30",
            )
        ],
    ),
    "PrometheusRuleEvaluationFailures": Case(
        firing=[('prometheus_rule_evaluation_failures_total{pod="prometheus-0", rule_group="/etc/rules.yaml;x", job="prometheus"}', "0+1x30")],
        pending_at="15m",
        fires_at="16m",
        labels={"pod": "prometheus-0", "rule_group": "/etc/rules.yaml;x", "job": "prometheus", "severity": "critical"},
        summary="Prometheus prometheus-0 fails to evaluate rules",
        description="prometheus-0 failed 5 rule evaluations in 5m: alerts may be missed.",
        healthy=[('prometheus_rule_evaluation_failures_total{pod="prometheus-0", rule_group="/etc/rules.yaml;x", job="prometheus"}', "0x30")],
    ),
    "PrometheusErrorSendingAlerts": Case(
        firing=[
            ('prometheus_notifications_errors_total{pod="prometheus-0", alertmanager="http://10.0.2.7:9093/api/v2/alerts"}', "0+1x30"),
            ('prometheus_notifications_sent_total{pod="prometheus-0", alertmanager="http://10.0.2.7:9093/api/v2/alerts"}', "0+10x30"),
        ],
        pending_at="15m",
        fires_at="16m",
        labels={"pod": "prometheus-0", "alertmanager": "http://10.0.2.7:9093/api/v2/alerts", "severity": "critical"},
        summary="Prometheus prometheus-0 cannot deliver alerts",
        description="10% of alerts from prometheus-0 to http://10.0.2.7:9093/api/v2/alerts fail.",
        healthy=[
            ('prometheus_notifications_errors_total{pod="prometheus-0", alertmanager="http://10.0.2.7:9093/api/v2/alerts"}', "0x30"),
            ('prometheus_notifications_sent_total{pod="prometheus-0", alertmanager="http://10.0.2.7:9093/api/v2/alerts"}', "0+10x30"),
        ],
        idle=[
            ('prometheus_notifications_errors_total{pod="prometheus-0", alertmanager="http://10.0.2.7:9093/api/v2/alerts"}', "0x30"),
            ('prometheus_notifications_sent_total{pod="prometheus-0", alertmanager="http://10.0.2.7:9093/api/v2/alerts"}', "0x30"),
        ],
    ),
    "AlertmanagerFailedToSendAlerts": Case(
        firing=[
            ('alertmanager_notifications_failed_total{integration="slack", pod="alertmanager-0", reason="other"}', "0+1x20"),
            ('alertmanager_notifications_total{integration="slack", pod="alertmanager-0"}', "0+10x20"),
        ],
        pending_at="5m",
        fires_at="6m",
        labels={"integration": "slack", "severity": "warning"},
        summary="Alertmanager cannot deliver to slack",
        description="10% of notifications to slack fail.",
        healthy=[
            ('alertmanager_notifications_failed_total{integration="slack", pod="alertmanager-0", reason="other"}', "0x20"),
            ('alertmanager_notifications_total{integration="slack", pod="alertmanager-0"}', "0+10x20"),
        ],
        idle=[
            ('alertmanager_notifications_failed_total{integration="slack", pod="alertmanager-0", reason="other"}', "0x20"),
            ('alertmanager_notifications_total{integration="slack", pod="alertmanager-0"}', "0x20"),
        ],
    ),
    "GPUTemperatureHigh": Case(
        firing=[(f"DCGM_FI_DEV_GPU_TEMP{{{GPU}}}", "90x20")],
        pending_at="4m",
        fires_at="5m",
        labels={"gpu": "0", "Hostname": "gpu-node-1", "UUID": "GPU-5f1e2d3c", "modelName": "NVIDIA A10G", "severity": "warning"},
        summary="GPU 0 on gpu-node-1 is hot",
        description="GPU 0 on gpu-node-1 is at 90°C (threshold 85°C).",
        healthy=[(f"DCGM_FI_DEV_GPU_TEMP{{{GPU}}}", "60x20")],
    ),
    "GPUMemoryAlmostFull": Case(
        firing=[(f"DCGM_FI_DEV_FB_USED{{{GPU}}}", "97x20"), (f"DCGM_FI_DEV_FB_FREE{{{GPU}}}", "3x20")],
        pending_at="9m",
        fires_at="10m",
        labels={"gpu": "0", "Hostname": "gpu-node-1", "UUID": "GPU-5f1e2d3c", "modelName": "NVIDIA A10G", "severity": "warning"},
        summary="GPU 0 on gpu-node-1 memory is almost full",
        description="GPU 0 on gpu-node-1 uses 97% of its framebuffer (threshold 95%).",
        healthy=[(f"DCGM_FI_DEV_FB_USED{{{GPU}}}", "50x20"), (f"DCGM_FI_DEV_FB_FREE{{{GPU}}}", "50x20")],
    ),
    "GPUXidError": Case(
        firing=[(f"DCGM_FI_DEV_XID_ERRORS{{{GPU}}}", "79x5")],
        fires_at="0m",
        labels={"gpu": "0", "Hostname": "gpu-node-1", "UUID": "GPU-5f1e2d3c", "modelName": "NVIDIA A10G", "severity": "critical"},
        summary="GPU 0 on gpu-node-1 reported an XID error",
        description="GPU 0 on gpu-node-1 reported XID 79; check the node's kernel log and drain it if the XID is fatal "
        "(48, 63, 64, 74, 79, 94, 95).",
        healthy=[(f"DCGM_FI_DEV_XID_ERRORS{{{GPU}}}", "0x5")],
    ),
}
