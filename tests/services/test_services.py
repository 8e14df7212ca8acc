"""Per-service monitoring stacks: manifests, canary analysis decisions, SLO alerts, the fleet."""

from __future__ import annotations

import json
import math
import re

import pytest
import yaml

from components.conventions import FORBIDDEN_LABELS, record_latency
from tests import promtool
from tests.argo_expr import phase
from tests.conftest import FLEET
from tests.manifests import validate
from tools.mockrun import RunResult

RUNBOOKS = "https://github.com/eks-observability/eks-observability/blob/main/docs/runbooks.md"
PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"


def _stack(result: RunResult, service: str) -> dict[str, dict]:
    prefix = f"svc-{service}-"
    return {
        r.name.removeprefix(prefix): r.inputs
        for r in result.registrations
        if r.name.startswith(prefix) and r.custom
    }


def test_one_complete_stack_per_service(prod, shared_schemas):
    for service in FLEET:
        stack = _stack(prod, service)
        assert sorted(stack) == ["analysis", "rollout", "rules", "service", "servicemonitor"], service
        kinds = sorted(doc["kind"] for doc in stack.values())
        assert kinds == ["AnalysisTemplate", "PrometheusRule", "Rollout", "Service", "ServiceMonitor"]
        for doc in stack.values():
            assert validate(doc, shared_schemas / "crds") == [], (service, doc["kind"])


def test_service_and_monitor(prod):
    stack = _stack(prod, "my-ktube-api")
    service = stack["service"]
    assert service["metadata"]["labels"] == {
        "app.kubernetes.io/name": "my-ktube-api",
        "app.kubernetes.io/instance": "my-ktube-api",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/part-of": "eks-observability",
    }
    assert service["spec"] == {
        "type": "ClusterIP",
        "selector": {"app.kubernetes.io/name": "my-ktube-api"},
        "ports": [{"name": "http", "port": 8001, "targetPort": "http", "protocol": "TCP"}],
    }
    monitor = stack["servicemonitor"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "my-ktube-api"}},
        "namespaceSelector": {"matchNames": ["ktube"]},
        "sampleLimit": 20000,
        "endpoints": [
            {
                "port": "http",
                "path": "/metrics",
                "interval": "30s",
                "relabelings": [
                    {
                        "action": "replace",
                        "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_version"],
                        "regex": "(.+)",
                        "targetLabel": "version",
                    }
                ],
                "metricRelabelings": [
                    {
                        "action": "keep",
                        "sourceLabels": ["__name__"],
                        "regex": "http_requests_total|http_request_duration_seconds_(bucket|count|sum)",
                    },
                    {
                        "action": "labelkeep",
                        "regex": "__name__|le|job|instance|namespace|pod|container|endpoint|service|method|path|status|version",
                    },
                ],
            }
        ],
    }


def test_relabelling_keeps_only_the_contract(prod):
    rules = _stack(prod, "seedtest-api")["servicemonitor"]["spec"]["endpoints"][0]["metricRelabelings"]
    keep_labels = re.compile(rules[1]["regex"])  # Prometheus anchors relabel regexes
    for label in FORBIDDEN_LABELS + ("exported_service", "exported_version", "customer", "url_path"):
        assert not keep_labels.fullmatch(label), label
    for label in ("method", "path", "status", "service", "version", "le", "__name__"):
        assert keep_labels.fullmatch(label), label
    keep_metrics = re.compile(rules[0]["regex"])
    assert keep_metrics.fullmatch("http_request_duration_seconds_bucket")
    assert not keep_metrics.fullmatch("http_request_duration_seconds_created")
    assert not keep_metrics.fullmatch("user_sessions_total")


