"""One unit-test case per platform alert: series that breach, when the alert fires, what it says,
and series that stay healthy. `test_rules.py` turns each into promtool unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field

RUNBOOKS = "https://wiki.example.com/platform/runbooks"  # the prod fixture's alerting.runbookBaseUrl
NODE = 'instance="10.0.1.5:9100", job="node-exporter"'
GPU = 'gpu="0", Hostname="gpu-node-1", UUID="GPU-5f1e2d3c", modelName="NVIDIA A10G"'
# The same GPU allocated to a pod: the exporter's workload labels, as the ServiceMonitor's relabelings store them.
GPU_POD = f'{GPU}, namespace="ml", pod="trainer-0", container="trainer"'
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


LOKI_UP = 'up{job="loki", namespace="logging", pod="loki-ingester-0"}'
LOKI_TRUNCATED = 'loki_mutated_samples_total{job="loki", namespace="logging", pod="loki-ingester-0", reason="line_too_long", tenant="fake"}'

CASES: dict[str, Case] = {
    "PlatformHighErrorRate": Case(
        firing=[(f'http_requests_total{{{HTTP}, status="200"}}', "0+540x20"), (f'http_requests_total{{{HTTP}, status="500"}}', "0+60x20")],
        pending_at="5m",
        fires_at="6m",
        labels={"namespace": "shop", "service": "api", "severity": "critical"},
        summary="api is failing requests",
        description="api in shop answered 10% of requests with 5xx over 5m (threshold 5%, with at least 5 requests a minute).",
        healthy=[(f'http_requests_total{{{HTTP}, status="200"}}', "0+594x20"), (f'http_requests_total{{{HTTP}, status="500"}}', "0+6x20")],
        # A trickle: every request fails, but 2 a minute is below the paging floor.
        idle=[(f'http_requests_total{{{HTTP}, status="500"}}', "0+2x20")],
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
            (f'http_request_duration_seconds_bucket{{{HTTP}, status="200", le="{le}"}}', "0x30") for le in ("0.5", "1", "5", "10", "+Inf")
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
        description="/ on 10.0.1.5:9100 has 10% space left (threshold 15%; the chart's NodeFilesystemAlmostOutOfSpace follows at 5%).",
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
    "MetricContractViolation": Case(
        firing=[('metric_contract_violation{namespace="shop", service="api", pod="api-1", forbidden_label="user_id"}', "1x20")],
        pending_at="4m",
        fires_at="5m",
        labels={"namespace": "shop", "service": "api", "forbidden_label": "user_id", "severity": "warning"},
        summary="api exposes the forbidden label user_id",
        description="api in shop labels its request metrics with user_id. Those samples are set aside instead of being "
        "merged (merging would silently undercount), so its request rates, SLOs and canary analysis see no data until "
        "the label is removed.",
        healthy=[(f'http_requests_total{{{HTTP}, status="200"}}', "0+600x20")],
    ),
    "RolloutDegraded": Case(
        firing=[('rollout_info{namespace="shop", name="api", phase="Degraded", strategy="canary"}', "1x10")],
        pending_at="30s",
        fires_at="1m",
        labels={"namespace": "shop", "name": "api", "severity": "warning"},
        summary="Rollout shop/api is degraded (aborted or failed)",
        description="Rollout shop/api is Degraded: a canary was aborted or its pods cannot become ready. Stable still "
        "serves; the release needs a decision.",
        healthy=[('rollout_info{namespace="shop", name="api", phase="Healthy", strategy="canary"}', "1x10")],
    ),
    "RolloutPausedTooLong": Case(
        firing=[('rollout_info{namespace="shop", name="api", phase="Paused", strategy="canary"}', "1x70")],
        pending_at="59m",
        fires_at="1h",
        labels={"namespace": "shop", "name": "api", "severity": "warning"},
        summary="Rollout shop/api has been paused for 1h",
        description="Rollout shop/api has waited for a human for 1h (inconclusive analysis or a manual pause step): promote or abort it.",
        healthy=[('rollout_info{namespace="shop", name="api", phase="Progressing", strategy="canary"}', "1x70")],
    ),
    "AnalysisRunErrored": Case(
        firing=[('analysis_run_info{namespace="shop", name="api-7f9c-2", phase="Error"}', "1x5")],
        fires_at="1m",
        labels={"namespace": "shop", "name": "api-7f9c-2", "phase": "Error", "severity": "warning"},
        summary="AnalysisRun shop/api-7f9c-2 ended Error",
        description="The canary analysis shop/api-7f9c-2 could not judge the release (Error: Prometheus unreachable or "
        "the query failed) or judged it bad (Failed).",
        healthy=[('analysis_run_info{namespace="shop", name="api-7f9c-2", phase="Successful"}', "1x5")],
    ),
    "FluentBitDroppingRecords": Case(
        firing=[('fluentbit_output_dropped_records_total{namespace="logging", pod="fluent-bit-x", name="loki.1"}', "0+60x20")],
        pending_at="5m",
        fires_at="6m",
        labels={"namespace": "logging", "pod": "fluent-bit-x", "name": "loki.1", "severity": "warning"},
        summary="Fluent Bit fluent-bit-x drops records for output loki.1",
        description="Fluent Bit on fluent-bit-x drops 1 records/s for loki.1: those log lines are lost.",
        healthy=[('fluentbit_output_dropped_records_total{namespace="logging", pod="fluent-bit-x", name="loki.1"}', "0x20")],
    ),
    "FluentBitRetriesFailing": Case(
        firing=[('fluentbit_output_retries_failed_total{namespace="logging", pod="fluent-bit-x", name="cloudwatch_logs.0"}', "0+60x20")],
        pending_at="5m",
        fires_at="6m",
        labels={"namespace": "logging", "pod": "fluent-bit-x", "name": "cloudwatch_logs.0", "severity": "warning"},
        summary="Fluent Bit fluent-bit-x gives up retrying output cloudwatch_logs.0",
        description="Fluent Bit on fluent-bit-x exhausts its retries for cloudwatch_logs.0 (1 chunks/s): the destination "
        "is down or throttling.",
        healthy=[('fluentbit_output_retries_failed_total{namespace="logging", pod="fluent-bit-x", name="cloudwatch_logs.0"}', "0x20")],
    ),
    "LokiDiscardingSamples": Case(
        firing=[
            ('loki_discarded_samples_total{namespace="logging", pod="loki-write-0", reason="rate_limited", tenant="fake"}', "0+600x20")
        ],
        pending_at="5m",
        fires_at="6m",
        labels={"namespace": "logging", "reason": "rate_limited", "severity": "warning"},
        summary="Loki discards log lines (rate_limited)",
        description="Loki in logging rejects 10 lines/s for rate_limited (rate limit, stream limit, too old or too long): "
        "raise loki limits or find the noisy stream.",
        healthy=[('loki_discarded_samples_total{namespace="logging", pod="loki-write-0", reason="rate_limited", tenant="fake"}', "5x20")],
    ),
    # The series appears at Loki's first cut with value 1 (as a client library creates it), from a pod
    # Prometheus has scraped for over an hour; healthy: the same count, unchanged for more than an hour.
    "LokiTruncatingLongLines": Case(
        firing=[(LOKI_UP, "1x90"), (f"{LOKI_TRUNCATED}", "_x65 1x25")],
        fires_at="65m",
        labels={"namespace": "logging", "severity": "warning"},
        summary="Loki cut 1 log lines at loki.maxLineSize in the last hour",
        description="Loki in logging kept the first loki.maxLineSize bytes of 1 lines (the rest is in CloudWatch up to its "
        "event limit): raise loki.maxLineSize or log less per line.",
        healthy=[(LOKI_UP, "1x90"), (f"{LOKI_TRUNCATED}", "3x90")],
        idle=[(LOKI_UP, "1x90")],
    ),
    "GPUXidErrorFatal": Case(
        firing=[(f'DCGM_EXP_XID_ERRORS_COUNT{{{GPU}, xid="79"}}', "1x5")],
        fires_at="0m",
        labels={
            "gpu": "0",
            "Hostname": "gpu-node-1",
            "UUID": "GPU-5f1e2d3c",
            "modelName": "NVIDIA A10G",
            "xid": "79",
            "severity": "critical",
        },
        summary="GPU 0 on gpu-node-1 reported fatal XID 79",
        description="GPU 0 on gpu-node-1 reported XID 79 1 times in the exporter's window: drain the node and have the instance replaced.",
        # An application-caused XID (13) is not fatal; after the window the count is back to 0.
        healthy=[(f'DCGM_EXP_XID_ERRORS_COUNT{{{GPU}, xid="13"}}', "1x5"), (f'DCGM_EXP_XID_ERRORS_COUNT{{{GPU}, xid="79"}}', "0x5")],
    ),
    "GPUXidError": Case(
        firing=[(f'DCGM_EXP_XID_ERRORS_COUNT{{{GPU}, xid="13"}}', "2x5")],
        fires_at="0m",
        labels={
            "gpu": "0",
            "Hostname": "gpu-node-1",
            "UUID": "GPU-5f1e2d3c",
            "modelName": "NVIDIA A10G",
            "xid": "13",
            "severity": "warning",
        },
        summary="GPU 0 on gpu-node-1 reported XID 13",
        description="GPU 0 on gpu-node-1 reported XID 13 2 times in the exporter's window; usually an application fault "
        "(bad kernel, out-of-memory): check the pod on that GPU.",
        healthy=[(f'DCGM_EXP_XID_ERRORS_COUNT{{{GPU}, xid="79"}}', "1x5"), (f'DCGM_EXP_XID_ERRORS_COUNT{{{GPU}, xid="13"}}', "0x5")],
    ),
    "GPUAllocatedIdle": Case(
        firing=[(f"DCGM_FI_DEV_GPU_UTIL{{{GPU_POD}}}", "0x70")],
        pending_at="59m",
        fires_at="60m",
        labels={
            "gpu": "0",
            "Hostname": "gpu-node-1",
            "UUID": "GPU-5f1e2d3c",
            "modelName": "NVIDIA A10G",
            "namespace": "ml",
            "pod": "trainer-0",
            "container": "trainer",
            "severity": "warning",
        },
        summary="GPU 0 on gpu-node-1 is allocated to ml/trainer-0 and idle",
        description="ml/trainer-0 (container trainer) holds GPU 0 on gpu-node-1 and has not used it for 1h: scale it "
        "down or delete it so the GPU can be scheduled to work that uses it.",
        # One busy sample half an hour in restarts the hour.
        healthy=[(f"DCGM_FI_DEV_GPU_UTIL{{{GPU_POD}}}", "0x29 3 0x40")],
        # A free GPU at 0% is not waste held by anyone.
        idle=[(f"DCGM_FI_DEV_GPU_UTIL{{{GPU}}}", "0x70")],
    ),
    "GPUNodeWithoutExporter": Case(
        firing=[
            ('kube_node_status_capacity{node="gpu-node-1", resource="nvidia_com_gpu", unit="integer"}', "1x20"),
            ('up{job="dcgm-exporter", node="gpu-node-2"}', "1x20"),
        ],
        pending_at="14m",
        fires_at="15m",
        labels={"node": "gpu-node-1", "resource": "nvidia_com_gpu", "unit": "integer", "severity": "warning"},
        summary="GPU node gpu-node-1 has no running DCGM exporter",
        description="gpu-node-1 offers GPUs but no DCGM exporter on it has been scraped for 15m: its GPU alerts are "
        "blind. Check dcgmExporter node affinity and tolerations against the node's labels and taints.",
        healthy=[
            ('kube_node_status_capacity{node="gpu-node-1", resource="nvidia_com_gpu", unit="integer"}', "1x20"),
            ('up{job="dcgm-exporter", node="gpu-node-1"}', "1x20"),
        ],
    ),
}
