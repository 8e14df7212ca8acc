"""Loki as pure data: Helm values, the chunk lifecycle of its bucket, its Grafana datasource."""

from __future__ import annotations

import math
from typing import Any, Optional

from ..conventions import GRAFANA_DASHBOARD_LABEL, SELECTOR_LABELS
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
        {
            # Applies to the whole bucket but deletes nothing a client wrote: it only clears failed uploads.
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
        },
    ]


def loki_values(cfg: LokiConfig, bucket: str, region: str, prod: bool) -> dict[str, Any]:
    """Helm values for the grafana-community `loki` chart; `prod` replicates, adds disruption budgets
    and keeps the volumes when the StatefulSets are deleted or scaled down."""
    single = cfg.deployment_mode == "SingleBinary"
    caches = prod if cfg.caches is None else cfg.caches
    replication = 1 if single else min(3, cfg.replicas)
    resources = cfg.resources.as_k8s()
    pdb = {"podDisruptionBudget": {"maxUnavailable": 1}} if prod else {}
    retain = {"whenDeleted": "Retain", "whenScaled": "Retain", "enableStatefulSetAutoDeletePVC": False} if prod else {}

    def target(persistence: Optional[dict[str, Any]]) -> dict[str, Any]:
        spec: dict[str, Any] = {"replicas": cfg.replicas, "resources": resources, **pdb}
        if persistence is not None:
            spec["persistence"] = {**persistence, "size": cfg.storage_size, "storageClass": STORAGE_CLASS, **retain}
        return spec

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
            "storage": {
                "type": "s3",
                "bucketNames": {"chunks": bucket, "ruler": bucket},
                "s3": {"region": region},
            },
            # Sized for the platform's log volume: beyond these Loki answers 429 and Fluent Bit retries
            # from its disk buffer (LokiDiscardingSamples says so).
            "limits_config": {
                "retention_period": cfg.retention,
                "ingestion_rate_mb": cfg.ingestion_rate_mb,
                "ingestion_burst_size_mb": cfg.ingestion_burst_mb,
                "per_stream_rate_limit": cfg.per_stream_rate_limit,
                "per_stream_rate_limit_burst": cfg.per_stream_rate_limit,
            },
            "compactor": {
                "retention_enabled": True,
                "retention_delete_delay": cfg.delete_delay,
                "delete_request_store": "s3",
                "working_directory": "/var/loki/compactor",
            },
        },
        "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
        # Each target names its volume switch differently; read is a stateless Deployment.
        "singleBinary": target({"enabled": True}) if single else {"replicas": 0},
        "read": {"replicas": 0} if single else target(None),
        "write": {"replicas": 0} if single else target({"volumeClaimsEnabled": True}),
        "backend": {"replicas": 0} if single else target({"enabled": True}),
        "minio": {"enabled": False},
        # Memcached in front of S3, sized from config (the chart's default chunk cache asks for 8 GiB).
        "chunksCache": {"enabled": caches, "allocatedMemory": cfg.chunks_cache_memory_mb} if caches else {"enabled": False},
        "resultsCache": {"enabled": caches, "allocatedMemory": cfg.results_cache_memory_mb} if caches else {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "gateway": {"enabled": True, "replicas": 2 if prod else 1},
        # The chart's own alerts (request errors, panics, latency) and dashboards, picked up by this
        # platform's Prometheus and Grafana sidecar.
        "monitoring": {
            "serviceMonitor": {"enabled": True, "labels": dict(SELECTOR_LABELS)},
            "rules": {"enabled": True, "labels": dict(SELECTOR_LABELS)},
            "dashboards": {"enabled": True, "labels": dict(GRAFANA_DASHBOARD_LABEL)},
        },
    }
    return values


def grafana_datasource(url: str) -> dict[str, Any]:
    """Grafana datasource provisioning file for this Loki (loaded by Grafana's datasource sidecar)."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Loki",
                "uid": "loki",
                "type": "loki",
                "access": "proxy",
                "url": url,
                "jsonData": {"maxLines": 1000, "timeout": 60},
            }
        ],
    }