def test_legacy_php_service_uses_its_adapter(prod):
    stack = _stack(prod, "mpcstudy-api")
    assert stack["service"]["spec"]["ports"] == [
        {"name": "http", "port": 8010, "targetPort": "http", "protocol": "TCP"},
        {"name": "metrics", "port": 9117, "targetPort": "metrics", "protocol": "TCP"},
    ]
    endpoint = stack["servicemonitor"]["spec"]["endpoints"][0]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    app, adapter = stack["rollout"]["spec"]["template"]["spec"]["containers"]
    assert app["ports"] == [{"name": "http", "containerPort": 8010, "protocol": "TCP"}]
    assert adapter["name"] == "metrics-adapter"
    assert adapter["image"] == "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/mpcstudy-metrics-adapter:1.3.0"
    assert adapter["ports"] == [{"name": "metrics", "containerPort": 9117, "protocol": "TCP"}]


def test_app_serving_metrics_on_a_second_port(run, make_config):
    values = make_config("prod")
    del values["services"][7]["metricsAdapterImage"]
    stack = _stack(run(values, stack="prod"), "mpcstudy-api")
    (app,) = stack["rollout"]["spec"]["template"]["spec"]["containers"]
    assert app["ports"] == [
        {"name": "http", "containerPort": 8010, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9117, "protocol": "TCP"},
    ]
    assert stack["servicemonitor"]["spec"]["endpoints"][0]["port"] == "metrics"


def test_rollout_canary_steps(prod):
    rollout = _stack(prod, "my-ktube-api")["rollout"]
    spec = rollout["spec"]
    args = [
        {"name": "namespace", "value": "ktube"},
        {"name": "service", "value": "my-ktube-api"},
        {"name": "canary-version", "value": "1.8.2"},
    ]
    analysis = {"analysis": {"templates": [{"templateName": "my-ktube-api-canary"}], "args": args}}
    assert spec["strategy"]["canary"]["steps"] == [
        {"setWeight": 10},
        {"pause": {"duration": "60s"}},
        analysis,
        {"setWeight": 50},
        {"pause": {"duration": "60s"}},
        analysis,
    ]
    assert spec["strategy"]["canary"]["canaryMetadata"] == {"labels": {"rollouts.argoproj.io/track": "canary"}}
    assert spec["strategy"]["canary"]["stableMetadata"] == {"labels": {"rollouts.argoproj.io/track": "stable"}}
    assert spec["replicas"] == 3
    template = spec["template"]
    assert template["metadata"]["labels"]["app.kubernetes.io/version"] == "1.8.2"
    (container,) = template["spec"]["containers"]
    assert container["image"] == "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/my-ktube-api:1.8.2"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_rollout_can_take_over_a_deployment(run, make_config, shared_schemas):
    values = make_config("dev")
    values["services"][0] = {"name": "my-ktube-api", "namespace": "ktube", "port": 8001, "version": "1.8.2", "workloadRef": "my-ktube-api"}
    rollout = _stack(run(values), "my-ktube-api")["rollout"]
    assert rollout["spec"]["workloadRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "my-ktube-api",
        "scaleDown": "progressively",
    }
    assert "template" not in rollout["spec"]
    assert validate(rollout, shared_schemas / "crds") == []


def test_analysis_template(prod):
    spec = _stack(prod, "my-ktube-api")["analysis"]["spec"]
    assert spec["args"] == [{"name": "namespace"}, {"name": "service"}, {"name": "canary-version"}]
    selector = '{namespace="{{args.namespace}}", service="{{args.service}}", version="{{args.canary-version}}"}'
    assert spec["metrics"] == [
        {
            "name": "p95-latency",
            "interval": "60s",
            "count": 5,
            "failureLimit": 1,
            "inconclusiveLimit": 1,
            "successCondition": "len(result) > 0 && !isNaN(result[0]) && result[0] < 0.3",
            "failureCondition": "len(result) > 0 && !isNaN(result[0]) && result[0] >= 0.3",
            "provider": {"prometheus": {"address": PROMETHEUS, "query": f"service_version:http_request_duration_seconds:p95_rate2m{selector}"}},
        },
        {
            "name": "error-ratio",
            "interval": "60s",
            "count": 5,
            "failureLimit": 1,
            "inconclusiveLimit": 1,
            "successCondition": "len(result) > 0 && !isNaN(result[0]) && result[0] < 0.02",
            "failureCondition": "len(result) > 0 && !isNaN(result[0]) && result[0] >= 0.02",
            "provider": {"prometheus": {"address": PROMETHEUS, "query": f"service_version:http_request_error_ratio:rate2m{selector}"}},
        },
    ]


