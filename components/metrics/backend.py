"""Where metrics live past one Prometheus: the `prometheusStack.backend` section and its pure parts.

`prometheus` (the default) keeps everything in the cluster's Prometheus. `amp` remote-writes every
sample, recorded series included, to Amazon Managed Service for Prometheus, and Grafana and the
canary analysis read it there with SigV4. `thanos` uploads each replica's blocks to S3 through a
sidecar and serves them with a store gateway, compactor and querier, in the cluster.

Rules and Alertmanager stay in the cluster in every mode, for three reasons: tiled SLO windows
cost a few milliseconds per service (docs/rule-cost.md), so one Prometheus evaluates hundreds of
services' rules; AMP's alert manager delivers only to SNS, so the Slack and PagerDuty receivers,
inhibitions and the heartbeat would be lost; and local evaluation keeps pages independent of the
remote-write path, whose backlog would otherwise delay them. The rules and queries are the same
text whichever backend stores the samples.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Literal, Optional

from pydantic import Field, field_validator

from ..conventions import (
    EXEMPLAR_TRACE_LABEL,
    IRSA_ROLE_ANNOTATION,
    LOKI_DATASOURCE_UID,
    MANAGED_BY_LABELS,
    PROMETHEUS_DATASOURCE_UID,
    PROMETHEUS_RELEASE,
)
from ..lib.types import Duration, Model, Quantity

# The service account kube-prometheus-stack gives Prometheus (and so the Thanos sidecar).
PROMETHEUS_SERVICE_ACCOUNT = f"{PROMETHEUS_RELEASE}-prometheus"
THANOS_OBJSTORE_SECRET = "thanos-objstore"
# Each also names the service account its IRSA role trusts.
THANOS_STORE = "thanos-store"
THANOS_COMPACT = "thanos-compact"
THANOS_OBJSTORE_KEY = "objstore.yml"
THANOS_GRPC_PORT = 10901
THANOS_HTTP_PORT = 10902
THANOS_QUERY_PORT = 9090
# HA replicas of one Prometheus differ only in this label; AMP deduplicates on `__replica__`,
# the Thanos querier on the operator's `prometheus_replica`.
AMP_REPLICA_LABEL = "__replica__"
THANOS_REPLICA_LABEL = "prometheus_replica"
_AMP_WORKSPACE_ARN_RE = re.compile(r"^arn:aws(?:-cn|-us-gov)?:aps:([a-z0-9-]+):(\d{12}):workspace/(ws-[0-9a-f-]+)$")


class RemoteWriteQueue(Model):
    capacity: int = Field(10000, ge=100, le=1000000, description="Samples buffered per shard.")
    max_shards: int = Field(50, ge=1, le=1000, description="Most parallel senders; raise when remote write falls behind.")
    max_samples_per_send: int = Field(2000, ge=100, le=100000, description="Samples per request.")
    batch_send_deadline: Duration = Field("5s", description="Longest a sample waits for its batch to fill.")


class AmpConfig(Model):
    workspace_arn: Optional[str] = Field(None, description="An existing workspace to write to; empty creates one (protected in prod).")
    alias: Optional[str] = Field(None, description="Alias of the created workspace; empty uses `<cluster>-metrics`.")
    queue: RemoteWriteQueue = Field(default_factory=RemoteWriteQueue, description="Remote-write queue sizing.")

    @field_validator("workspace_arn")
    @classmethod
    def _arn(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _AMP_WORKSPACE_ARN_RE.match(value):
            raise ValueError(
                "must be an AMP workspace ARN such as arn:aws:aps:eu-west-1:111122223333:workspace/ws-0123abcd-4567-89ef-0123-456789abcdef"
            )
        return value

    def workspace_region(self) -> Optional[str]:
        match = _AMP_WORKSPACE_ARN_RE.match(self.workspace_arn or "")
        return match.group(1) if match else None


class ThanosConfig(Model):
    image: str = Field(
        "quay.io/thanos/thanos:v0.36.1", description="Thanos image for the store gateway, compactor and querier (the sidecar too)."
    )
    bucket_name: Optional[str] = Field(None, description="Explicit bucket name; empty lets Pulumi name it.")
    retention_raw: Duration = Field("30d", description="Compactor: raw samples kept this long.")
    retention_5m: Duration = Field("90d", description="Compactor: 5-minute downsampled data kept this long.")
    retention_1h: Duration = Field("1y", description="Compactor: 1-hour downsampled data kept this long.")
    query_replicas: int = Field(1, ge=1, le=10, description="Querier replicas (2 in prod).")
    store_replicas: int = Field(1, ge=1, le=10, description="Store gateway replicas (2 in prod).")
    compactor_storage_size: Quantity = Field("50Gi", description="Compactor scratch volume: at least the largest 2 weeks of blocks.")
    store_storage_size: Quantity = Field("20Gi", description="Store gateway index-header cache volume per replica.")


class MetricsBackendConfig(Model):
    mode: Literal["prometheus", "amp", "thanos"] = Field(
        "prometheus", description="Where samples live past the cluster's Prometheus: `prometheus` (only there), `amp` or `thanos`."
    )
    amp: AmpConfig = Field(default_factory=AmpConfig, description="Amazon Managed Service for Prometheus (mode `amp`).")
    thanos: ThanosConfig = Field(default_factory=ThanosConfig, description="Thanos on S3 (mode `thanos`).")


def amp_remote_write(workspace_endpoint: Any, region: str, queue: RemoteWriteQueue) -> list[dict[str, Any]]:
    """`prometheusSpec.remoteWrite`: every sample to the workspace, signed with the pod's IRSA role."""
    return [
        {
            "url": workspace_endpoint,
            "sigv4": {"region": region},
            "queueConfig": {
                "capacity": queue.capacity,
                "maxShards": queue.max_shards,
                "maxSamplesPerSend": queue.max_samples_per_send,
                "batchSendDeadline": queue.batch_send_deadline,
            },
        }
    ]


