"""Fluent Bit as pure data: the pipeline (validated, rendered to classic config and parsed back) and the Helm values."""

from __future__ import annotations

import re
from typing import Any, Optional

from ..conventions import DAEMONSET_MAX_UNAVAILABLE, KUBERNETES_EVENTS_JOB, RESTRICTED_CONTAINER, SELECTOR_LABELS
from .config import FluentBitConfig

SERVICE_ACCOUNT = "fluent-bit"
METRICS_PORT = 2020

# A section is an ordered list of (key, value): Fluent Bit allows repeated keys and order matters.
Section = tuple[str, list[tuple[str, str]]]

# Plugins this program may emit; anything else is a typo that would only fail on the node.
KNOWN_PLUGINS = {
    "SERVICE": set(),
    "INPUT": {"tail", "systemd", "kubernetes_events"},
    "FILTER": {"kubernetes", "grep", "modify", "nest", "record_modifier", "parser", "multiline"},
    "OUTPUT": {"cloudwatch_logs", "loki"},
}
# Labels Loki indexes. Everything else stays in the log line: pod labels as Loki labels would
# create one stream per label combination.
LOKI_LABELS = (
    ("namespace", "$kubernetes['namespace_name']"),
    ("pod", "$kubernetes['pod_name']"),
    ("container", "$kubernetes['container_name']"),
    ("app", "$kubernetes['labels']['app.kubernetes.io/name']"),
)


STORAGE_PATH = "/var/fluent-bit/state/flb-storage"
# The log pipeline's own pods (Fluent Bit, its events collector, Loki and its gateway): their lines are not
# shipped with everyone else's (an outage would feed on itself); only their error lines are, tagged
# `pipeline.*`, so LogPipelineErrors (LogQL) can read them and CloudWatch keeps them while Loki is down.
PIPELINE_PODS = ("fluent-bit", "loki")
PIPELINE_TAG = "pipeline"
# Fluent Bit and nginx write `[error]`, Loki `level=error` (logfmt); the LogQL rule reads the same lines.
PIPELINE_ERROR_REGEX = r"(?i)(\[\s*error\s*\]|level=error)"

EVENTS_SERVICE_ACCOUNT = "fluent-bit-events"
EVENTS_TAG = "k8s_events"
EVENTS_STATE = "/var/fluent-bit/state"
# An event's Loki labels are bounded sets: the involved object's namespace and kind, the reason and the type.
# The object's name stays in the line (`| json | involvedObject_name=...`): as a label it would open a
# stream for every pod that ever had an event.
EVENT_LABELS = (
    ("job", KUBERNETES_EVENTS_JOB),
    ("namespace", "$involvedObject['namespace']"),
    ("kind", "$involvedObject['kind']"),
    ("reason", "$reason"),
    ("type", "$type"),
)
# The events collector needs nothing of the node: it runs as an unprivileged user.
EVENTS_USER = 65532


def _not_from(namespaces: list[str]) -> str:
    """Tags of every container log except those of these namespaces (`kube.var.log.containers.<pod>_<ns>_<container>-<id>.log`)."""
    if not namespaces:
        return r"^kube\..*$"
    return rf"^kube\.var\.log\.containers\.[^_]+_(?!(?:{'|'.join(namespaces)})_)[^_]+_.+$"


class FluentBitConfigError(ValueError):
    """A rendered Fluent Bit section is malformed or names an unknown plugin."""