# --- canary analysis through the real Prometheus engine -------------------------------------------

SERIES = 'namespace="ktube", service="my-ktube-api", method="GET", path="/v1/videos"'
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")


def _traffic(version: str, ok: int, errors: int, buckets: tuple[int, ...]) -> list[dict[str, str]]:
    """Counters growing by these amounts per minute (ok/5xx requests, cumulative bucket counts)."""
    labels = f'{SERIES}, version="{version}"'
    series = [
        {"series": f'http_requests_total{{{labels}, status="200"}}', "values": f"0+{ok}x20"},
        {"series": f'http_requests_total{{{labels}, status="500"}}', "values": f"0+{errors}x20"},
    ]
    series += [
        {"series": f'http_request_duration_seconds_bucket{{{labels}, status="200", le="{le}"}}', "values": f"0+{n}x20"}
        for le, n in zip(BUCKETS, buckets)
    ]
    return series


# Stable (1.8.1) is deliberately bad: the canary's verdict must come from canary series only.
STABLE = _traffic("1.8.1", 300, 300, (0, 0, 0, 0, 0, 600))
CANARIES = {
    # name: (series, expected p95, expected 5xx ratio, p95 verdict, error verdict)
    "healthy": (_traffic("1.8.2", 597, 3, (0, 600, 600, 600, 600, 600)), 0.0975, 0.005, "Successful", "Successful"),
    "slow": (_traffic("1.8.2", 600, 0, (0, 0, 0, 570, 600, 600)), 0.5, 0.0, "Failed", "Successful"),
    "erroring": (_traffic("1.8.2", 570, 30, (0, 600, 600, 600, 600, 600)), 0.0975, 0.05, "Successful", "Failed"),
    "idle": (_traffic("1.8.2", 0, 0, (0, 0, 0, 0, 0, 0)), math.nan, math.nan, "Inconclusive", "Inconclusive"),
}


def _argo_query(template: dict, metric: str) -> str:
    """The query as Argo sends it once the Rollout's args are substituted."""
    query = next(m for m in template["spec"]["metrics"] if m["name"] == metric)["provider"]["prometheus"]["query"]
    for arg, value in (("namespace", "ktube"), ("service", "my-ktube-api"), ("canary-version", "1.8.2")):
        query = query.replace(f"{{{{args.{arg}}}}}", value)
    return query


def _groups(result: RunResult, service: str) -> list[dict]:
    return _stack(result, service)["rules"]["spec"]["groups"]