def thanos_objstore(bucket: Any, region: str) -> dict[str, Any]:
    """Thanos' object storage config: no keys, the AWS SDK takes the pod's IRSA web identity."""
    return {"type": "S3", "config": {"bucket": bucket, "endpoint": f"s3.{region}.amazonaws.com", "region": region}}


def trace_logs_link(title: str = "Log lines of this trace") -> dict[str, str]:
    """An exemplar's link to the log lines that carry its trace id, in Loki through Grafana's
    Explore. A URL, not an internal link: Grafana's internal exemplar links query the target
    datasource with the bare trace id, which is no LogQL. The trace id is hex (W3C trace context),
    so it needs no escaping where Grafana puts it; everything around it is URL-encoded here."""
    marker = "TRACE_ID_MARKER"
    pane = {
        "datasource": LOKI_DATASOURCE_UID,
        "queries": [
            {
                "refId": "A",
                "datasource": {"type": "loki", "uid": LOKI_DATASOURCE_UID},
                # Every namespace: a trace crosses services. The line filter needs no parsing.
                "expr": f'{{namespace=~".+"}} |= "{marker}"',
            }
        ],
        # Exemplars live in memory, so they are recent; Grafana cannot compute a range around one.
        "range": {"from": "now-24h", "to": "now"},
    }
    panes = urllib.parse.quote(json.dumps({"logs": pane}, separators=(",", ":"), sort_keys=True), safe="")
    return {
        "name": EXEMPLAR_TRACE_LABEL,
        "urlDisplayLabel": title,
        "url": f"/explore?schemaVersion=1&orgId=1&panes={panes}".replace(marker, "${__value.raw}"),
    }


def serves_exemplars(mode: str) -> bool:
    """Whether the backend answers exemplar queries: the cluster's Prometheus stores them, Thanos'
    querier reads them from its sidecars, AMP keeps none (AWS documents it)."""
    return mode != "amp"


