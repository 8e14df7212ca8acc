"""Loki as pure data: Helm values, the chunk lifecycle of its bucket, its Grafana datasource."""

from __future__ import annotations

import math
from typing import Any, Optional

from ..aws.s3 import ABORT_INCOMPLETE_UPLOADS
from ..conventions import GRAFANA_DASHBOARD_LABEL, LOKI_DATASOURCE_UID, SELECTOR_LABELS
from ..lib.types import duration_seconds
from .config import LokiConfig

SERVICE_ACCOUNT = "loki"
# With auth_enabled false Loki writes every chunk under the tenant prefix `fake/`. The index
# (`index/`), the cluster seed (`loki_cluster_seed.json`) and the delete-request store live
# elsewhere in the bucket and must never be expired by a lifecycle rule.
TENANT = "fake"
CHUNK_PREFIX = f"{TENANT}/"
SCHEMA_FROM = "2024-04-01"
STORAGE_CLASS = "gp3"
# The gateway Service the chart creates for release `loki`; writers and readers go through it.
GATEWAY_SERVICE = "loki-gateway"
GATEWAY_PORT = 80


def chunk_expiry_days(retention: str, delete_delay: str) -> int:
    """Days after which S3 may expire a chunk: never before Loki stops serving it.

    Loki serves a chunk until `retention` has passed and the compactor's `delete_delay` has run
    out; one extra day covers the compactor's sweep interval. S3 only ever rounds expiry later.
    """
    return math.ceil((duration_seconds(retention) + duration_seconds(delete_delay)) / 86400) + 1


def lifecycle_rules(retention: str, delete_delay: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "expire-loki-chunks",
            "status": "Enabled",
            "filter": {"prefix": CHUNK_PREFIX},
            "expiration": {"days": chunk_expiry_days(retention, delete_delay)},
        },
        ABORT_INCOMPLETE_UPLOADS,
    ]


# Distributed mode: values key -> (component label, how the chart takes its volume). The chart
# builds a StatefulSet's claims from `persistence.claims` when that list exists in its defaults
# (ingester, compactor: a list replaces the default, so each claim is complete), else from
# `persistence.size`; only some targets know the retention-policy keys.
DISTRIBUTED: dict[str, tuple[str, Optional[str]]] = {
    "ingester": ("ingester", "claims"),
    "distributor": ("distributor", None),
    "querier": ("querier", None),
    "queryFrontend": ("query-frontend", None),
    "queryScheduler": ("query-scheduler", None),
    "indexGateway": ("index-gateway", "size"),
    "compactor": ("compactor", "claims"),
    "ruler": ("ruler", "size"),
}
RETENTION_POLICY_KEYS = ("ingester", "indexGateway", "compactor")
SCALED_FROM_CONFIG = ("ingester", "distributor", "querier")
SINGLETONS = ("compactor",)  # retention and deletes must run in exactly one place
LEGACY_TARGETS = ("singleBinary", "read", "write", "backend")