@pytest.mark.parametrize("canary", sorted(CANARIES))
def test_canary_analysis_decision(canary, prod):
    series, p95, ratio, p95_verdict, error_verdict = CANARIES[canary]
    template = _stack(prod, "my-ktube-api")["analysis"]
    queries = {"p95-latency": _argo_query(template, "p95-latency"), "error-ratio": _argo_query(template, "error-ratio")}
    checks = []
    for metric, value in (("p95-latency", p95), ("error-ratio", ratio)):
        query = queries[metric]
        if math.isnan(value):
            # promtool cannot compare NaN with NaN: prove "one sample, and it is NaN" instead.
            checks += [
                {"expr": f"count({query})", "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 1}]},
                {"expr": f"count({query} == {query})", "eval_time": "10m", "exp_samples": []},
            ]
        else:
            record = query.split("{")[0]
            checks.append(
                {
                    "expr": query,
                    "eval_time": "10m",
                    "exp_samples": [{"labels": f'{record}{{namespace="ktube", service="my-ktube-api", version="1.8.2"}}', "value": value}],
                }
            )
    tests = [{"interval": "1m", "input_series": STABLE + series, "promql_expr_test": checks}]
    proc = promtool.test_rules(_groups(prod, "my-ktube-api"), tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # What Argo Rollouts then decides for each measurement.
    verdicts = {}
    for metric, value in (("p95-latency", p95), ("error-ratio", ratio)):
        spec = next(m for m in template["spec"]["metrics"] if m["name"] == metric)
        verdicts[metric] = phase(spec["successCondition"], spec["failureCondition"], [value])
    assert verdicts == {"p95-latency": p95_verdict, "error-ratio": error_verdict}


def test_canary_not_yet_scraped_is_inconclusive(prod):
    template = _stack(prod, "my-ktube-api")["analysis"]
    query = _argo_query(template, "error-ratio")
    proc = promtool.test_rules(
        _groups(prod, "my-ktube-api"),
        [{"interval": "1m", "input_series": STABLE, "promql_expr_test": [{"expr": query, "eval_time": "10m", "exp_samples": []}]}],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spec = template["spec"]["metrics"][1]
    assert phase(spec["successCondition"], spec["failureCondition"], []) == "Inconclusive"


# --- SLO burn-rate alerts ---------------------------------------------------------------------------

LONG = 4320 + 60  # three days of minutes and an hour: every window can fill


def _slo_series(ok: int, errors: int, fast: int, total: int, minutes: int = 60) -> list[dict[str, str]]:
    labels = f'{SERIES}, version="1.8.2"'
    return [
        {"series": f'http_requests_total{{{labels}, status="200"}}', "values": f"0+{ok}x{minutes}"},
        {"series": f'http_requests_total{{{labels}, status="500"}}', "values": f"0+{errors}x{minutes}"},
        {"series": f'http_request_duration_seconds_bucket{{{labels}, status="200", le="0.5"}}', "values": f"0+{fast}x{minutes}"},
        {"series": f'http_request_duration_seconds_count{{{labels}, status="200"}}', "values": f"0+{total}x{minutes}"},
    ]


def _slo_alert(name: str, slo: str, severity: str, objective: str, meaning: str, windows: str) -> dict:
    return {
        "exp_labels": {"namespace": "ktube", "service": "my-ktube-api", "severity": severity, "slo": slo},
        "exp_annotations": {
            "summary": f"my-ktube-api is burning its {slo} error budget ({'fast' if 'Fast' in name else 'slow'})",
            "description": f"my-ktube-api in ktube burns the {slo} budget of its {objective} objective ({meaning}) too fast: {windows}.",
            "runbook_url": f"{RUNBOOKS}#{name.lower()}",
        },
    }


FAST_WINDOWS = "1h/5m at 14.4x or 6h/30m at 6x"
SLOW_WINDOWS = "1d/2h at 3x or 3d/6h at 1x"
AVAILABILITY = ("availability", "99.50%", "of requests answered without 5xx")
LATENCY = ("latency", "99.00%", "of requests faster than 0.5s")
SLO_CASES = {
    # alert: (firing series, pending at, fires at, severity, slo, healthy series, idle series)
    "ServiceAvailabilityBudgetBurnFast": (_slo_series(540, 60, 600, 600), "2m", "3m", "critical", AVAILABILITY, FAST_WINDOWS),
    "ServiceAvailabilityBudgetBurnSlow": (_slo_series(588, 12, 600, 600), "15m", "16m", "warning", AVAILABILITY, SLOW_WINDOWS),
    "ServiceLatencyBudgetBurnFast": (_slo_series(600, 0, 480, 600), "2m", "3m", "critical", LATENCY, FAST_WINDOWS),
    "ServiceLatencyBudgetBurnSlow": (_slo_series(600, 0, 570, 600), "15m", "16m", "warning", LATENCY, SLOW_WINDOWS),
}


@pytest.mark.parametrize("alert", sorted(SLO_CASES))
def test_slo_alert_unit(alert, prod):
    series, pending, fires, severity, (slo, objective, meaning), windows = SLO_CASES[alert]
    expected = [_slo_alert(alert, slo, severity, objective, meaning, windows)]
    healthy = _slo_series(599, 1, 599, 600)  # 0.17% errors, 0.17% slow: within both budgets
    idle = _slo_series(0, 0, 0, 0)
    tests = [
        {
            "name": "fires",
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": pending, "alertname": alert, "exp_alerts": []},
                {"eval_time": fires, "alertname": alert, "exp_alerts": expected},
            ],
        },
        {"name": "healthy", "interval": "1m", "input_series": healthy, "alert_rule_test": [{"eval_time": "30m", "alertname": alert, "exp_alerts": []}]},
        {"name": "idle", "interval": "1m", "input_series": idle, "alert_rule_test": [{"eval_time": "30m", "alertname": alert, "exp_alerts": []}]},
    ]
    proc = promtool.test_rules(_groups(prod, "my-ktube-api"), tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_slow_burn_does_not_page(prod):
    """2% errors burn the budget 4x: a ticket, never a page."""
    series = _slo_series(588, 12, 600, 600, minutes=120)
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [{"eval_time": "2h", "alertname": "ServiceAvailabilityBudgetBurnFast", "exp_alerts": []}],
        }
    ]
    proc = promtool.test_rules(_groups(prod, "my-ktube-api"), tests)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_rules_pass_promtool_check(stack, request):
    """Each PrometheusRule is checked as the operator loads it: one rule file per object."""
    result = request.getfixturevalue(stack)
    for service in FLEET:
        proc = promtool.check_rules(_groups(result, service))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "SUCCESS: 24 rules found" in proc.stdout, proc.stdout


def test_service_alerts_are_annotated(prod):
    for service in FLEET:
        for group in _groups(prod, service):
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["labels"]["severity"] in ("critical", "warning")
                    assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}