def grafana_datasources(
    mode: str, query_url: Any, region: str, local_url: str, scrape_interval: str, trace_logs: bool
) -> list[dict[str, Any]]:
    """Grafana's Prometheus datasources, defined here rather than by the chart (whose template
    links exemplars only to a tracing datasource): the backend as the default `prometheus`
    datasource every dashboard names, and with a remote backend the cluster's Prometheus beside it.
    `trace_logs`: exemplars link to their trace's log lines in Loki, on every datasource that
    serves exemplars (the cluster's Prometheus, and Thanos' querier from its sidecars; AMP keeps
    none)."""

    def datasource(name: str, uid: str, url: Any, exemplars: bool) -> dict[str, Any]:
        # timeInterval: `$__rate_interval` counts in scrape intervals (Grafana assumes 15s).
        json_data: dict[str, Any] = {"httpMethod": "POST", "timeInterval": scrape_interval}
        if exemplars and trace_logs:
            json_data["exemplarTraceIdDestinations"] = [trace_logs_link()]
        return {"name": name, "uid": uid, "type": "prometheus", "access": "proxy", "url": url, "jsonData": json_data}

    backend = datasource("Prometheus", PROMETHEUS_DATASOURCE_UID, local_url if mode == "prometheus" else query_url, serves_exemplars(mode))
    backend["isDefault"] = True
    if mode == "amp":
        backend["jsonData"] |= {"sigV4Auth": True, "sigV4AuthType": "default", "sigV4Region": region}
    if mode == "prometheus":
        return [backend]
    return [backend, datasource("Prometheus (cluster)", "prometheus-cluster", local_url, True)]


def _labels(app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, **MANAGED_BY_LABELS}


