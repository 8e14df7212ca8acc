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
    # AMP keeps no exemplars: its datasource has no exemplar link.
    assert datasources[0] == {
        "name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy", "url": ENDPOINT, "isDefault": True,
        "jsonData": {"httpMethod": "POST", "timeInterval": "30s", "sigV4Auth": True, "sigV4AuthType": "default", "sigV4Region": "eu-west-1"},
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


TRACE_LINK = {
    "name": "trace_id",
    "urlDisplayLabel": "Log lines of this trace",
    "url": "/explore?schemaVersion=1&orgId=1&panes=%7B%22logs%22%3A%7B%22datasource%22%3A%22loki%22%2C%22queries%22%3A%5B%7B%22datasource"
    "%22%3A%7B%22type%22%3A%22loki%22%2C%22uid%22%3A%22loki%22%7D%2C%22expr%22%3A%22%7Bnamespace%3D~%5C%22.%2B%5C%22%7D%20%7C%3D%20%5C%22"
    "${__value.raw}%5C%22%22%2C%22refId%22%3A%22A%22%7D%5D%2C%22range%22%3A%7B%22from%22%3A%22now-24h%22%2C%22to%22%3A%22now%22%7D%7D%7D",
}


@pytest.mark.parametrize(
    ("mode", "linked"),
    [("prometheus", {"prometheus": True}), ("thanos", {"prometheus": True, "prometheus-cluster": True}),
     ("amp", {"prometheus": False, "prometheus-cluster": True})],
)  # fmt: skip
def test_exemplars_are_stored_and_link_to_their_traces_log_lines(modes, mode, linked):
    """Prometheus keeps the services' exemplars, and every datasource that serves them links each to
    the Loki lines of its trace: the chart's own datasource can only link to a tracing datasource,
    so the program defines them in every mode. The service dashboard's latency panel shows them."""
    values = modes[mode].release("kube-prometheus-stack")["values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["enableFeatures"] == ["exemplar-storage"] and spec["exemplars"] == {"maxSize": 100000}
    grafana = values["grafana"]
    assert grafana["sidecar"]["datasources"]["defaultDatasourceEnabled"] is False
    datasources = {d["uid"]: d for d in grafana["additionalDataSources"] if d["type"] == "prometheus"}
    assert {uid: "exemplarTraceIdDestinations" in d["jsonData"] for uid, d in datasources.items()} == linked
    for uid, d in datasources.items():
        assert d["jsonData"]["timeInterval"] == "30s"
        if linked[uid]:
            assert d["jsonData"]["exemplarTraceIdDestinations"] == [TRACE_LINK]
    assert datasources["prometheus"]["isDefault"] is True
    if mode == "prometheus":
        assert datasources["prometheus"]["url"] == "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    board = json.loads(modes[mode].named("kube-prometheus-stack-dashboard-services").inputs["data"]["service-detail.json"])
    (latency,) = [p for p in board["panels"] if p["title"].startswith("Latency")]
    assert [t.get("exemplar", False) for t in latency["targets"]] == [mode != "amp", False, False]


def test_the_trace_link_opens_a_loki_query_for_the_trace_id():
    """Decoded the way Grafana's Explore reads it, the link is a Loki pane whose LogQL filters every
    namespace's lines by the trace id Grafana puts in place of `${__value.raw}`."""
    import urllib.parse

    from components.metrics.backend import trace_logs_link

    link = trace_logs_link()
    assert link == TRACE_LINK
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link["url"].replace("${__value.raw}", trace)).query)
    assert query["schemaVersion"] == ["1"]
    pane = json.loads(query["panes"][0])["logs"]
    assert pane["datasource"] == "loki" and pane["queries"][0]["datasource"] == {"type": "loki", "uid": "loki"}
    assert pane["queries"][0]["expr"] == f'{{namespace=~".+"}} |= "{trace}"'


def test_no_exemplar_storage_no_links(tmp_path):
    """`exemplars: 0` turns the storage off, and with it the links and the panel's exemplars."""
    from tests.conftest import REDACTED, SECRET_CONFIG_KEYS
    from tests.stackfixtures import fixture_values, to_pulumi_config
    from tools.mockrun import run_program

    values = fixture_values("prod", prometheusStack={"prometheus": {"exemplars": 0}})
    result = run_program(*to_pulumi_config(values, {k: REDACTED for k in SECRET_CONFIG_KEYS}), stack="prod")
    release = result.release("kube-prometheus-stack")["values"]
    assert "enableFeatures" not in release["prometheus"]["prometheusSpec"]
    assert "exemplars" not in release["prometheus"]["prometheusSpec"]
    (prometheus,) = [d for d in release["grafana"]["additionalDataSources"] if d["type"] == "prometheus"]
    assert "exemplarTraceIdDestinations" not in prometheus["jsonData"]
    board = json.loads(result.named("kube-prometheus-stack-dashboard-services").inputs["data"]["service-detail.json"])
    assert not any(t.get("exemplar") for p in board["panels"] for t in p.get("targets", []))