# --- the fleet ----------------------------------------------------------------------------------------


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
        ("kubernetes:core/v1:Namespace", "namespaces-newprep"),
    }
    for doc in _stack(after, "newprep-api").values():
        assert validate(doc, shared_schemas / "crds") == []
    assert after.outputs["serviceDashboards"].value["newprep-api"] == (
        "http://kube-prometheus-stack-grafana.monitoring.svc.cluster.local/d/service-detail/?var-namespace=newprep&var-service=newprep-api"
    )
    # Nothing else changed.
    unchanged = {(r.typ, r.name): r.inputs for r in before.registrations}
    for reg in after.registrations:
        if (reg.typ, reg.name) in unchanged and reg.typ != "kubernetes:helm.sh/v3:Release":
            assert reg.inputs == unchanged[(reg.typ, reg.name)], reg.name


def test_custom_resources_wait_for_their_crds(prod):
    """ServiceMonitors and rules wait for the operator CRDs, Rollouts for the chart that installs theirs."""
    crds = {r.urn for r in prod.of_type("kubernetes:yaml/v2:ConfigFile")}
    argo_release = prod.named("argo-rollouts-release").urn
    for service in FLEET:
        for role in ("servicemonitor", "rules", "rollout", "analysis"):
            reg = prod.named(f"svc-{service}-{role}")
            assert crds <= set(reg.depends_on), reg.name
            assert argo_release in reg.depends_on, reg.name


