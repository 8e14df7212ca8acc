"""The committed `Pulumi.<stack>.yaml` files are the user's: whatever services, sizes and switches
they hold, each must parse, validate, render deterministically, pass the real tools, and (prod)
protect its data. Nothing here pins a value a user may change."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from components.stack import StackConfig, load_stack_config
from tests import promtool
from tests.conftest import ROOT, STACK_FILES, run_stack_file
from tests.manifests import CRD_FILES, validate
from tests.services.support import SERVICE_KINDS, service_stack
from tools.mockrun import RunResult, load_stack_file, run_program, stack_config, with_redacted_secrets
from tools.render import render

# Resources that hold data: protected and retained wherever the stack protects its data.
STATEFUL = ("aws:s3/bucket:Bucket", "aws:cloudwatch/logGroup:LogGroup")


@pytest.fixture(scope="module", params=STACK_FILES)
def stack_file(request) -> tuple[str, StackConfig, RunResult]:
    stack = request.param
    return stack, stack_config(stack), run_stack_file(stack)


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
        # The control-plane log group is retained in every stack: EKS writes into it whatever the platform
        # does, and it may have been EKS's own before the platform adopted it.
        retained = config.protect_data or reg.name == "control-plane-logs-log-group"
        assert (reg.protect, reg.retain_on_delete) == (config.protect_data, retained), reg.name
    if config.prod:
        assert config.protect_data
        values = result.release("kube-prometheus-stack")["values"]
        retain = {"whenDeleted": "Retain", "whenScaled": "Retain"}
        assert values["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"] == retain


def test_every_service_gets_its_stack(stack_file):
    _, config, result = stack_file
    for service in config.services:
        kinds = sorted(r["kind"] for r in service_stack(result, service.name).values())
        assert kinds == SERVICE_KINDS, service.name


SERVICES = "eks-observability:services"


def _edit(text: str, stack: str) -> dict[str, str]:
    """The everyday edits a user makes to a stack file, each applied on its own, through a YAML
    parser as `pulumi config set` or any tool does (the file comes back re-serialised)."""
    original = yaml.safe_load(text)

    def edited(change: Callable[[dict[str, Any]], None]) -> str:
        data = copy.deepcopy(original)
        change(data["config"])
        return yaml.safe_dump(data, sort_keys=False)

    services: list[dict[str, Any]] = original["config"].get(SERVICES) or []
    # A prod canary's first step must send the canary under half the traffic: 2 replicas is the least there.
    replicas = 2 if stack == "prod" else 1

    def new_service(name: str) -> dict[str, Any]:
        return {"name": name, "namespace": name, "port": 8012, "replicas": replicas, "version": "0.1.0", "image": f"registry.example.com/{name}:0.1.0"}

    def add(config: dict[str, Any], *names: str) -> None:
        config.setdefault(SERVICES, []).extend(new_service(name) for name in names)

    def switch(section: str, *path: str) -> Callable[[dict[str, Any]], None]:
        def on(config: dict[str, Any]) -> None:
            node = config.setdefault(f"eks-observability:{section}", {})
            for part in path:
                node = node.setdefault(part, {})
            node["enabled"] = True

        return on

    edits = {
        "add a service": edited(lambda c: add(c, "newprep-api")),
        "enable dcgmExporter": edited(switch("dcgmExporter")),
        "enable datadog": edited(switch("datadog")),
        "enable slack": edited(switch("alerting", "slack")),
    }
    if services:
        first = services[0]["name"]
        # Names that prefix or extend an existing one: each service's objects are its own.
        edits["add services whose names prefix others'"] = edited(lambda c: add(c, first.rsplit("-", 1)[0], f"{first}-v2"))
        edits["rename a service"] = edited(lambda c: c[SERVICES][0].update(name="renamed-api"))
        edits["remove a service"] = edited(lambda c: c[SERVICES].pop(0))
        edits["reorder the services"] = edited(lambda c: c[SERVICES].reverse())

        def bump(config: dict[str, Any]) -> None:
            major, minor, _ = str(config[SERVICES][0]["version"]).split(".", 2)
            config[SERVICES][0]["version"] = f"{major}.{int(minor) + 1}.0"

        edits["bump a version"] = edited(bump)
    if stack == "prod":
        edits["longer retention"] = edited(lambda c: c["eks-observability:prometheusStack"]["prometheus"].update(retention="45d"))
    return edits


@pytest.mark.parametrize("stack", STACK_FILES)
def test_everyday_edits_stay_valid(stack, tmp_path):
    """Adding, renaming, removing, reordering and retuning services or switching components on keeps
    a stack file deployable, and every service still gets exactly its own objects. The edits go
    through a YAML parser, so a copy a YAML tool has rewritten gets the very same edits."""
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    rewritten = yaml.safe_dump(yaml.safe_load(text), sort_keys=False, width=60, indent=4)
    assert rewritten != text and _edit(rewritten, stack) == _edit(text, stack)
    for name, edited in _edit(text, stack).items():
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(edited)
        config, secret_keys = with_redacted_secrets(*load_stack_file(stack, tmp_path))
        result = run_program(config, secret_keys, stack=stack)
        services = load_stack_config(config, secret_keys).services
        for service in services:
            kinds = sorted(r["kind"] for r in service_stack(result, service.name).values())
            assert kinds == SERVICE_KINDS, (name, service.name)
        rules = [r.inputs["spec"]["groups"] for r in result.registrations if r.custom and r.inputs.get("kind") == "PrometheusRule"]
        for groups in rules:
            proc = promtool.check_rules(groups)
            assert proc.returncode == 0, (name, proc.stdout + proc.stderr)
