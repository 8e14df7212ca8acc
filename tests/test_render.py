"""The offline render: contract layout, byte-for-byte determinism, bad config, no secrets."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, to_pulumi_config
from tools.mockrun import run_program
from tools.render import render

RENDER = [sys.executable, "-m", "tools.render"]


def _digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_render_twice_gives_identical_bytes(tmp_path, stack):
    digests = []
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        proc = subprocess.run([*RENDER, "--stack", stack, "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "resource type" in proc.stdout and "total" in proc.stdout
        digests.append(_digest(out))
    assert digests[0] == digests[1]
    assert len(digests[0]) > 10


def test_render_layout(rendered_prod):
    paths = set(rendered_prod)
    assert {
        "summary.json",
        "outputs.json",
        "options.json",
        "helm/loki.yaml",
        "helm/fluent-bit.yaml",
        "k8s/_cluster/Namespace/logging.yaml",
        "k8s/logging/ServiceAccount/loki.yaml",
        "k8s/logging/ServiceAccount/fluent-bit.yaml",
        "aws/s3.Bucket/loki-bucket.json",
        "aws/s3.BucketPolicy/loki-bucket-tls-only.json",
        "aws/s3.BucketLifecycleConfiguration/loki-bucket-lifecycle.json",
        "aws/iam.Role/loki-irsa-role.json",
        "aws/iam.RolePolicy/loki-irsa-policy.json",
        "aws/cloudwatch.LogGroup/fluent-bit-log-group.json",
    } <= paths
    release = yaml.safe_load(rendered_prod["helm/loki.yaml"])
    assert set(release) == {"release", "chart", "repository", "version", "namespace", "timeout", "values"}
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        "loki",
        "https://grafana-community.github.io/helm-charts",
        "18.11.0",
        "logging",
    )
    # Policies are JSON documents, not JSON strings inside JSON.
    policy = json.loads(rendered_prod["aws/iam.RolePolicy/loki-irsa-policy.json"])["policy"]
    assert policy["Version"] == "2012-10-17"


def test_summary_counts_by_type(rendered_prod, prod):
    summary = json.loads(rendered_prod["summary.json"])
    assert summary["total"] == len(prod.registrations)
    assert summary["resources"]["kubernetes:helm.sh/v3:Release"] == 6  # fluent-bit and its events collector are two
    assert summary["resources"]["aws:iam/role:Role"] == 3
    assert summary["resources"]["kubernetes:yaml/v2:ConfigFile"] == 10
    assert list(summary["resources"]) == sorted(summary["resources"])


def test_make_render_writes_rendered_stack_dir():
    proc = subprocess.run(["make", "render", "STACK=dev"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (ROOT / "rendered" / "dev" / "summary.json").is_file()


def test_bad_config_writes_nothing_and_exits_2(tmp_path):
    bad_stack = ROOT / "Pulumi.citest-bad.yaml"
    values = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    values["config"]["eks-observability:services"][3]["port"] = 70000
    values["config"]["eks-observability:loki"]["retension"] = "1h"
    bad_stack.write_text(yaml.safe_dump(values))
    out = tmp_path / "out"
    try:
        proc = subprocess.run([*RENDER, "--stack", "citest-bad", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    finally:
        bad_stack.unlink()
    assert proc.returncode == 2
    assert not out.exists()
    assert "eks-observability:services[3] (majorprepai-api).port: got 70000; Input should be less than or equal to 65535." in proc.stderr
    assert "eks-observability:loki.retension: unknown key. Did you mean 'retention'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_secret_values_never_rendered(make_config):
    secrets = {
        "grafanaAdminPassword": "pw-Zq81-never-render-me",
        "slackWebhookUrlCritical": "https://hooks.slack.com/services/T1/B1/critical-never-render",
        "slackWebhookUrlWarning": "https://hooks.slack.com/services/T1/B1/warning-never-render",
        "pagerdutyRoutingKey": "0123456789abcdef0123456789abcdef",
        "heartbeatCredentials": "genie-key-never-render-me",
    }
    config, secret_keys = to_pulumi_config(make_config("prod"))
    config.update({f"eks-observability:{k}": v for k, v in secrets.items()})
    secret_keys |= {f"eks-observability:{k}" for k in secrets}
    files = render(run_program(config, secret_keys, stack="prod"))
    blob = "\n".join(files.values())
    for value in secrets.values():
        assert value not in blob


def test_secret_outputs_are_redacted():
    from tools.mockrun import RunResult, StackOutput

    files = render(RunResult([], {"token": StackOutput("s3cr3t-value", True), "url": StackOutput("http://x", False)}))
    assert json.loads(files["outputs.json"]) == {"token": "[secret]", "url": "http://x"}


def test_options_show_what_a_reviewer_must_see(rendered_prod):
    options = json.loads(rendered_prod["options.json"])
    bucket = options["aws:s3/bucket:Bucket::loki-bucket"]
    assert bucket["protect"] is True and bucket["retainOnDelete"] is True
    assert bucket["parent"] == "eks-observability:aws:HardenedBucket::loki-bucket"
    assert any(a.startswith("parentUrn=") for a in bucket["aliases"])
    assert options["kubernetes:core/v1:NamespacePatch::namespaces-orders"]["retainOnDelete"] is True
    release = options["kubernetes:helm.sh/v3:Release::fluent-bit-release"]
    assert release["deleteBeforeReplace"] is True and release["file"] == "helm/fluent-bit.yaml"
    loki = options["kubernetes:helm.sh/v3:Release::loki-release"]
    assert "values.ingester.persistence.claims" in loki["replaceOnChanges"]
    assert "aws:cloudwatch/logGroup:LogGroup::fluent-bit-log-group" in release["dependsOn"]