def pipeline(
    cfg: FluentBitConfig, region: str, log_group: str, loki: Optional[tuple[str, int]], namespace: str = "logging"
) -> list[Section]:
    """The Fluent Bit pipeline as data: service, inputs, filters, outputs; `loki` is the gateway's (host, port).

    Chunks are buffered on the node's disk, per output: while Loki is down its chunks queue up to
    lokiBufferLimit and CloudWatch keeps receiving, and the other way round; retries never give up,
    so nothing is dropped until an output's buffer is full (then its oldest chunks go first).
    Fluent Bit's and Loki's own logs are not shipped with the rest (an outage would feed on itself), only
    their error lines: while Loki is down those queue in the same bounded buffer, and CloudWatch has them.
    """
    own = [f"/var/log/containers/{pod}-*_{namespace}_*.log" for pod in PIPELINE_PODS]
    excluded = ",".join([f"/var/log/containers/*_{ns}_*.log" for ns in cfg.exclude_namespaces] + own)
    tail = [
        ("Name", "tail"),
        ("Tag", "kube.*"),
        ("Path", "/var/log/containers/*.log"),
        ("Exclude_Path", excluded),
        ("multiline.parser", "docker, cri"),
        ("DB", "/var/log/flb_kube.db"),
        ("Mem_Buf_Limit", cfg.mem_buf_limit),
        ("storage.type", "filesystem"),
        # A JSON line or stack trace up to 1MB is kept whole (the runtime splits longer ones into
        # 16KB partial lines, which the cri parser joins); only lines over 1MB are skipped.
        ("Buffer_Chunk_Size", "64KB"),
        ("Buffer_Max_Size", "1MB"),
        ("Skip_Long_Lines", "On"),
        ("Refresh_Interval", "10"),
    ]
    pipeline_tail = [
        ("Name", "tail"),
        ("Tag", f"{PIPELINE_TAG}.*"),
        ("Path", ",".join(own)),
        ("multiline.parser", "docker, cri"),
        ("DB", "/var/log/flb_pipeline.db"),
        ("Mem_Buf_Limit", "5MB"),
        ("storage.type", "filesystem"),
        ("Skip_Long_Lines", "On"),
        ("Refresh_Interval", "10"),
    ]
    sections: list[Section] = [
        _service(STORAGE_PATH, "16MB"),
        ("INPUT", tail),
        ("INPUT", pipeline_tail),
        ("FILTER", [("Name", "grep"), ("Match", f"{PIPELINE_TAG}.*"), ("Regex", f"log {PIPELINE_ERROR_REGEX}")]),
        (
            "FILTER",
            [
                ("Name", "kubernetes"),
                ("Match", "kube.*"),
                ("Kube_URL", "https://kubernetes.default.svc:443"),
                ("Merge_Log", "On"),
                ("Keep_Log", "Off"),
                ("K8S-Logging.Parser", "On"),
                ("K8S-Logging.Exclude", "On"),
                ("Annotations", "Off"),
            ],
        ),
        (
            "FILTER",
            [
                ("Name", "kubernetes"),
                ("Match", f"{PIPELINE_TAG}.*"),
                ("Kube_URL", "https://kubernetes.default.svc:443"),
                ("Kube_Tag_Prefix", f"{PIPELINE_TAG}.var.log.containers."),
                ("Merge_Log", "Off"),
                ("Annotations", "Off"),
            ],
        ),
        (
            "OUTPUT",
            [
                ("Name", "cloudwatch_logs"),
                ("Match_Regex", rf"^(kube|{PIPELINE_TAG})\..*$"),
                ("region", region),
                ("log_group_name", log_group),
                # The group is created by the program with its retention; the agent never creates one.
                ("auto_create_group", "Off"),
                ("log_stream_template", "$kubernetes['namespace_name'].$kubernetes['pod_name']"),
                ("log_stream_prefix", "pod-"),
                ("Retry_Limit", "no_limits"),
                ("storage.total_limit_size", cfg.cloudwatch_buffer_limit),
            ],
        ),
    ]
    if loki:
        sections.append(
            (
                "OUTPUT",
                [
                    ("Name", "loki"),
                    ("Match_Regex", f"{_not_from(cfg.cloudwatch_only_namespaces)}|^{PIPELINE_TAG}\\..*$"),
                    ("Host", loki[0]),
                    ("Port", str(loki[1])),
                    ("Labels", ", ".join(f"{k}={v}" for k, v in LOKI_LABELS)),
                    ("Auto_Kubernetes_Labels", "Off"),
                    ("Line_Format", "json"),
                    ("Retry_Limit", "no_limits"),
                    ("storage.total_limit_size", cfg.loki_buffer_limit),
                ],
            )
        )
    return sections


