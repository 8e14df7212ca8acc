"""The metrics backends (prometheusStack.backend): AMP and Thanos render with least-privilege IRSA,
the backend becomes Grafana's and the canary's data source, and every rule and query is the same
text whichever backend stores the samples."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.aws.test_iam import _findings, _policies
from tools.mockrun import RunResult

ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/00112233445566778899AABBCCDDEEFF"
WORKSPACE = "arn:aws:aps:eu-west-1:111122223333:workspace/ws-00000000-0000-4000-8000-000000000001"
ENDPOINT = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-00000000-0000-4000-8000-000000000001/"
BUCKET = "arn:aws:s3:::metrics-backend-bucket-mock0001"


@pytest.fixture(scope="module")
def modes() -> dict[str, RunResult]:
    from tests.conftest import REDACTED, SECRET_CONFIG_KEYS
    from tests.stackfixtures import fixture_values, to_pulumi_config
    from tools.mockrun import run_program

    def render(mode: str) -> RunResult:
        values = fixture_values("prod", prometheusStack={"backend": {"mode": mode}})
        return run_program(*to_pulumi_config(values, {k: REDACTED for k in SECRET_CONFIG_KEYS}), stack="prod")

    return {mode: render(mode) for mode in ("prometheus", "amp", "thanos")}


def _trust_subject(result: RunResult, role: str) -> str:
    trust = json.loads(result.named(role).inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Condition"]["StringEquals"][f"{ISSUER}:aud"] == "sts.amazonaws.com"
    return str(statement["Condition"]["StringEquals"][f"{ISSUER}:sub"])


def _policy(result: RunResult, name: str) -> list[dict]:
    return list(json.loads(result.named(name).inputs["policy"])["Statement"])


def test_amp_workspace_is_protected_and_prometheus_may_only_write_to_it(modes):
    amp = modes["amp"]
    workspace = amp.named("metrics-backend-workspace")
    assert workspace.typ == "aws:amp/workspace:Workspace"
    assert workspace.inputs["alias"] == "fixture-metrics" and workspace.protect and workspace.retain_on_delete
    assert (
        _trust_subject(amp, "metrics-backend-prometheus-irsa-role") == "system:serviceaccount:monitoring:kube-prometheus-stack-prometheus"
    )
    assert _policy(amp, "metrics-backend-prometheus-irsa-policy") == [
        {"Sid": "RemoteWrite", "Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": WORKSPACE}
    ]
    query = {
        "Sid": "QueryWorkspace",
        "Effect": "Allow",
        "Action": ["aps:GetLabels", "aps:GetMetricMetadata", "aps:GetSeries", "aps:QueryMetrics"],
        "Resource": WORKSPACE,
    }
    assert _trust_subject(amp, "metrics-backend-argo-rollouts-irsa-role") == "system:serviceaccount:argo-rollouts:argo-rollouts"
    assert _policy(amp, "metrics-backend-argo-rollouts-irsa-policy") == [query]
    assert query in _policy(amp, "kube-prometheus-stack-grafana-irsa-policy")


def test_amp_remote_write_is_signed_sized_and_deduplicates_replicas(modes):
    values = modes["amp"].release("kube-prometheus-stack")["values"]
    prometheus = values["prometheus"]
    assert (
        prometheus["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
        == "arn:aws:iam::111122223333:role/metrics-backend-prometheus-irsa-role-mock0001"
    )
    spec = prometheus["prometheusSpec"]
    assert spec["remoteWrite"] == [
        {
            "url": f"{ENDPOINT}api/v1/remote_write",
            "sigv4": {"region": "eu-west-1"},
            "queueConfig": {"capacity": 10000, "maxShards": 50, "maxSamplesPerSend": 2000, "batchSendDeadline": "5s"},
        }
    ]
    assert spec["replicaExternalLabelName"] == "__replica__"
    assert spec["externalLabels"] == {"cluster": "fixture", "environment": "prod"}
    datasources = values["grafana"]["additionalDataSources"]
    assert datasources[0] == {
        "name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy", "url": ENDPOINT, "isDefault": True,
        "jsonData": {"httpMethod": "POST", "sigV4Auth": True, "sigV4AuthType": "default", "sigV4Region": "eu-west-1"},
    }  # fmt: skip
    assert values["grafana"]["sidecar"]["datasources"]["defaultDatasourceEnabled"] is False
    argo = modes["amp"].release("argo-rollouts")["values"]
    assert (
        argo["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
        == "arn:aws:iam::111122223333:role/metrics-backend-argo-rollouts-irsa-role-mock0001"
    )


def test_thanos_bucket_roles_and_sidecar(modes):
    thanos = modes["thanos"]
    bucket = thanos.named("metrics-backend-bucket")
    assert bucket.protect and bucket.retain_on_delete and bucket.inputs["forceDestroy"] is False
    (lifecycle,) = [
        r
        for r in thanos.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if r.name.startswith("metrics-backend")
    ]
    assert [rule["id"] for rule in lifecycle.inputs["rules"]] == ["abort-incomplete-uploads"]  # retention is the compactor's
    expected = {
        "metrics-backend-prometheus-irsa": ("monitoring:kube-prometheus-stack-prometheus", ["s3:GetObject", "s3:PutObject"]),
        "metrics-backend-thanos-store-irsa": ("monitoring:thanos-store", ["s3:GetObject"]),
        "metrics-backend-thanos-compact-irsa": ("monitoring:thanos-compact", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]),
    }
    for role, (account, actions) in expected.items():
        assert _trust_subject(thanos, f"{role}-role") == f"system:serviceaccount:{account}"
        assert _policy(thanos, f"{role}-policy") == [
            {"Sid": "ListThanosBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
            {"Sid": "ThanosObjects", "Effect": "Allow", "Action": actions, "Resource": f"{BUCKET}/*"},
        ]
    # The provider keeps a Secret's data secret in state, even this one that holds no credentials.
    objstore = yaml.safe_load(thanos.named("metrics-backend-objstore").inputs["stringData"]["value"]["objstore.yml"])
    assert objstore == {
        "type": "S3",
        "config": {"bucket": "metrics-backend-bucket-mock0001", "endpoint": "s3.eu-west-1.amazonaws.com", "region": "eu-west-1"},
    }
    values = thanos.release("kube-prometheus-stack")["values"]["prometheus"]
    assert values["thanosService"] == {"enabled": True}
    assert values["prometheusSpec"]["thanos"]["objectStorageConfig"] == {
        "existingSecret": {"name": "thanos-objstore", "key": "objstore.yml"}
    }
    compact = thanos.named("metrics-backend-thanos-compact").inputs["spec"]
    assert compact["replicas"] == 1
    args = compact["template"]["spec"]["containers"][0]["args"]
    assert "--deduplication.replica-label=prometheus_replica" in args and "--retention.resolution-raw=30d" in args
    query = thanos.named("metrics-backend-thanos-query").inputs["spec"]
    assert query["replicas"] == 2
    assert "--query.replica-label=prometheus_replica" in query["template"]["spec"]["containers"][0]["args"]


@pytest.mark.parametrize("mode", ["amp", "thanos"])
def test_every_backend_policy_is_parliament_clean_and_scoped(modes, mode):
    for name, field, document in _policies(modes[mode]):
        findings = _findings(document)
        if field == "assumeRolePolicy":
            assert {issue for issue, _ in findings} <= {"UNKNOWN_FEDERATION_SOURCE", "MALFORMED"}, (name, findings)
            continue
        assert findings == [], (name, findings)
        for statement in document["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if str(statement.get("Sid")) in {"RemoteWrite", "QueryWorkspace"}:
                assert resources == [WORKSPACE], name
            if "Thanos" in str(statement.get("Sid")):
                assert resources in ([BUCKET], [f"{BUCKET}/*"]), name


def _custom(result: RunResult, kind: str) -> dict[str, dict]:
    return {r.name: r.inputs for r in result.of_type(f"kubernetes:{kind}")}


def test_rules_and_queries_are_the_same_text_whichever_backend_reads_them(modes):
    rules = {mode: _custom(result, "monitoring.coreos.com/v1:PrometheusRule") for mode, result in modes.items()}
    assert rules["amp"] == rules["prometheus"] == rules["thanos"]
    assert len(rules["prometheus"]) > 1
    templates = {mode: _custom(result, "argoproj.io/v1alpha1:AnalysisTemplate") for mode, result in modes.items()}
    for name, template in templates["prometheus"].items():
        queries = [m["provider"]["prometheus"]["query"] for m in template["spec"]["metrics"]]
        for mode in ("amp", "thanos"):
            assert [m["provider"]["prometheus"]["query"] for m in templates[mode][name]["spec"]["metrics"]] == queries
    amp_provider = next(iter(templates["amp"].values()))["spec"]["metrics"][0]["provider"]["prometheus"]
    assert amp_provider["address"] == ENDPOINT and amp_provider["authentication"] == {"sigv4": {"region": "eu-west-1"}}
    thanos_provider = next(iter(templates["thanos"].values()))["spec"]["metrics"][0]["provider"]["prometheus"]
    assert thanos_provider["address"] == "http://thanos-query.monitoring.svc.cluster.local:9090" and "authentication" not in thanos_provider


def test_thanos_flows_are_exactly_the_ones_it_needs(modes):
    from tests.test_network_policies import ARGO, GRAFANA, PROMETHEUS, STRANGER, TEAM_POD, _policies, allowed

    query, store, compact = (("monitoring", {"app.kubernetes.io/name": app}) for app in ("thanos-query", "thanos-store", "thanos-compact"))
    policies = _policies(modes["thanos"])
    flows = [
        (GRAFANA, query, 9090, True),
        (ARGO, query, 9090, True),
        (PROMETHEUS, query, 9090, True),
        (TEAM_POD, query, 9090, False),
        (STRANGER, query, 9090, False),
        (query, PROMETHEUS, 10901, True),  # the sidecar's store API
        (GRAFANA, PROMETHEUS, 10901, False),
        (query, store, 10901, True),
        (GRAFANA, store, 10901, False),
        (PROMETHEUS, store, 10902, True),  # scrape
        (PROMETHEUS, compact, 10902, True),
        (STRANGER, compact, 10902, False),
    ]
    assert [allowed(policies, source, target, port) for source, target, port, _ in flows] == [ok for *_, ok in flows]
    assert not [p for p in _policies(modes["prometheus"]) if p["metadata"]["name"].startswith("thanos")]


def test_thanos_workloads_are_valid_kubernetes_objects(modes):
    from tests.manifests import validate

    kinds = {
        "kubernetes:apps/v1:Deployment": "Deployment",
        "kubernetes:apps/v1:StatefulSet": "StatefulSet",
        "kubernetes:core/v1:Service": "Service",
    }
    found = 0
    for registration in modes["thanos"].registrations:
        if registration.typ in kinds and registration.name.startswith("metrics-backend-thanos"):
            api = "v1" if kinds[registration.typ] == "Service" else "apps/v1"
            doc = {
                "apiVersion": api,
                "kind": kinds[registration.typ],
                "metadata": registration.inputs["metadata"],
                "spec": registration.inputs["spec"],
            }
            assert validate(doc) == [], registration.name
            found += 1
    assert found == 5


@pytest.mark.parametrize("mode", ["amp", "thanos"])
def test_the_policy_pack_passes_and_sees_an_unprotected_store(modes, mode):
    import copy

    from tests.delivery.test_policy import POLICIES, violations

    registrations = modes[mode].registrations
    for name in POLICIES:
        assert violations(name, registrations, {"stacks": ["prod"]}) == [], name
    store = "metrics-backend-workspace" if mode == "amp" else "metrics-backend-bucket"
    unprotected = [copy.copy(r) for r in registrations]
    for r in unprotected:
        if r.name == store and r.custom:
            r.protect = False
    found = violations("prod-stateful-resources-protected", unprotected, {"stacks": ["prod"]})
    assert len(found) == 1 and store in found[0], found
