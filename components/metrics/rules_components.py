"""Platform alerts on the platform's own parts: GPUs, Argo Rollouts, the log pipeline, the metric contract."""

from __future__ import annotations

from ..conventions import CONTRACT_VIOLATION_LABEL, CONTRACT_VIOLATION_METRIC
from ..lib.alerts import AlertRule
from .config import AlertingConfig

# XIDs NVIDIA documents as needing a node drain or reset (ECC double-bit, row remapping, NVLink,
# fallen off the bus, contained/uncontained ECC); anything else is usually an application fault.
FATAL_XIDS = (48, 63, 64, 74, 79, 94, 95)
GPU_LABELS = "{{ $labels.gpu }} on {{ $labels.Hostname }}"
WORKLOAD = "{{ $labels.namespace }}/{{ $labels.pod }}"

_TRUNCATED = 'loki_mutated_samples_total{reason="line_too_long"}'


def gpu_rules(alerting: AlertingConfig) -> list[AlertRule]:
    t = alerting.thresholds
    fatal = "|".join(str(x) for x in FATAL_XIDS)
    xid = "DCGM_EXP_XID_ERRORS_COUNT"
    return [
        AlertRule(
            alert="GPUTemperatureHigh",
            expr=f"DCGM_FI_DEV_GPU_TEMP > {t.gpu_temperature_celsius:g}",
            for_=t.gpu_temperature_for,
            severity="warning",
            summary=f"GPU {GPU_LABELS} is hot",
            description=f"GPU {GPU_LABELS} is at {{{{ $value }}}}°C (threshold {t.gpu_temperature_celsius:g}°C).",
        ),
        AlertRule(
            alert="GPUMemoryAlmostFull",
            expr=f"DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > {t.gpu_memory_ratio:g}",
            for_=t.gpu_memory_for,
            severity="warning",
            summary=f"GPU {GPU_LABELS} memory is almost full",
            description=f"GPU {GPU_LABELS} uses {{{{ $value | humanizePercentage }}}} of its framebuffer "
            f"(threshold {t.gpu_memory_ratio:.0%}).",
        ),
        # The exporter's windowed counter, one series per XID: it returns to 0 once the window
        # passes, so the alert resolves and the next XID fires again (the last-value gauge never did).
        AlertRule(
            alert="GPUXidErrorFatal",
            expr=f'{xid}{{xid=~"{fatal}"}} > 0',
            for_="0s",
            severity="critical",
            summary=f"GPU {GPU_LABELS} reported fatal XID {{{{ $labels.xid }}}}",
            description=f"GPU {GPU_LABELS} reported XID {{{{ $labels.xid }}}} {{{{ $value }}}} times in the exporter's "
            "window: drain the node and have the instance replaced.",
        ),
        AlertRule(
            alert="GPUXidError",
            expr=f'{xid}{{xid!~"{fatal}"}} > 0',
            for_="0s",
            severity="warning",
            summary=f"GPU {GPU_LABELS} reported XID {{{{ $labels.xid }}}}",
            description=f"GPU {GPU_LABELS} reported XID {{{{ $labels.xid }}}} {{{{ $value }}}} times in the exporter's "
            "window; usually an application fault (bad kernel, out-of-memory): check the pod on that GPU.",
        ),
        # `pod` is on a DCGM series only while the GPU is allocated (the exporter's relabelings): a pod
        # that ends takes its series, and a GPU given to another pod starts a new one, so `for` counts
        # one allocation's idleness. Any non-zero sample resets it.
        AlertRule(
            alert="GPUAllocatedIdle",
            expr='DCGM_FI_DEV_GPU_UTIL{pod!=""} == 0',
            for_=t.gpu_idle_for,
            severity="warning",
            summary=f"GPU {GPU_LABELS} is allocated to {WORKLOAD} and idle",
            description=f"{WORKLOAD} (container {{{{ $labels.container }}}}) holds GPU {GPU_LABELS} and has not used it "
            f"for {t.gpu_idle_for}: scale it down or delete it so the GPU can be scheduled to work that uses it.",
        ),
        AlertRule(
            alert="GPUNodeWithoutExporter",
            expr='kube_node_status_capacity{resource="nvidia_com_gpu"} > 0\nunless on (node)\n(up{job="dcgm-exporter"} == 1)',
            for_="15m",
            severity="warning",
            summary="GPU node {{ $labels.node }} has no running DCGM exporter",
            description="{{ $labels.node }} offers GPUs but no DCGM exporter on it has been scraped for 15m: its GPU "
            "alerts are blind. Check dcgmExporter node affinity and tolerations against the node's labels and taints.",
        ),
    ]


