"""kube-prometheus-stack, Alertmanager routing, DCGM exporter, Argo Rollouts, optional integrations."""

from __future__ import annotations

import json

import pytest
import yaml

from components.conventions import KUBE_PROMETHEUS_STACK_OPERATOR, SELECTOR_LABELS
from tests import promtool
from tests.golden import assert_golden
from tools.mockrun import RunResult

SELECTOR = {"matchLabels": {"release": "kube-prometheus-stack"}}


def _values(result: RunResult, name: str) -> dict:
    return result.release(name)["values"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_selectors_match_every_monitor_and_rule(stack, request):
    """The selectors and the labels on everything this program creates come from one constant."""
    result = request.getfixturevalue(stack)
    spec = _values(result, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe"):
        assert spec[f"{kind}Selector"] == SELECTOR
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}NamespaceSelector"] == {}
    selector = spec["serviceMonitorSelector"]["matchLabels"]
    for reg in result.registrations:
        if reg.inputs.get("kind") in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
            assert selector.items() <= reg.inputs["metadata"]["labels"].items(), reg.name
    # Monitors the charts create carry the same label.
    assert _values(result, "loki")["monitoring"]["serviceMonitor"]["labels"] == SELECTOR_LABELS
    assert _values(result, "fluent-bit")["serviceMonitor"]["selector"] == SELECTOR_LABELS
    assert _values(result, "argo-rollouts")["controller"]["metrics"]["serviceMonitor"]["additionalLabels"] == SELECTOR_LABELS


def test_eks_control_plane_is_not_scraped_nor_alerted(dev):
    values = _values(dev, "kube-prometheus-stack")
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[component] == {"enabled": False}
    rules = values["defaultRules"]["rules"]
    for group in ("etcd", "kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "kubeProxy"):
        assert rules[group] is False
    assert values["nodeExporter"] == {"enabled": True}
    assert values["kubeStateMetrics"] == {"enabled": True}


def test_crds_are_managed_beside_the_release(prod):
    release = prod.release("kube-prometheus-stack")
    assert release["skipCrds"] is True
    assert release["values"]["crds"] == {"enabled": False}
    files = prod.of_type("kubernetes:yaml/v2:ConfigFile")
    # The operator's CRDs from the pinned chart's own `crds` subchart, checked whole against tests/golden.
    assert_golden("metrics/operator-crds.yaml", sorted(f.inputs["file"] for f in files))
    crd_urns = {f.urn for f in files}
    rules = prod.named("kube-prometheus-stack-platform-rules")
    assert crd_urns <= set(rules.depends_on)
    assert crd_urns <= set(
        next(r for r in prod.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "kube-prometheus-stack").depends_on
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_crds_are_retained_everywhere_and_protected_in_prod(stack, request):
    """Deleting a CRD deletes every object of its kind in the cluster, other teams' included."""
    result = request.getfixturevalue(stack)
    files = result.of_type("kubernetes:yaml/v2:ConfigFile")
    assert len(files) == 10
    for crd in files:
        assert crd.retain_on_delete is True, crd.name
        assert crd.protect is (stack == "prod"), crd.name
        # The same options reach each CRD the ConfigFile registers (the provider does not pass them on).
        assert crd.transforms == 1, crd.name


def test_crds_are_the_pinned_charts_files(prod):
    """No URL fetched per file: the chart package's own CRDs, the bytes Helm would install."""
    from tools import charts

    for crd in prod.of_type("kubernetes:yaml/v2:ConfigFile"):
        path = crd.inputs["file"]
        assert path.startswith(".charts/kube-prometheus-stack-88.5.3/charts/crds/crds/crd-") and "://" not in path
        mirrored = charts.CHARTS_DIR / path.removeprefix(".charts/")
        if mirrored.is_file():
            from tests.conftest import ROOT

            assert (ROOT / path).read_bytes() == mirrored.read_bytes()
            from tests.manifests import _Loader

            doc = yaml.load(mirrored.read_text(), Loader=_Loader)
            assert doc["metadata"]["annotations"]["operator.prometheus.io/version"] == "0.93.1"


def test_crd_version_follows_the_chart(shared_schemas):
    chart = yaml.safe_load((shared_schemas / "charts" / "kube-prometheus-stack" / "Chart.yaml").read_text())
    assert KUBE_PROMETHEUS_STACK_OPERATOR[str(chart["version"])] == chart["appVersion"]


def test_unknown_chart_version_is_a_config_error(run, make_config):
    result = run(make_config("dev", prometheusStack={"chartVersion": "90.0.0"}), check=False)
    assert 'prometheusStack.chartVersion: got "90.0.0"; has no known prometheus-operator version' in str(result.error)
    assert result.registrations == []


def test_receiver_secret_holds_the_secrets(prod):
    secret = prod.named("kube-prometheus-stack-alertmanager-receivers").inputs
    assert secret["metadata"]["name"] == "alertmanager-receivers"
    from pulumi.runtime import rpc

    assert rpc.is_rpc_secret(secret["stringData"])
    assert sorted(rpc.unwrap_rpc_secret(secret["stringData"])) == [
        "heartbeat-credentials",
        "pagerduty-routing-key",
        "slack-critical-url",
        "slack-warning-url",
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_amtool_accepts_the_config(stack, request):
    config = _values(request.getfixturevalue(stack), "kube-prometheus-stack")["alertmanager"]["config"]
    proc = promtool.check_alertmanager(config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_routing_by_severity(prod):
    config = _values(prod, "kube-prometheus-stack")["alertmanager"]["config"]
    assert promtool.route(config, "severity=critical", "alertname=NodeDown") == ["pagerduty-critical", "slack-critical"]
    assert promtool.route(config, "severity=warning", "alertname=NodeDiskSpaceLow") == ["slack-warning"]
    # The dead man's switch goes to the heartbeat; info alerts never reach the warning channel.
    assert promtool.route(config, "severity=none", "alertname=Watchdog") == ["heartbeat"]
    assert promtool.route(config, "severity=none", "alertname=InfoInhibitor") == ["null"]
    assert promtool.route(config, "severity=info", "alertname=Anything") == ["null"]
    # A broken integration is reported through the other one.
    failed = "alertname=AlertmanagerFailedToSendAlerts"
    assert promtool.route(config, "severity=warning", failed, "integration=slack") == ["pagerduty-critical"]
    assert promtool.route(config, "severity=warning", failed, "integration=pagerduty") == ["slack-critical"]


def test_dev_without_receivers_routes_to_null(dev):
    config = _values(dev, "kube-prometheus-stack")["alertmanager"]["config"]
    assert promtool.route(config, "severity=critical", "alertname=NodeDown") == ["null"]
    assert promtool.route(config, "severity=none", "alertname=Watchdog") == ["null"]
    assert _values(dev, "kube-prometheus-stack")["alertmanager"]["alertmanagerSpec"]["secrets"] == []


def test_amtool_rejects_a_broken_config():
    proc = promtool.check_alertmanager({"route": {"receiver": "missing"}, "receivers": [{"name": "null"}]})
    assert proc.returncode != 0


def test_grafana_cloudwatch_role(prod):
    trust = json.loads(prod.named("kube-prometheus-stack-grafana-irsa-role").inputs["assumeRolePolicy"])
    sub = next(v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    assert sub == "system:serviceaccount:monitoring:grafana"
    policy = json.loads(prod.named("kube-prometheus-stack-grafana-irsa-policy").inputs["policy"])
    logs = next(s for s in policy["Statement"] if s["Sid"] == "QueryPlatformLogs")
    # The containers' group and the control plane's (the audit log), nothing else.
    assert logs["Resource"] == [
        "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/eks/fixture/cluster:*",
        "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/eks/fixture/containers:*",
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_default_credentials_anywhere(stack, request):
    blob = "\n".join(request.getfixturevalue(f"rendered_{stack}").values())
    for weak in ("prom-operator", "admin/admin", "changeme", "adminPassword"):
        assert weak not in blob


def test_dcgm_exporter_on_gpu_nodes_only(prod):
    release = prod.release("dcgm-exporter")
    assert (release["chart"], release["version"]) == ("dcgm-exporter", "4.8.2")
    values = release["values"]
    # No GFD label needed: plain EKS GPU AMIs are found by instance type.
    assert values["nodeSelector"] == {}
    (by_type, *by_label) = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert by_type["matchExpressions"][0]["key"] == "node.kubernetes.io/instance-type"
    assert {"g5.xlarge", "p4d.24xlarge", "g4dn.xlarge"} <= set(by_type["matchExpressions"][0]["values"])
    assert not any(t.startswith(("m5", "c5", "t3")) for t in by_type["matchExpressions"][0]["values"])
    assert [t["matchExpressions"][0]["key"] for t in by_label] == [
        "nvidia.com/gpu.present",
        "karpenter.k8s.aws/instance-gpu-manufacturer",
        "eks.amazonaws.com/instance-gpu-manufacturer",
    ]
    assert "DCGM_EXP_XID_ERRORS_COUNT, gauge" in values["customMetrics"]
    assert "DCGM_FI_PROF_" not in values["customMetrics"]
    assert values["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert (values["hostNetwork"], values["hostPID"]) == (False, False)
    assert values["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": []}
    assert values["securityContext"]["allowPrivilegeEscalation"] is False
    assert values["serviceMonitor"]["enabled"] is True
    assert values["serviceMonitor"]["additionalLabels"] == SELECTOR_LABELS
    dashboard = json.loads(prod.named("dcgm-exporter-dashboard").inputs["data"]["platform-gpu.json"])
    titles = [p["title"] for p in dashboard["panels"]]
    assert titles == [
        "GPU utilisation",
        "Framebuffer used",
        "Temperature",
        "Power draw",
        "By workload",
        "GPU utilisation by workload (mean of its GPUs)",
        "GPUs held by workload",
        "GPU memory used by workload",
    ]
    # The workload's labels come back from exported_* and a free GPU's series carry none.
    assert values["serviceMonitor"]["honorLabels"] is False
    assert values["serviceMonitor"]["metricRelabelings"] == [
        {"sourceLabels": ["exported_namespace"], "targetLabel": "namespace", "regex": "(.*)", "replacement": "$1", "action": "replace"},
        {"sourceLabels": ["exported_pod"], "targetLabel": "pod", "regex": "(.*)", "replacement": "$1", "action": "replace"},
        {"sourceLabels": ["exported_container"], "targetLabel": "container", "regex": "(.*)", "replacement": "$1", "action": "replace"},
        {"regex": "exported_(namespace|pod|container)", "action": "labeldrop"},
    ]


def test_dcgm_profiling_adds_sys_admin(run, make_config):
    result = run(make_config("dev", dcgmExporter={"enabled": True, "profilingMetrics": True}))
    values = _values(result, "dcgm-exporter")
    assert values["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["SYS_ADMIN"]}
    assert "DCGM_FI_PROF_SM_ACTIVE, gauge" in values["customMetrics"]


def test_dcgm_off_in_dev(dev):
    assert not [r for r in dev.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "dcgm-exporter"]


def test_dashboards_are_valid_grafana_json(rendered_prod):
    maps = {p: yaml.safe_load(t) for p, t in rendered_prod.items() if "/ConfigMap/dashboard-" in p}
    assert sorted(maps) == [
        "k8s/monitoring/ConfigMap/dashboard-argo-rollouts.yaml",
        "k8s/monitoring/ConfigMap/dashboard-eks-audit-log.yaml",
        "k8s/monitoring/ConfigMap/dashboard-platform-gpu.yaml",
        "k8s/monitoring/ConfigMap/dashboard-platform-overview.yaml",
        "k8s/monitoring/ConfigMap/dashboard-service-detail.yaml",
        "k8s/monitoring/ConfigMap/dashboard-service-error-budget.yaml",
        "k8s/monitoring/ConfigMap/dashboard-services-error-budgets.yaml",
    ]
    uids = set()
    for doc in maps.values():
        assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
        (text,) = doc["data"].values()
        dashboard = json.loads(text)
        uids.add(dashboard["uid"])
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                # PromQL, LogQL, or a CloudWatch Logs Insights query (the audit log's).
                assert target.get("expr") or target["expression"]
    assert uids == {
        "eks-audit-log",
        "platform-argo-rollouts",
        "platform-gpu",
        "platform-overview",
        "service-detail",
        "service-error-budget",
        "services-error-budgets",
    }


def test_grafana_replicas_must_be_one(run, make_config):
    result = run(make_config("dev", prometheusStack={"grafana": {"replicas": 2}}), check=False)
    assert "prometheusStack.grafana.replicas: got 2; must be 1" in str(result.error)


def test_prod_volumes_are_retained(prod, dev):
    retain = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    values = _values(prod, "kube-prometheus-stack")
    assert values["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"] == retain
    assert values["alertmanager"]["alertmanagerSpec"]["persistentVolumeClaimRetentionPolicy"] == retain
    assert values["grafana"]["persistence"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    loki = _values(prod, "loki")
    for target in ("ingester", "indexGateway", "compactor"):
        assert loki[target]["persistence"]["whenDeleted"] == "Retain"
        assert loki[target]["persistence"]["enableStatefulSetAutoDeletePVC"] is False
    dev_values = _values(dev, "kube-prometheus-stack")
    assert "persistentVolumeClaimRetentionPolicy" not in dev_values["prometheus"]["prometheusSpec"]
    assert "annotations" not in dev_values["grafana"]["persistence"]


HEALTHCHECKS_URL = "https://hc-ping.com/eb095278-f28d-448d-87fb-7b75c171a6aa"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (HEALTHCHECKS_URL, "a token-like path segment (eb09…)"),
        ("https://heartbeat.example.com/ping?token=abc", "a query string"),
        ("https://user:pass@heartbeat.example.com/ping", "user information before the host"),
        ("https://heartbeat.example.com/ping/0123456789abcdef0123", "a token-like path segment (0123…)"),
    ],
)
def test_a_heartbeat_url_carrying_a_credential_is_refused_without_echoing_it(make_config, run, url, reason):
    from components.stack import ConfigError

    values = make_config(alerting={"heartbeat": {"enabled": True, "url": url}})
    result = run(values, check=False)
    assert isinstance(result.error, ConfigError)
    (line,) = [issue for issue in result.error.issues if "heartbeat" in issue]
    assert line.startswith("eks-observability:alerting.heartbeat.url: got <value hidden>; ")
    assert f"the URL carries a credential ({reason})" in line and "pulumi config set --secret heartbeatUrl" in line
    for secret in ("eb095278-f28d-448d-87fb-7b75c171a6aa", "token=abc", "user:pass", "0123456789abcdef0123"):
        assert secret not in line
    assert result.registrations == [] or all(r.typ.startswith("pulumi:providers") for r in result.registrations)


def test_a_heartbeat_url_from_the_secret_is_read_with_url_file(make_config, run):
    result = run(make_config(alerting={"heartbeat": {"enabled": True}}))
    config = result.release("kube-prometheus-stack")["values"]["alertmanager"]["config"]
    (heartbeat,) = [r for r in config["receivers"] if r["name"] == "heartbeat"]
    assert heartbeat["webhook_configs"] == [
        {"url_file": "/etc/alertmanager/secrets/alertmanager-receivers/heartbeat-url", "send_resolved": False}
    ]
    check = promtool.check_alertmanager(config)
    assert check.returncode == 0, check.stdout + check.stderr
    from pulumi.runtime import rpc

    secret = result.named("kube-prometheus-stack-alertmanager-receivers").inputs["stringData"]
    assert rpc.is_rpc_secret(secret) and "heartbeat-url" in rpc.unwrap_rpc_secret(secret)


def test_a_heartbeat_url_needs_its_secret(make_config, run):
    from components.stack import ConfigError

    values = make_config(alerting={"heartbeat": {"enabled": True}})
    result = run(values, secrets={"grafanaAdminPassword": "x"}, check=False)
    assert isinstance(result.error, ConfigError)
    assert any(line.startswith("eks-observability:heartbeatUrl: required secret is not set") for line in result.error.issues)


def test_crds_come_from_the_mirror_or_a_verified_download(tmp_path, monkeypatch):
    """The chart is copied from the mirror when it is there; otherwise downloaded, and a failure is one clear
    error (pulumi prints a RunError's message), never a traceback or a half-written cache."""
    from components.lib import charts as lib
    from components.metrics.stack import CHART

    mirror = tmp_path / "mirror" / "kube-prometheus-stack-88.5.3"
    (mirror / "charts" / "crds" / "crds").mkdir(parents=True)
    (mirror / "Chart.yaml").write_text("name: kube-prometheus-stack\nversion: 88.5.3\n")
    (mirror / "charts" / "crds" / "crds" / "crd-probes.yaml").write_text("kind: CustomResourceDefinition\n")
    monkeypatch.setattr(lib, "PROJECT_ROOT", tmp_path / "project")
    monkeypatch.setenv("CHARTS_DIR", str(tmp_path / "mirror"))
    assert lib.chart_file(CHART, "88.5.3", "charts/crds/crds/crd-probes.yaml") == (
        ".charts/kube-prometheus-stack-88.5.3/charts/crds/crds/crd-probes.yaml"
    )
    with pytest.raises(lib.ChartUnavailableError, match="has no charts/crds/crds/crd-nothing.yaml"):
        lib.chart_file(CHART, "88.5.3", "charts/crds/crds/crd-nothing.yaml")

    def offline(chart, version, target):
        raise lib.ChartUnavailableError(f"chart {chart.chart} {version}: offline")

    monkeypatch.setattr(lib, "_download", offline)
    with pytest.raises(lib.ChartUnavailableError, match="offline"):
        lib.chart_path(CHART, "99.0.0")
    assert not (tmp_path / "project" / ".charts" / "kube-prometheus-stack-99.0.0" / "Chart.yaml").exists()
