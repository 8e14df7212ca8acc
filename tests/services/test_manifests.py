"""Per-service manifests on registered resources: what the golden files cannot show (intent, config edits)."""

from __future__ import annotations

import re

from components.conventions import FORBIDDEN_LABELS
from tests.conftest import FLEET
from tests.manifests import validate
from tests.services.support import PROMETHEUS, SERVICE_KINDS, service_stack


def test_one_complete_stack_per_service(prod, shared_schemas):
    for service in FLEET:
        stack = service_stack(prod, service)
        assert sorted(stack) == ["analysis", "network-policy", "pdb", "rollout", "rules", "service", "servicemonitor"], service
        kinds = sorted(doc["kind"] for doc in stack.values())
        assert kinds == SERVICE_KINDS
        for doc in stack.values():
            assert validate(doc, shared_schemas / "crds") == [], (service, doc["kind"])


def test_relabelling_keeps_only_the_contract(prod):
    rules = service_stack(prod, "orders-api")["servicemonitor"]["spec"]["endpoints"][0]["metricRelabelings"]
    keep_labels = re.compile(next(r for r in rules if r["action"] == "labelkeep")["regex"])  # Prometheus anchors relabel regexes
    for label in FORBIDDEN_LABELS + ("exported_service", "exported_version", "customer", "url_path"):
        assert not keep_labels.fullmatch(label), label
    # A forbidden label marks its sample as a violation instead of being merged away.
    flagged = {r["sourceLabels"][0] for r in rules if r.get("targetLabel") == "forbidden_label"}
    assert flagged == set(FORBIDDEN_LABELS)
    for label in ("method", "path", "status", "service", "version", "le", "__name__"):
        assert keep_labels.fullmatch(label), label
    keep_metrics = re.compile(rules[0]["regex"])
    assert keep_metrics.fullmatch("http_request_duration_seconds_bucket")
    assert not keep_metrics.fullmatch("http_request_duration_seconds_created")
    assert not keep_metrics.fullmatch("user_sessions_total")


def test_legacy_php_service_uses_its_adapter(prod):
    stack = service_stack(prod, "legacy-api")
    assert stack["service"]["spec"]["ports"] == [
        {"name": "http", "port": 8010, "targetPort": "http", "protocol": "TCP"},
        {"name": "metrics", "port": 9117, "targetPort": "metrics", "protocol": "TCP"},
    ]
    endpoint = stack["servicemonitor"]["spec"]["endpoints"][0]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    app, adapter = stack["rollout"]["spec"]["template"]["spec"]["containers"]
    assert app["ports"] == [{"name": "http", "containerPort": 8010, "protocol": "TCP"}]
    assert adapter["name"] == "metrics-adapter"
    assert adapter["image"] == "registry.example.com/legacy-metrics-adapter:1.3.0"
    assert adapter["ports"] == [{"name": "metrics", "containerPort": 9117, "protocol": "TCP"}]


def test_app_serving_metrics_on_a_second_port(run, make_config):
    values = make_config("prod")
    del values["services"][1]["metricsAdapterImage"]
    stack = service_stack(run(values, stack="prod"), "legacy-api")
    (app,) = stack["rollout"]["spec"]["template"]["spec"]["containers"]
    assert app["ports"] == [
        {"name": "http", "containerPort": 8010, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9117, "protocol": "TCP"},
    ]
    assert stack["servicemonitor"]["spec"]["endpoints"][0]["port"] == "metrics"


def test_rollout_can_take_over_a_deployment(run, make_config, shared_schemas):
    values = make_config("dev")
    values["services"][0] = {"name": "orders-api", "namespace": "orders", "port": 8080, "version": "1.4.2", "workloadRef": "orders-api"}
    rollout = service_stack(run(values), "orders-api")["rollout"]
    assert rollout["spec"]["workloadRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "orders-api",
        "scaleDown": "progressively",
    }
    assert "template" not in rollout["spec"]
    assert validate(rollout, shared_schemas / "crds") == []


