"""Every object the cluster would get, the charts' included, validates against the Kubernetes schemas of
the version the charts are rendered for and against the CRDs that serve its kind (strict: unknown fields
fail, as the API server's strict field validation would)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator

from tests.charts.helm import STACKS, rendered
from tests.manifests import _Loader, _strict
from tools import charts

OPERATOR_CRDS = charts.CHARTS_DIR / "kube-prometheus-stack-88.5.3" / "charts" / "crds" / "crds"
KUBE_VERSION = charts.KUBE_VERSION


@functools.cache
def operator_crds() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.load(p.read_text(), Loader=_Loader) for p in sorted(Path(OPERATOR_CRDS).glob("*.yaml")))


def crd_validators(stack: str) -> dict[tuple[str, str, str], Draft7Validator]:
    """(group, version, kind) -> schema, from the operator CRDs the program installs and every CRD a chart renders."""
    crds = [*operator_crds(), *(obj for _, obj in rendered(stack).chart_objects() if obj["kind"] == "CustomResourceDefinition")]
    out = {}
    for crd in crds:
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if version.get("served") and schema:
                out[(spec["group"], version["name"], spec["names"]["kind"])] = Draft7Validator(_strict(schema))
    return out


def errors(obj: dict[str, Any], validators: dict[tuple[str, str, str], Draft7Validator]) -> list[str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    key = (group, version, obj["kind"])
    if key in validators:
        return [f"{'.'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validators[key].iter_errors(obj)]
    if group and "." in group and not group.endswith("k8s.io"):
        return [f"no CRD serves {obj['apiVersion']} {obj['kind']}"]
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        return [f"{'.'.join(map(str, err.path))}: {err.message[:300]}"]
    return []


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_validates(stack):
    validators = crd_validators(stack)
    problems = {}
    for origin, obj in rendered(stack).all_objects():
        found = errors(obj, validators)
        if found:
            problems[f"{origin}: {obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"] = found
    assert problems == {}


def test_a_planted_unknown_field_fails():
    validators = crd_validators("dev")
    prometheus = next(o for r, o in rendered("dev").chart_objects() if o["kind"] == "Prometheus")
    assert errors(prometheus, validators) == []
    planted = {**prometheus, "spec": {**prometheus["spec"], "retentionn": "3d"}}
    assert any("retentionn" in e for e in errors(planted, validators))
    deployment = next(o for r, o in rendered("dev").chart_objects() if o["kind"] == "Deployment")
    planted = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    assert errors(planted, validators) != []


MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Probe"}


def test_without_the_operator_nothing_needs_its_crds():
    """prometheusStack off: nothing installs the operator's CRDs, so no release may render a ServiceMonitor or
    PrometheusRule (Helm would fail on the unknown kind). Loki, Fluent Bit, DCGM and Argo Rollouts stay on."""
    from tests.charts.helm import rendered_values

    out = rendered_values(
        "no-operator", prometheusStack={"enabled": False}, services=[], dcgmExporter={"enabled": True}, argoRollouts={"enabled": True}
    )
    assert {r for r, _ in out.chart_objects()} >= {"loki", "fluent-bit", "dcgm-exporter", "argo-rollouts"}
    found = [f"{r}: {o['kind']}/{o['metadata']['name']}" for r, o in out.all_objects() if o["kind"] in MONITORING_KINDS]
    assert found == []
    # The same stack with the operator renders them: the check sees what it checks.
    on = rendered_values("with-operator", services=[], dcgmExporter={"enabled": True}, argoRollouts={"enabled": True})
    assert {r for r, o in on.chart_objects() if o["kind"] == "ServiceMonitor"} >= {"loki", "fluent-bit", "dcgm-exporter", "argo-rollouts"}
