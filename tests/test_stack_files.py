"""The committed `Pulumi.<stack>.yaml` files are the user's: whatever services, sizes and switches
they hold, each must parse, validate, render deterministically, pass the real tools, and (prod)
protect its data. Nothing here pins a value a user may change."""

from __future__ import annotations

import re

import pytest
import yaml

from components.stack import StackConfig, load_stack_config
from tests import promtool
from tests.conftest import ROOT, STACK_FILES, run_stack_file
from tests.manifests import CRD_FILES, validate
from tests.services.support import SERVICE_KINDS
from tools.mockrun import RunResult, load_stack_file, run_program, with_redacted_secrets
from tools.render import render

# Resources that hold data: protected and retained wherever the stack protects its data.
STATEFUL = ("aws:s3/bucket:Bucket", "aws:cloudwatch/logGroup:LogGroup")


@pytest.fixture(scope="module", params=STACK_FILES)
def stack_file(request) -> tuple[str, StackConfig, RunResult]:
    stack = request.param
    config = load_stack_config(*with_redacted_secrets(*load_stack_file(stack)))
    return stack, config, run_stack_file(stack)


def _docs(result: RunResult) -> list[dict]:
    return [yaml.safe_load(text) for path, text in sorted(render(result).items()) if path.startswith("k8s/") and "/ConfigFile/" not in path]


def test_stack_files_exist():
    assert "dev" in STACK_FILES and "prod" in STACK_FILES


def test_renders_the_same_bytes_twice(stack_file):
    stack, _, result = stack_file
    assert render(result) == render(run_stack_file(stack))


def test_every_rule_file_passes_promtool(stack_file):
    _, _, result = stack_file
    rules = [d for d in _docs(result) if d["kind"] == "PrometheusRule"]
    assert rules
    for doc in rules:  # one file per object, as prometheus-operator loads them
        proc = promtool.check_rules(doc["spec"]["groups"])
        assert proc.returncode == 0, (doc["metadata"]["name"], proc.stdout + proc.stderr)


def test_alertmanager_config_passes_amtool(stack_file):
    _, config, result = stack_file
    if not config.prometheus_stack.enabled:
        pytest.skip("kube-prometheus-stack is off in this stack")
    alertmanager = result.release("kube-prometheus-stack")["values"]["alertmanager"]["config"]
    proc = promtool.check_alertmanager(alertmanager)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_manifests_are_valid(stack_file, shared_schemas):
    _, _, result = stack_file
    for doc in _docs(result):
        crd = (doc["apiVersion"].rpartition("/")[0], doc["kind"]) in CRD_FILES
        assert validate(doc, shared_schemas / "crds" if crd else None) == [], (doc["kind"], doc["metadata"]["name"])


def test_protected_stacks_protect_their_data(stack_file):
    _, config, result = stack_file
    stateful = [r for r in result.registrations if r.typ in STATEFUL]
    for reg in stateful:
        assert (reg.protect, reg.retain_on_delete) == (config.protect_data, config.protect_data), reg.name
    if config.prod:
        assert config.protect_data
        values = result.release("kube-prometheus-stack")["values"]
        retain = {"whenDeleted": "Retain", "whenScaled": "Retain"}
        assert values["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"] == retain


def test_every_service_gets_its_stack(stack_file):
    _, config, result = stack_file
    for service in config.services:
        kinds = sorted(r.inputs["kind"] for r in result.registrations if r.name.startswith(f"svc-{service.name}-") and r.custom)
        assert kinds == SERVICE_KINDS, service.name


def _edit(text: str, stack: str) -> dict[str, str]:
    """The everyday edits a user makes to a stack file, each applied on its own."""
    # A prod canary's first step must send the canary under half the traffic: 2 replicas is the least there.
    replicas = 2 if stack == "prod" else 1
    service = (
        f"    - {{name: newprep-api, namespace: newprep, port: 8012, replicas: {replicas}, version: 0.1.0, "
        "image: registry.example.com/newprep-api:0.1.0}\n"
    )
    marker = "  eks-observability:services:\n"
    edits = {"add a service": text.replace(marker, marker + service)}
    first = re.search(r"name: ([a-z0-9-]+), namespace", text)
    if first:
        edits["rename a service"] = text.replace(f"name: {first.group(1)},", "name: renamed-api,", 1)
    edits["bump a version"] = re.sub(
        r"version: ([0-9]+)\.([0-9]+)\.([0-9]+)", lambda m: f"version: {m.group(1)}.{int(m.group(2)) + 1}.0", text, count=1
    )
    if stack == "prod":
        edits["longer retention"] = text.replace("retention: 30d", "retention: 45d")
    for key in ("dcgmExporter", "datadog"):
        edits[f"enable {key}"] = (
            text + f"  eks-observability:{key}:\n    enabled: true\n"
            if f"eks-observability:{key}:" not in text
            else text.replace(f"  eks-observability:{key}:\n    enabled: false", f"  eks-observability:{key}:\n    enabled: true")
        )
    edits["enable slack"] = text.replace("    slack:\n      enabled: false", "    slack:\n      enabled: true")
    return edits


@pytest.mark.parametrize("stack", STACK_FILES)
def test_everyday_edits_stay_valid(stack, tmp_path):
    """Adding, renaming and retuning services or switching components on keeps a stack file deployable."""
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    for name, edited in _edit(text, stack).items():
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(edited)
        config, secret_keys = with_redacted_secrets(*load_stack_file(stack, tmp_path))
        result = run_program(config, secret_keys, stack=stack)
        rules = [r.inputs["spec"]["groups"] for r in result.registrations if r.custom and r.inputs.get("kind") == "PrometheusRule"]
        for groups in rules:
            proc = promtool.check_rules(groups)
            assert proc.returncode == 0, (name, proc.stdout + proc.stderr)