def test_every_promql_expression_parses(rendered_prod):
    """Rules, analysis queries and dashboard queries, each parsed by promtool."""
    exprs: list[str] = []
    for path, text in rendered_prod.items():
        if not path.startswith("k8s/") or "/ConfigFile/" in path:
            continue
        doc = yaml.safe_load(text)
        if doc["kind"] == "PrometheusRule":
            exprs += [r["expr"] for g in doc["spec"]["groups"] for r in g["rules"]]
        elif doc["kind"] == "AnalysisTemplate":
            exprs += [m["provider"]["prometheus"]["query"] for m in doc["spec"]["metrics"]]
        elif doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("dashboard-"):
            for text_ in doc["data"].values():
                dashboard = json.loads(text_)
                exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
                exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert len(exprs) > 250
    substitutions = {"$__rate_interval": "1m", "$service": "svc", "$namespace": "ns", "$version": "1.0.0", "$node": "node"}
    rules = []
    for index, expr in enumerate(exprs):
        for var, value in substitutions.items():
            expr = expr.replace(var, value)
        expr = re.sub(r"\{\{args\.[a-z-]+\}\}", "x", expr)
        if expr.startswith("label_values("):  # Grafana templating, not PromQL: check its selector
            expr = re.sub(r"^label_values\((.*), [A-Za-z_]+\)$", r"\1", expr)
        rules.append({"record": f"check:expr_{index}", "expr": expr})
    proc = promtool.check_rules([{"name": "all-expressions", "rules": rules}])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promql_parse_check_can_fail():
    proc = promtool.check_rules([{"name": "bad", "rules": [{"record": "x:y", "expr": "sum by (a (rate(x[5m]))"}]}])
    assert proc.returncode != 0


def test_stack_outputs(prod):
    outputs = {name: out.value for name, out in prod.outputs.items()}
    assert outputs["grafanaUrl"] == "https://grafana.platform.example.com"
    assert outputs["prometheusUrl"] == PROMETHEUS
    assert outputs["alertmanagerUrl"] == "http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093"
    assert outputs["lokiBucketName"] == "loki-bucket-mock0001"
    assert outputs["logGroupName"] == "/aws/eks/platform-prod/containers"
    assert sorted(outputs["serviceDashboards"]) == sorted(FLEET)
    assert outputs["serviceDashboards"]["seedtest-api"] == (
        "https://grafana.platform.example.com/d/service-detail/?var-namespace=seedtest&var-service=seedtest-api"
    )
    for key in ("lokiRoleArn", "fluentBitRoleArn", "grafanaRoleArn"):
        assert outputs[key].startswith("arn:aws:iam::210987654321:role/")
    assert not any(out.secret for out in prod.outputs.values())


def test_service_dashboard_reads_recording_rules(prod):
    dashboard = json.loads(prod.named("kube-prometheus-stack-dashboard-services").inputs["data"]["service-detail.json"])
    assert dashboard["uid"] == "service-detail"
    panels = {p["title"]: [t["expr"] for t in p.get("targets", [])] for p in dashboard["panels"] if p["type"] == "timeseries"}
    scope = '{namespace="$namespace", service="$service", version=~"$version"}'
    assert panels == {
        "Requests per second by version": [f"service_version:http_requests:rate2m{scope}"],
        "5xx error ratio by version": [f"service_version:http_request_error_ratio:rate2m{scope}"],
        "Latency p50 / p95 / p99 by version": [f"{record_latency(q)}{scope}" for q in (0.5, 0.95, 0.99)],
        "Top 10 endpoints by p95 latency": [
            'topk(10, histogram_quantile(0.95, sum by (path, le) (rate(http_request_duration_seconds_bucket'
            '{namespace="$namespace", service="$service"}[$__rate_interval]))))'
        ],
    }
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["namespace", "service", "version"]


def test_background_analysis_from_config(run, make_config, shared_schemas):
    values = make_config("dev")
    values["services"][1]["analysis"] = {"background": True}
    rollout = _stack(run(values), "skillprepai-api")["rollout"]
    assert rollout["spec"]["strategy"]["canary"]["analysis"] == {
        "templates": [{"templateName": "skillprepai-api-canary"}],
        "args": [
            {"name": "namespace", "value": "skillprepai"},
            {"name": "service", "value": "skillprepai-api"},
            {"name": "canary-version", "value": "2.3.0"},
        ],
        "startingStep": 1,
    }
    assert validate(rollout, shared_schemas / "crds") == []
    assert "analysis" not in _stack(run(make_config("dev")), "skillprepai-api")["rollout"]["spec"]["strategy"]["canary"]