def _container(name: str, image: str, args: list[str], ports: dict[str, int], memory: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "args": args,
        "ports": [{"name": port, "containerPort": number} for port, number in ports.items()],
        "readinessProbe": {"httpGet": {"path": "/-/ready", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": "http"}, "periodSeconds": 30, "failureThreshold": 4},
        "resources": {"requests": {"cpu": "100m", "memory": memory}, "limits": {"memory": memory}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    }


def _pod(app: str, service_account: str, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"labels": _labels(app)},
        "spec": {
            "serviceAccountName": service_account,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": containers,
            "volumes": volumes,
        },
    }


OBJSTORE_VOLUME = {"name": "objstore", "secret": {"secretName": THANOS_OBJSTORE_SECRET}}
OBJSTORE_MOUNT = {"name": "objstore", "mountPath": "/etc/thanos", "readOnly": True}
OBJSTORE_ARG = f"--objstore.config-file=/etc/thanos/{THANOS_OBJSTORE_KEY}"


def _claim(name: str, size: str, storage_class: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class, "resources": {"requests": {"storage": size}}},
    }


def _workload(kind: str, app: str, namespace: str, replicas: int, template: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"namespace": namespace, "name": app, "labels": _labels(app)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": app}}, "template": template, **spec},
    }


def _stateful(app: str, namespace: str, replicas: int, container: dict[str, Any], size: str, storage_class: str) -> dict[str, Any]:
    """A StatefulSet running `container` as the service account of its own name (its IRSA role),
    with the object storage config and a data volume at /var/thanos/<component>."""
    container["volumeMounts"] = [OBJSTORE_MOUNT, {"name": "data", "mountPath": f"/var/thanos/{container['args'][0]}"}]
    template = _pod(app, app, [container], [OBJSTORE_VOLUME])
    return _workload(
        "StatefulSet", app, namespace, replicas, template, serviceName=app, volumeClaimTemplates=[_claim("data", size, storage_class)]
    )


def thanos_workloads(cfg: ThanosConfig, namespace: str, prod: bool, storage_class: str) -> dict[str, dict[str, Any]]:
    """Querier, store gateway and compactor: {resource name: manifest}. The querier reaches every
    Prometheus sidecar through the chart's headless thanos-discovery Service."""
    sidecars = f"dnssrv+_grpc._tcp.{PROMETHEUS_RELEASE}-thanos-discovery.{namespace}.svc.cluster.local"
    stores = f"dnssrv+_grpc._tcp.{THANOS_STORE}.{namespace}.svc.cluster.local"
    query_args = [
        "query",
        f"--http-address=0.0.0.0:{THANOS_QUERY_PORT}",
        f"--grpc-address=0.0.0.0:{THANOS_GRPC_PORT}",
        f"--endpoint={sidecars}",
        f"--endpoint={stores}",
        f"--query.replica-label={THANOS_REPLICA_LABEL}",
    ]
    query = _container("thanos-query", cfg.image, query_args, {"http": THANOS_QUERY_PORT, "grpc": THANOS_GRPC_PORT}, "1Gi")
    store_args = [
        "store",
        f"--http-address=0.0.0.0:{THANOS_HTTP_PORT}",
        f"--grpc-address=0.0.0.0:{THANOS_GRPC_PORT}",
        "--data-dir=/var/thanos/store",
        OBJSTORE_ARG,
    ]
    store = _container(THANOS_STORE, cfg.image, store_args, {"http": THANOS_HTTP_PORT, "grpc": THANOS_GRPC_PORT}, "2Gi")
    compact_args = [
        "compact",
        "--wait",
        f"--http-address=0.0.0.0:{THANOS_HTTP_PORT}",
        "--data-dir=/var/thanos/compact",
        OBJSTORE_ARG,
        f"--retention.resolution-raw={cfg.retention_raw}",
        f"--retention.resolution-5m={cfg.retention_5m}",
        f"--retention.resolution-1h={cfg.retention_1h}",
        # HA replicas upload the same series twice; the compactor merges them into one.
        f"--deduplication.replica-label={THANOS_REPLICA_LABEL}",
    ]
    compact = _container(THANOS_COMPACT, cfg.image, compact_args, {"http": THANOS_HTTP_PORT}, "2Gi")
    minimum = 2 if prod else 1
    return {
        "thanos-query": _workload(
            "Deployment", "thanos-query", namespace, max(cfg.query_replicas, minimum), _pod("thanos-query", "default", [query], [])
        ),
        THANOS_STORE: _stateful(THANOS_STORE, namespace, max(cfg.store_replicas, minimum), store, cfg.store_storage_size, storage_class),
        # Exactly one: two compactors on one bucket corrupt it.
        THANOS_COMPACT: _stateful(THANOS_COMPACT, namespace, 1, compact, cfg.compactor_storage_size, storage_class),
        "thanos-query-service": _service("thanos-query", namespace, {"http": THANOS_QUERY_PORT, "grpc": THANOS_GRPC_PORT}, headless=False),
        "thanos-store-service": _service(THANOS_STORE, namespace, {"http": THANOS_HTTP_PORT, "grpc": THANOS_GRPC_PORT}, headless=True),
    }


def _service(app: str, namespace: str, ports: dict[str, int], headless: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"app.kubernetes.io/name": app},
        "ports": [{"name": name, "port": port, "targetPort": name, "protocol": "TCP"} for name, port in ports.items()],
    }
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": namespace, "labels": _labels(app)}, "spec": spec}


def thanos_query_url(namespace: str) -> str:
    return f"http://thanos-query.{namespace}.svc.cluster.local:{THANOS_QUERY_PORT}"


def prometheus_backend_values(config: MetricsBackendConfig, role_arn: Any, remote_write: Optional[list[dict[str, Any]]]) -> dict[str, Any]:
    """What the backend adds under the chart's `prometheus` key: the IRSA role on the chart's
    service account, and the remote write (AMP) or the sidecar uploading blocks (Thanos)."""
    if config.mode == "prometheus":
        return {}
    spec: dict[str, Any] = {}
    values: dict[str, Any] = {"serviceAccount": {"annotations": {IRSA_ROLE_ANNOTATION: role_arn}}, "prometheusSpec": spec}
    if config.mode == "amp":
        spec["remoteWrite"] = remote_write
        spec["replicaExternalLabelName"] = AMP_REPLICA_LABEL
    else:
        spec["thanos"] = {
            "image": config.thanos.image,
            "objectStorageConfig": {"existingSecret": {"name": THANOS_OBJSTORE_SECRET, "key": THANOS_OBJSTORE_KEY}},
        }
        values["thanosService"] = {"enabled": True}
    return values