def rollout_rules(alerting: AlertingConfig) -> list[AlertRule]:
    t = alerting.thresholds
    rollout = "{{ $labels.namespace }}/{{ $labels.name }}"
    return [
        AlertRule(
            alert="RolloutDegraded",
            expr='max by (namespace, name) (rollout_info{phase="Degraded"}) == 1',
            for_="1m",
            severity="warning",
            summary=f"Rollout {rollout} is degraded (aborted or failed)",
            description=f"Rollout {rollout} is Degraded: a canary was aborted or its pods cannot become ready. "
            "Stable still serves; the release needs a decision.",
        ),
        AlertRule(
            alert="RolloutPausedTooLong",
            expr='max by (namespace, name) (rollout_info{phase="Paused"}) == 1',
            for_=t.rollout_paused_for,
            severity="warning",
            summary=f"Rollout {rollout} has been paused for {t.rollout_paused_for}",
            description=f"Rollout {rollout} has waited for a human for {t.rollout_paused_for} (inconclusive analysis "
            "or a manual pause step): promote or abort it.",
        ),
        AlertRule(
            alert="AnalysisRunErrored",
            expr='max by (namespace, name, phase) (analysis_run_info{phase=~"Error|Failed"}) == 1',
            for_="0s",
            severity="warning",
            summary="AnalysisRun {{ $labels.namespace }}/{{ $labels.name }} ended {{ $labels.phase }}",
            description="The canary analysis {{ $labels.namespace }}/{{ $labels.name }} could not judge the release "
            "(Error: Prometheus unreachable or the query failed) or judged it bad (Failed).",
        ),
    ]


def logging_rules() -> list[AlertRule]:
    return [
        AlertRule(
            alert="FluentBitDroppingRecords",
            expr="sum by (namespace, pod, name) (rate(fluentbit_output_dropped_records_total[5m])) > 0",
            for_="5m",
            severity="warning",
            summary="Fluent Bit {{ $labels.pod }} drops records for output {{ $labels.name }}",
            description="Fluent Bit on {{ $labels.pod }} drops {{ $value | humanize }} records/s for {{ $labels.name }}: "
            "those log lines are lost.",
        ),
        AlertRule(
            alert="FluentBitRetriesFailing",
            expr="sum by (namespace, pod, name) (rate(fluentbit_output_retries_failed_total[5m])) > 0",
            for_="5m",
            severity="warning",
            summary="Fluent Bit {{ $labels.pod }} gives up retrying output {{ $labels.name }}",
            description="Fluent Bit on {{ $labels.pod }} exhausts its retries for {{ $labels.name }} "
            "({{ $value | humanize }} chunks/s): the destination is down or throttling.",
        ),
        AlertRule(
            alert="LokiDiscardingSamples",
            expr="sum by (namespace, reason) (rate(loki_discarded_samples_total[5m])) > 0",
            for_="5m",
            severity="warning",
            summary="Loki discards log lines ({{ $labels.reason }})",
            description="Loki in {{ $labels.namespace }} rejects {{ $value | humanize }} lines/s for {{ $labels.reason }} "
            "(rate limit, stream limit, too old or too long): raise loki limits or find the noisy stream.",
        ),
        AlertRule(
            alert="LokiTruncatingLongLines",
            # Loki creates the series at its first cut, with value 1: increase() cannot see that first
            # cut, so a series absent an hour ago from a pod scraped then counts too.
            expr=f"sum by (namespace) (increase({_TRUNCATED}[1h])) > 0 or "
            f"sum by (namespace) (({_TRUNCATED} unless {_TRUNCATED} offset 1h) and on (namespace, pod) (up offset 1h))",
            for_="0m",
            severity="warning",
            summary="Loki cut {{ $value | humanize }} log lines at loki.maxLineSize in the last hour",
            description="Loki in {{ $labels.namespace }} kept the first loki.maxLineSize bytes of {{ $value | humanize }} "
            "lines (the rest is in CloudWatch up to its event limit): raise loki.maxLineSize or log less per line.",
        ),
    ]


def contract_rules() -> list[AlertRule]:
    return [
        AlertRule(
            alert="MetricContractViolation",
            expr=f"count by (namespace, service, {CONTRACT_VIOLATION_LABEL}) ({CONTRACT_VIOLATION_METRIC}) > 0",
            for_="5m",
            severity="warning",
            summary="{{ $labels.service }} exposes the forbidden label {{ $labels." + CONTRACT_VIOLATION_LABEL + " }}",
            description="{{ $labels.service }} in {{ $labels.namespace }} labels its request metrics with "
            "{{ $labels." + CONTRACT_VIOLATION_LABEL + " }}. Those samples are set aside instead of being merged "
            "(merging would silently undercount), so its request rates, SLOs and canary analysis see no data "
            "until the label is removed.",
        ),
    ]