def test_adding_a_service_is_one_config_entry(run, make_config, shared_schemas):
    values = make_config("dev")
    before = run(values)
    values["services"].append(
        {"name": "newprep-api", "namespace": "newprep", "port": 8012, "version": "0.1.0", "image": "registry.example.com/newprep-api:0.1.0"}
    )
    after = run(values)
    added = {(r.typ, r.name) for r in after.registrations} - {(r.typ, r.name) for r in before.registrations}
    assert added == {
        ("eks-observability:services:ServiceMonitoring", "svc-newprep-api"),
        ("kubernetes:core/v1:Service", "svc-newprep-api-service"),
        ("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "svc-newprep-api-servicemonitor"),
        ("kubernetes:argoproj.io/v1alpha1:Rollout", "svc-newprep-api-rollout"),
        ("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "svc-newprep-api-analysis"),
        ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "svc-newprep-api-rules"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "svc-newprep-api-pdb"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "svc-newprep-api-network-policy"),
        ("kubernetes:core/v1:NamespacePatch", "namespaces-newprep"),
    }
    for doc in service_stack(after, "newprep-api").values():
        assert validate(doc, shared_schemas / "crds") == []
    assert after.outputs["serviceDashboards"].value["newprep-api"] == (
        "http://kube-prometheus-stack-grafana.monitoring.svc.cluster.local/d/service-detail/?var-namespace=newprep&var-service=newprep-api"
    )
    # Nothing else changed, but the LogQL rules: the new service's error-log rule is new content, so a new
    # ConfigMap and sync Job (named by that content) replace the previous ones.
    rules_sync = {"loki-rules-rules", "loki-rules-sync"}
    unchanged = {(r.typ, r.name): r.inputs for r in before.registrations}
    for reg in after.registrations:
        if (reg.typ, reg.name) in unchanged and reg.typ != "kubernetes:helm.sh/v3:Release" and reg.name not in rules_sync:
            assert reg.inputs == unchanged[(reg.typ, reg.name)], reg.name
    (rules,) = [r for r in after.registrations if r.name == "loki-rules-rules"]
    assert "newprep-api" in rules.inputs["data"]["services.error-logs.yaml"]


def test_custom_resources_wait_for_their_crds(prod):
    """ServiceMonitors and rules wait for the operator CRDs, Rollouts for the chart that installs theirs."""
    crds = {r.urn for r in prod.of_type("kubernetes:yaml/v2:ConfigFile")}
    argo_release = prod.named("argo-rollouts-release").urn
    for service in FLEET:
        for role in ("servicemonitor", "rules", "rollout", "analysis"):
            reg = prod.named(f"svc-{service}-{role}")
            assert crds <= set(reg.depends_on), reg.name
            assert argo_release in reg.depends_on, reg.name


def test_stack_outputs(prod):
    outputs = {name: out.value for name, out in prod.outputs.items()}
    assert outputs["grafanaUrl"] == "https://grafana.example.com"
    assert outputs["prometheusUrl"] == PROMETHEUS
    assert outputs["alertmanagerUrl"] == "http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093"
    assert outputs["lokiBucketName"] == "loki-bucket-mock0001"
    assert outputs["logGroupName"] == "/aws/eks/fixture/containers"
    assert sorted(outputs["serviceDashboards"]) == sorted(FLEET)
    assert outputs["serviceDashboards"]["billing-api"] == (
        "https://grafana.example.com/d/service-detail/?var-namespace=billing&var-service=billing-api"
    )
    for key in ("lokiRoleArn", "fluentBitRoleArn", "grafanaRoleArn"):
        assert outputs[key].startswith("arn:aws:iam::111122223333:role/")
    assert not any(out.secret for out in prod.outputs.values())


def test_background_analysis_from_config(run, make_config, shared_schemas):
    values = make_config("dev")
    values["services"][0]["analysis"] = {"background": True}
    rollout = service_stack(run(values), "orders-api")["rollout"]
    assert rollout["spec"]["strategy"]["canary"]["analysis"] == {
        "templates": [{"templateName": "orders-api-canary"}],
        "args": [
            {"name": "namespace", "value": "orders"},
            {"name": "service", "value": "orders-api"},
            {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        ],
        "startingStep": 1,
    }
    assert validate(rollout, shared_schemas / "crds") == []
    assert "analysis" not in service_stack(run(make_config("dev")), "orders-api")["rollout"]["spec"]["strategy"]["canary"]


def test_the_platform_does_not_claim_a_teams_own_objects(prod):
    """`app.kubernetes.io/part-of` names the application a workload belongs to: the team's product,
    not the platform that monitors it. The monitoring objects are the platform's."""
    part_of = "app.kubernetes.io/part-of"
    for service in FLEET:
        stack = service_stack(prod, service)
        for key in ("service", "rollout", "pdb", "network-policy"):
            assert part_of not in stack[key]["metadata"]["labels"], (service, key)
            assert stack[key]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pulumi"
        template = stack["rollout"]["spec"].get("template")
        if template:
            assert part_of not in template["metadata"]["labels"], service
        for key in ("servicemonitor", "analysis", "rules"):
            assert stack[key]["metadata"]["labels"][part_of] == "eks-observability", (service, key)