def _service(storage: str, backlog: str) -> Section:
    return (
        "SERVICE",
        [
            ("Daemon", "Off"),
            ("Flush", "1"),
            ("Log_Level", "info"),
            ("Parsers_File", "/fluent-bit/etc/parsers.conf"),
            ("HTTP_Server", "On"),
            ("HTTP_Listen", "0.0.0.0"),
            ("HTTP_Port", str(METRICS_PORT)),
            ("Health_Check", "On"),
            ("storage.path", f"{storage}/"),
            ("storage.sync", "normal"),
            ("storage.checksum", "Off"),
            ("storage.backlog.mem_limit", backlog),
            ("storage.metrics", "On"),
        ],
    )


def events_pipeline(cfg: FluentBitConfig, loki: tuple[str, int]) -> list[Section]:
    """Every namespace's Kubernetes events (evictions, OOM kills, failed scheduling, image pulls, Rollout
    aborts) to Loki, from one collector: a watch of the API server, not one per node, so each event is
    sent once. The records are the Event objects as the API serves them, one JSON line each."""
    return [
        _service(f"{EVENTS_STATE}/flb-storage", "8MB"),
        (
            "INPUT",
            [
                ("Name", "kubernetes_events"),
                ("Tag", EVENTS_TAG),
                ("Kube_URL", "https://kubernetes.default.svc:443"),
                # Remembers the last event sent, so a restarted collector does not send the last hour again.
                ("DB", f"{EVENTS_STATE}/events.db"),
                ("Kube_Retention_Time", "1h"),
                ("storage.type", "filesystem"),
            ],
        ),
        (
            "OUTPUT",
            [
                ("Name", "loki"),
                ("Match", EVENTS_TAG),
                ("Host", loki[0]),
                ("Port", str(loki[1])),
                ("Labels", ", ".join(f"{k}={v}" for k, v in EVENT_LABELS)),
                ("Auto_Kubernetes_Labels", "Off"),
                ("Line_Format", "json"),
                ("Retry_Limit", "no_limits"),
                ("storage.total_limit_size", cfg.events.buffer_limit),
            ],
        ),
    ]


def validate(sections: list[Section]) -> None:
    for index, (kind, entries) in enumerate(sections):
        where = f"section {index} [{kind}]"
        if kind not in KNOWN_PLUGINS:
            raise FluentBitConfigError(f"{where}: unknown section type; expected one of {sorted(KNOWN_PLUGINS)}")
        keys = [k for k, _ in entries]
        for key, value in entries:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
                raise FluentBitConfigError(f"{where}: malformed key {key!r}")
            if not str(value).strip() or "\n" in str(value):
                raise FluentBitConfigError(f"{where}: key {key!r} has an empty or multi-line value")
        if kind == "SERVICE":
            continue
        name = dict(entries).get("Name")
        if name not in KNOWN_PLUGINS[kind]:
            raise FluentBitConfigError(f"{where}: unknown {kind.lower()} plugin {name!r}; known: {sorted(KNOWN_PLUGINS[kind])}")
        if kind in ("FILTER", "OUTPUT") and "Match" not in keys and "Match_Regex" not in keys:
            raise FluentBitConfigError(f"{where}: {name} has no Match")


def render_sections(sections: list[Section]) -> str:
    """Classic-mode Fluent Bit configuration text (validated first)."""
    validate(sections)
    blocks = []
    for kind, entries in sections:
        width = max(len(k) for k, _ in entries)
        blocks.append("\n".join([f"[{kind}]"] + [f"    {k.ljust(width)} {v}" for k, v in entries]))
    return "\n\n".join(blocks) + "\n"