def _zone_spread(component: str) -> list[dict[str, Any]]:
    """Replicas in different zones first (an AZ outage keeps a write quorum), then different nodes."""
    selector = {"matchLabels": {"app.kubernetes.io/component": component, "app.kubernetes.io/instance": "loki"}}
    return [
        {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": selector}
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def _volume(cfg: LokiConfig) -> dict[str, Any]:
    return {"size": cfg.storage_size, "storageClass": STORAGE_CLASS}


def _retain(prod: bool) -> dict[str, Any]:
    """In prod the volumes outlive the StatefulSet and its scale-downs."""
    return {"whenDeleted": "Retain", "whenScaled": "Retain", "enableStatefulSetAutoDeletePVC": False} if prod else {}


def _distributed_targets(cfg: LokiConfig, prod: bool) -> dict[str, Any]:
    """The microservices: replicas, disruption budgets, zone spread and volumes."""
    resources, volume, retain = cfg.resources.as_k8s(), _volume(cfg), _retain(prod)
    targets: dict[str, Any] = {}
    for key, (component, volume_style) in DISTRIBUTED.items():
        replicas = cfg.replicas if key in SCALED_FROM_CONFIG else 1 if key in SINGLETONS else 2
        spec: dict[str, Any] = {"replicas": replicas, "resources": resources}
        if replicas > 1:
            spec["maxUnavailable"] = 1
            if prod:
                spec["topologySpreadConstraints"] = _zone_spread(component)
        policy = retain if key in RETENTION_POLICY_KEYS else {}
        if volume_style == "claims":
            claim = {"name": "data", "accessModes": ["ReadWriteOnce"], **volume}
            spec["persistence"] = {"enabled": True, "claims": [claim], **policy}
        elif volume_style == "size":
            spec["persistence"] = {"enabled": True, "accessModes": ["ReadWriteOnce"], **volume, **policy}
        if key == "ingester":
            # One StatefulSet replicated across zones; the chart's zone-aware variant needs the
            # rollout-operator and one StatefulSet per zone.
            spec["zoneAwareReplication"] = {"enabled": False}
        targets[key] = spec
    return targets


def _legacy_targets(cfg: LokiConfig, prod: bool) -> dict[str, Any]:
    """The single binary, or SimpleScalable's read, write and backend targets."""
    resources, volume, retain = cfg.resources.as_k8s(), _volume(cfg), _retain(prod)
    pdb = {"podDisruptionBudget": {"maxUnavailable": 1}} if prod else {}

    def target(persistence: Optional[dict[str, Any]]) -> dict[str, Any]:
        spec: dict[str, Any] = {"replicas": cfg.replicas, "resources": resources, **pdb}
        if persistence is not None:
            spec["persistence"] = {**persistence, **volume, **retain}
        return spec

    if cfg.deployment_mode == "Monolithic":
        return {"singleBinary": target({"enabled": True})}
    # Each SimpleScalable target names its volume switch differently; read is a stateless Deployment.
    return {"read": target(None), "write": target({"volumeClaimsEnabled": True}), "backend": target({"enabled": True})}


def volume_claim_paths(cfg: LokiConfig, prod: bool) -> list[str]:
    """The values that become StatefulSet volume claim templates, which Kubernetes never updates: a
    change there makes Helm's upgrade fail and the atomic release roll back on every later `up`, so the
    release is replaced instead (`replace_on_changes`)."""
    paths = []
    for target, spec in sorted(_targets(cfg, prod).items()):
        persistence = spec.get("persistence") if isinstance(spec, dict) else None
        if isinstance(persistence, dict):
            paths += [f"{target}.persistence.{key}" for key in ("claims", "size", "storageClass") if key in persistence]
    return paths


def _targets(cfg: LokiConfig, prod: bool) -> dict[str, Any]:
    """Every target of the chosen mode; the other modes' targets are zeroed, as the chart requires.
    The migration mode runs SimpleScalable's targets while the microservices join the ring."""
    zeroed: dict[str, Any] = {name: {"replicas": 0} for name in (*LEGACY_TARGETS, *DISTRIBUTED)}
    mode = cfg.deployment_mode
    distributed = _distributed_targets(cfg, prod) if mode in ("Distributed", "SimpleScalable<->Distributed") else {}
    legacy = _legacy_targets(cfg, prod) if mode != "Distributed" else {}
    return {**zeroed, **distributed, **legacy}


def loki_values(
    cfg: LokiConfig,
    bucket: str,
    ruler_bucket: str,
    region: str,
    prod: bool,
    alertmanager_url: Optional[str] = None,
    prometheus_operator: bool = True,
) -> dict[str, Any]:
    """Helm values for the grafana-community `loki` chart; `prod` replicates, adds disruption budgets,
    spreads replicas across zones and keeps the volumes when the StatefulSets are deleted or scaled down."""
    caches = prod if cfg.caches is None else cfg.caches
    replication = 1 if cfg.deployment_mode == "Monolithic" else min(3, cfg.replicas)
    ruler: dict[str, Any] = {"enable_api": True}
    if alertmanager_url:
        ruler["alertmanager_url"] = alertmanager_url
    values: dict[str, Any] = {
        "deploymentMode": cfg.deployment_mode,
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": replication},
            "schemaConfig": {
                "configs": [
                    {
                        "from": SCHEMA_FROM,
                        "store": "tsdb",
                        "object_store": "s3",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            # IRSA supplies credentials; `region` (not `endpoint`) makes the SDK pick the regional endpoint.
            # Rule groups live in their own bucket, as in Loki's AWS guide: the chunk lifecycle never
            # reaches them and the two can be protected and granted separately.
            "storage": {
                "type": "s3",
                "bucketNames": {"chunks": bucket, "ruler": ruler_bucket},
                "s3": {"region": region},
            },
            "rulerConfig": ruler,
            # Sized for the platform's log volume: beyond these Loki answers 429 and Fluent Bit retries
            # from its disk buffer (LokiDiscardingSamples says so).
            "limits_config": {
                "retention_period": cfg.retention,
                "ingestion_rate_mb": cfg.ingestion_rate_mb,
                "ingestion_burst_size_mb": cfg.ingestion_burst_mb,
                "per_stream_rate_limit": cfg.per_stream_rate_limit,
                "per_stream_rate_limit_burst": cfg.per_stream_rate_limit,
                # A longer line is cut and counted (LokiTruncatingLongLines), not refused: a refused line is
                # not retryable, so Fluent Bit would drop it.
                "max_line_size": cfg.max_line_size,
                "max_line_size_truncate": True,
            },
            "compactor": {
                "retention_enabled": True,
                "retention_delete_delay": cfg.delete_delay,
                "delete_request_store": "s3",
                "working_directory": "/var/loki/compactor",
            },
        },
        "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
        **_targets(cfg, prod),
        "minio": {"enabled": False},
        # Memcached in front of S3, sized from config (the chart's default chunk cache asks for 8 GiB).
        "chunksCache": {"enabled": caches, "allocatedMemory": cfg.chunks_cache_memory_mb} if caches else {"enabled": False},
        "resultsCache": {"enabled": caches, "allocatedMemory": cfg.results_cache_memory_mb} if caches else {"enabled": False},
        "lokiCanary": {"enabled": False},
        # Rule groups live in the ruler bucket (its API), not in labelled objects: without this sidecar
        # the chart's ClusterRole grants nothing (on, it reads every ConfigMap and Secret in the cluster).
        "sidecar": {"rules": {"enabled": False}},
        "test": {"enabled": False},
        "gateway": {"enabled": True, "replicas": 2 if prod else 1},
        # The chart's own alerts (request errors, panics, latency) and dashboards, picked up by this
        # platform's Prometheus and Grafana sidecar.
        "monitoring": {
            "serviceMonitor": {"enabled": prometheus_operator, "labels": dict(SELECTOR_LABELS)},
            "rules": {"enabled": prometheus_operator, "labels": dict(SELECTOR_LABELS)},
            "dashboards": {"enabled": True, "labels": dict(GRAFANA_DASHBOARD_LABEL)},
        },
    }
    return values


def ruler_lifecycle_rules() -> list[dict[str, Any]]:
    """Rule groups never expire; only failed uploads are cleared."""
    return [ABORT_INCOMPLETE_UPLOADS]


def grafana_datasource(url: str) -> dict[str, Any]:
    """Grafana datasource provisioning file for this Loki (loaded by Grafana's datasource sidecar)."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Loki",
                "uid": LOKI_DATASOURCE_UID,
                "type": "loki",
                "access": "proxy",
                "url": url,
                "jsonData": {"maxLines": 1000, "timeout": 60},
            }
        ],
    }
