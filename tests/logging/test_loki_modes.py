"""Loki at prod scale: the Distributed mode on S3, the ruler's own bucket, and the modes the pinned
chart still supports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.logging.config import LokiConfig
from components.logging.loki_values import loki_values
from components.stack import ConfigError, load_stack_config
from tests.stackfixtures import fixture_values, to_pulumi_config

DISTRIBUTED = ("ingester", "distributor", "querier", "queryFrontend", "queryScheduler", "indexGateway", "compactor", "ruler")
LEGACY = ("singleBinary", "read", "write", "backend")


def _values(prod: bool = True, **config: Any) -> dict:
    return loki_values(LokiConfig(**config), "chunks", "rules", "eu-west-1", prod, "http://am:9093")


def test_distributed_runs_every_microservice_and_nothing_else():
    values = _values(deployment_mode="Distributed", replicas=3)
    assert values["deploymentMode"] == "Distributed"
    assert {key: values[key]["replicas"] for key in DISTRIBUTED} == {
        "ingester": 3,
        "distributor": 3,
        "querier": 3,
        "queryFrontend": 2,
        "queryScheduler": 2,
        "indexGateway": 2,
        "ruler": 2,
        "compactor": 1,  # retention and deletes run in one place
    }
    assert {key: values[key] for key in LEGACY} == {key: {"replicas": 0} for key in LEGACY}
    # Three ingesters replicate every stream three ways: one zone down keeps a write quorum of two.
    assert values["loki"]["commonConfig"] == {"replication_factor": 3}


def test_distributed_spreads_across_zones_and_drains_one_at_a_time():
    values = _values(deployment_mode="Distributed", replicas=3)
    for key in DISTRIBUTED:
        spec = values[key]
        if spec["replicas"] < 2:
            assert "topologySpreadConstraints" not in spec
            continue
        assert spec["maxUnavailable"] == 1, key
        assert [c["topologyKey"] for c in spec["topologySpreadConstraints"]] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"], (
            key
        )
    assert values["ingester"]["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {"app.kubernetes.io/component": "ingester", "app.kubernetes.io/instance": "loki"}
    }
    assert values["ingester"]["zoneAwareReplication"] == {"enabled": False}


def test_stateful_targets_get_complete_claims_on_gp3_and_keep_them():
    values = _values(deployment_mode="Distributed", replicas=3, storage_size="50Gi")
    claim = {"name": "data", "accessModes": ["ReadWriteOnce"], "size": "50Gi", "storageClass": "gp3"}
    # A list replaces the chart's default claims whole, so each claim must be complete.
    for key in ("ingester", "compactor"):
        assert values[key]["persistence"]["claims"] == [claim], key
        assert values[key]["persistence"]["whenDeleted"] == "Retain", key
    assert values["indexGateway"]["persistence"]["size"] == "50Gi"
    assert values["ruler"]["persistence"] == {"enabled": True, "accessModes": ["ReadWriteOnce"], "size": "50Gi", "storageClass": "gp3"}
    for key in ("distributor", "querier", "queryFrontend", "queryScheduler"):
        assert "persistence" not in values[key], key


def test_migration_mode_runs_both_paths():
    values = _values(deployment_mode="SimpleScalable<->Distributed", replicas=3)
    assert all(values[key]["replicas"] > 0 for key in (*DISTRIBUTED, "read", "write", "backend"))
    assert values["singleBinary"] == {"replicas": 0}


def test_monolithic_runs_only_the_single_binary():
    values = _values(prod=False)
    assert values["singleBinary"]["replicas"] == 1
    assert all(values[key] == {"replicas": 0} for key in (*DISTRIBUTED, "read", "write", "backend"))
    assert values["loki"]["commonConfig"] == {"replication_factor": 1}


def test_ruler_rules_live_in_their_own_bucket_and_alert_through_alertmanager():
    loki = _values()["loki"]
    assert loki["storage"]["bucketNames"] == {"chunks": "chunks", "ruler": "rules"}
    assert loki["rulerConfig"] == {"enable_api": True, "alertmanager_url": "http://am:9093"}


def test_ruler_bucket_is_hardened_protected_and_never_expires(prod):
    bucket = prod.named("loki-ruler-bucket")
    assert (bucket.protect, bucket.retain_on_delete, bucket.inputs["forceDestroy"]) == (True, True, False)
    assert prod.named("loki-ruler-bucket-public-access").inputs["restrictPublicBuckets"] is True
    rules = prod.named("loki-ruler-bucket-lifecycle").inputs["rules"]
    assert [rule["id"] for rule in rules] == ["abort-incomplete-uploads"]
    assert not any("expiration" in rule for rule in rules)
    policy = json.loads(prod.named("loki-ruler-bucket-tls-only").inputs["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_program_wires_the_ruler_to_this_alertmanager(prod):
    values = next(r.inputs["values"] for r in prod.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "loki")
    assert values["loki"]["storage"]["bucketNames"] == {"chunks": "loki-bucket-mock0001", "ruler": "loki-ruler-bucket-mock0001"}
    assert (
        values["loki"]["rulerConfig"]["alertmanager_url"] == "http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093"
    )


@pytest.mark.parametrize(
    ("loki", "message"),
    [
        (
            {"deploymentMode": "Monolithic", "replicas": 3},
            "Monolithic mode with more than one replica needs a shared ring; use deploymentMode Distributed",
        ),
        ({"bucketName": "acme-logs", "rulerBucketName": "acme-logs"}, "rulerBucketName 'acme-logs' must differ from bucketName"),
        ({"deploymentMode": "Microservices"}, "Microservices"),
    ],
)
def test_bad_loki_modes_are_refused(loki, message):
    with pytest.raises(ConfigError) as err:
        load_stack_config(*to_pulumi_config(fixture_values(loki=loki)))
    assert len(err.value.issues) == 1 and message in err.value.issues[0] and "loki" in err.value.issues[0]