def parse_sections(text: str) -> list[Section]:
    """Parse classic-mode configuration back into sections; raises on anything malformed."""
    sections: list[Section] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        header = re.fullmatch(r"\[([A-Z]+)\]", line.strip())
        if header:
            sections.append((header.group(1), []))
            continue
        entry = re.fullmatch(r"\s+(\S+)\s+(.+?)\s*", line)
        if not entry or not sections:
            raise FluentBitConfigError(f"line {number}: expected '[SECTION]' or an indented 'Key Value': {line!r}")
        sections[-1][1].append((entry.group(1), entry.group(2)))
    validate(sections)
    return sections


def fluent_bit_values(cfg: FluentBitConfig, sections: list[Section], prometheus_operator: bool = True) -> dict[str, Any]:
    values: dict[str, Any] = {
        "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
        # The filesystem buffer lives on the node, so it survives a Fluent Bit restart.
        "extraVolumes": [{"name": "flb-storage", "hostPath": {"path": STORAGE_PATH, "type": "DirectoryOrCreate"}}],
        "extraVolumeMounts": [{"name": "flb-storage", "mountPath": STORAGE_PATH}],
        "config": _config(sections),
        "resources": cfg.resources.as_k8s(),
        # A log agent must run on every node, GPU and otherwise-tainted ones included.
        "tolerations": [{"operator": "Exists"}],
        "serviceMonitor": {"enabled": prometheus_operator, "selector": dict(SELECTOR_LABELS)},
        "priorityClassName": "system-node-critical",
        # Root (uid 0) only to open the node's root-owned 0640 log files as their owner; with every
        # capability dropped it cannot override file permissions, escalate, or write its own image.
        "securityContext": dict(RESTRICTED_CONTAINER),
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": DAEMONSET_MAX_UNAVAILABLE}},
        # The chart's `helm test` pod (busybox:latest as root) is never run by this program.
        "testFramework": {"enabled": False},
    }
    # No PodDisruptionBudget: node drains do not evict DaemonSet pods, so one would protect nothing.
    return values


def _config(sections: list[Section]) -> dict[str, str]:
    by_kind = {kind: [s for s in sections if s[0] == kind] for kind in ("SERVICE", "INPUT", "FILTER", "OUTPUT")}
    return {key: render_sections(by_kind[kind]) if by_kind[kind] else "" for key, kind in _CONFIG_KEYS}


_CONFIG_KEYS = (("service", "SERVICE"), ("inputs", "INPUT"), ("filters", "FILTER"), ("outputs", "OUTPUT"))


def events_values(cfg: FluentBitConfig, sections: list[Section], prometheus_operator: bool = True) -> dict[str, Any]:
    """The same chart as one Deployment: no host paths, no root, the Pod Security `restricted` profile.
    RBAC is the program's (events only); the chart's ClusterRole would add pods and namespaces."""
    return {
        "kind": "Deployment",
        "replicaCount": 1,
        "serviceAccount": {"create": False, "name": EVENTS_SERVICE_ACCOUNT},
        "rbac": {"create": False},
        # The chart's log-file volumes are the DaemonSet's only; the state (buffer, last event) is the pod's.
        "extraVolumes": [{"name": "state", "emptyDir": {}}],
        "extraVolumeMounts": [{"name": "state", "mountPath": EVENTS_STATE}],
        "config": _config(sections),
        "resources": cfg.events.resources.as_k8s(),
        "podSecurityContext": {"runAsNonRoot": True, "runAsUser": EVENTS_USER, "runAsGroup": EVENTS_USER, "fsGroup": EVENTS_USER},
        "securityContext": dict(RESTRICTED_CONTAINER),
        "serviceMonitor": {"enabled": prometheus_operator, "selector": dict(SELECTOR_LABELS)},
        "testFramework": {"enabled": False},
    }
