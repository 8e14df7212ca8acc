"""Loki on S3 and Fluent Bit: the exact bucket, lifecycle, log group and release values."""

from __future__ import annotations

import json

import pytest

from components.lib.types import duration_seconds
from components.logging.config import FluentBitConfig, LokiConfig
from components.logging.fluent_bit_values import (
    FluentBitConfigError,
    parse_sections,
    pipeline,
    render_sections,
)
from components.logging.loki_values import (
    CHUNK_PREFIX,
    chunk_expiry_days,
    lifecycle_rules,
    loki_values,
)

# Objects Loki (TSDB, single tenant) writes to its bucket; only the first kind may ever expire.
CHUNK_KEYS = ["fake/7d1b4c2a9e0f3b65/18c0f3a2b10:18c0f9d1e22:3b1a9e0c"]
RETAIN = {"whenDeleted": "Retain", "whenScaled": "Retain", "enableStatefulSetAutoDeletePVC": False}
NEVER_EXPIRE_KEYS = [
    "index/loki_index_20123/1719792000-ingester-0-1719800000.tsdb.gz",
    "index/delete_requests/delete_requests.gz",
    "loki_cluster_seed.json",
    "rules/fake/rules.yaml",
]


def _values(result, release):
    return result.release(release)


def test_bucket_is_locked_down(prod):
    bucket = prod.named("loki-bucket")
    assert bucket.inputs["forceDestroy"] is False
    assert (bucket.protect, bucket.retain_on_delete) == (True, True)
    assert prod.named("loki-bucket-public-access").inputs == {
        "bucket": "loki-bucket-mock0001",
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert prod.named("loki-bucket-ownership").inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert prod.named("loki-bucket-encryption").inputs["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}, "bucketKeyEnabled": False}
    ]
    policy = json.loads(prod.named("loki-bucket-tls-only").inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::loki-bucket-mock0001", "arn:aws:s3:::loki-bucket-mock0001/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_dev_data_is_not_protected(dev):
    assert not dev.named("loki-bucket").protect
    assert not dev.named("fluent-bit-log-group").protect


def test_kms_key_switches_encryption(run, make_config):
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    result = run(make_config("dev", loki={"kmsKeyArn": key}))
    assert result.named("loki-bucket-encryption").inputs["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}, "bucketKeyEnabled": True}
    ]
    policy = json.loads(result.named("loki-irsa-policy").inputs["policy"])
    assert policy["Statement"][-1] == {
        "Sid": "LokiBucketKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": key,
    }


def test_lifecycle_expires_only_chunks_after_retention(prod):
    rules = prod.named("loki-bucket-lifecycle").inputs["rules"]
    assert rules == [
        {"id": "expire-loki-chunks", "status": "Enabled", "filter": {"prefix": "fake/"}, "expiration": {"days": 17}},
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1},
        },
    ]


@pytest.mark.parametrize("retention", ["24h", "72h", "168h", "360h", "744h", "2160h", "8760h", "1d12h", "15d"])
@pytest.mark.parametrize("delete_delay", ["1m", "2h", "24h", "36h"])
def test_lifecycle_never_deletes_what_loki_still_serves(retention, delete_delay):
    rules = lifecycle_rules(retention, delete_delay)
    expiring = [r for r in rules if "expiration" in r]
    assert len(expiring) == 1
    # S3 expires objects `days` after creation (rounded up to midnight UTC, so later, never earlier).
    assert expiring[0]["expiration"]["days"] * 86400 >= duration_seconds(retention) + duration_seconds(delete_delay)
    prefix = expiring[0]["filter"]["prefix"]
    assert prefix == CHUNK_PREFIX
    assert all(key.startswith(prefix) for key in CHUNK_KEYS)
    assert not any(key.startswith(prefix) for key in NEVER_EXPIRE_KEYS)
    # The only whole-bucket rule deletes no written object.
    for rule in rules:
        if rule["filter"]["prefix"] == "":
            assert set(rule) == {"id", "status", "filter", "abort_incomplete_multipart_upload"}


def test_retention_and_expiry_derive_from_one_value(run, make_config):
    result = run(make_config("dev", loki={"retention": "720h", "deleteDelay": "4h"}))
    values = _values(result, "loki")["values"]
    assert values["loki"]["limits_config"]["retention_period"] == "720h"
    assert values["loki"]["compactor"]["retention_delete_delay"] == "4h"
    assert result.named("loki-bucket-lifecycle").inputs["rules"][0]["expiration"]["days"] == chunk_expiry_days("720h", "4h") == 32


def test_no_static_credentials_anywhere(rendered_prod):
    blob = "\n".join(rendered_prod.values())
    for forbidden in ("accessKeyId:", "secretAccessKey:", "endpoint:", "AKIA"):
        assert forbidden not in blob


def test_log_group_owned_with_retention(prod, dev):
    group = prod.named("fluent-bit-log-group")
    assert group.inputs == {
        "name": "/aws/eks/fixture/containers",
        "retentionInDays": 30,
        "tags": {},
    }
    assert (group.protect, group.retain_on_delete) == (True, True)
    assert dev.named("fluent-bit-log-group").inputs["retentionInDays"] == 7


def test_fluent_bit_starts_after_its_log_group(prod):
    release = next(r for r in prod.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "fluent-bit")
    group = prod.named("fluent-bit-log-group")
    assert group.urn in release.depends_on


def test_fluent_bit_without_loki(run, make_config):
    result = run(make_config("dev", fluentBit={"sendToLoki": False}))
    values = _values(result, "fluent-bit")["values"]
    assert [dict(s[1])["Name"] for s in parse_sections(values["config"]["outputs"])] == ["cloudwatch_logs"]


def test_events_collector_reads_events_only_and_sends_them_to_loki_once(prod):
    role = prod.named("fluent-bit-events-role").inputs
    assert role["rules"] == [{"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]}]
    binding = prod.named("fluent-bit-events-binding").inputs
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "fluent-bit-events", "namespace": "logging"}]
    assert prod.named("fluent-bit-events-sa").inputs["metadata"]["name"] == "fluent-bit-events"
    release = prod.release("fluent-bit-events")
    values = release["values"]
    # One watcher for the cluster (a DaemonSet would send every event once per node), with the program's RBAC.
    assert (values["kind"], values["replicaCount"]) == ("Deployment", 1)
    assert values["rbac"] == {"create": False}
    assert values["serviceAccount"] == {"create": False, "name": "fluent-bit-events"}
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert "hostPath" not in json.dumps(values)
    (service, events_input, loki_output) = parse_sections(values["config"]["service"] + values["config"]["inputs"] + values["config"]["outputs"])
    assert dict(events_input[1])["Name"] == "kubernetes_events"
    out = dict(loki_output[1])
    assert (out["Name"], out["Match"], out["Host"]) == ("loki", "k8s_events", "loki-gateway.logging.svc.cluster.local")
    # Bounded label sets only: the object's name stays in the line.
    assert out["Labels"] == (
        "job=kubernetes-events, namespace=$involvedObject['namespace'], kind=$involvedObject['kind'], reason=$reason, type=$type"
    )
    # Every service's dashboard shows the service's events.
    detail = json.loads(prod.named("kube-prometheus-stack-dashboard-services").inputs["data"]["service-detail.json"])
    (events,) = [p for p in detail["panels"] if p["type"] == "logs"]
    assert events["datasource"] == {"type": "loki", "uid": "loki"}
    assert events["targets"][0]["expr"].startswith('{job="kubernetes-events", namespace="$namespace"} | json | involvedObject_name=~"$service')


@pytest.mark.parametrize("overrides", [{"fluentBit": {"sendToLoki": False}}, {"fluentBit": {"events": {"enabled": False}}}])
def test_no_events_collector_without_loki_or_when_off(run, make_config, overrides):
    result = run(make_config("dev", **overrides))
    assert [r.inputs["name"] for r in result.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"].startswith("fluent-bit")] == [
        "fluent-bit"
    ]
    assert not [r for r in result.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole") if "events" in r.name]
    detail = json.loads(result.named("kube-prometheus-stack-dashboard-services").inputs["data"]["service-detail.json"])
    assert not [p for p in detail["panels"] if p["type"] == "logs"]


def test_unknown_output_is_a_render_time_error():
    sections = pipeline(FluentBitConfig(), "ap-northeast-2", "/aws/eks/x/containers", None)
    sections.append(("OUTPUT", [("Name", "cloudwach_logs"), ("Match", "*")]))
    with pytest.raises(FluentBitConfigError, match="unknown output plugin 'cloudwach_logs'"):
        render_sections(sections)


def test_output_without_match_is_an_error():
    with pytest.raises(FluentBitConfigError, match="loki has no Match"):
        render_sections([("OUTPUT", [("Name", "loki"), ("Host", "x")])])


@pytest.mark.parametrize(
    "text",
    ["Name tail\n", "[INPUT]\nName tail\n", "[INPUT\n    Name tail\n", "[INPUT]\n    Name\n", "[PARSERS]\n    Name x\n"],
)
def test_malformed_config_is_rejected(text):
    with pytest.raises(FluentBitConfigError):
        parse_sections(text)


def test_excluded_namespaces_from_config():
    sections = pipeline(FluentBitConfig(exclude_namespaces=["kube-system", "istio-system"]), "us-east-1", "/g", None)
    tail = dict(sections[1][1])
    assert tail["Exclude_Path"].split(",")[:2] == ["/var/log/containers/*_kube-system_*.log", "/var/log/containers/*_istio-system_*.log"]


def test_loki_values_are_pure():
    cfg = LokiConfig()
    assert loki_values(cfg, "b", "r", "us-east-1", False) == loki_values(cfg, "b", "r", "us-east-1", False)


def test_no_datasource_without_grafana(run, make_config):
    result = run(make_config("dev", prometheusStack={"grafana": {"enabled": False}}))
    assert not [r for r in result.registrations if r.name == "loki-grafana-datasource"]


def test_grafana_gets_the_loki_datasource(prod):
    """The datasource ConfigMap lands where Grafana's sidecar looks, pointing at the Loki component's gateway."""
    import yaml

    configmap = prod.named("loki-grafana-datasource").inputs
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["labels"]["grafana_datasource"] == "1"
    (datasource,) = yaml.safe_load(configmap["data"]["loki-datasource.yaml"])["datasources"]
    assert datasource["url"] == "http://loki-gateway.logging.svc.cluster.local"
