"""Every Kubernetes object the program renders is valid for its kind."""

from __future__ import annotations

import pytest
import yaml

from tests.manifests import CRD_FILES, validate


def _docs(rendered: dict[str, str]) -> list[tuple[str, dict]]:
    return [
        (path, yaml.safe_load(text)) for path, text in sorted(rendered.items()) if path.startswith("k8s/") and "/ConfigFile/" not in path
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_core_kinds_pass_strict_schema(stack, request):
    docs = _docs(request.getfixturevalue(f"rendered_{stack}"))
    core = [(p, d) for p, d in docs if (d["apiVersion"].rpartition("/")[0], d["kind"]) not in CRD_FILES]
    assert core
    for path, doc in core:
        assert validate(doc) == [], path


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_custom_resources_pass_upstream_crd_schema(stack, request, shared_schemas):
    docs = _docs(request.getfixturevalue(f"rendered_{stack}"))
    for path, doc in docs:
        if (doc["apiVersion"].rpartition("/")[0], doc["kind"]) in CRD_FILES:
            assert validate(doc, shared_schemas / "crds") == [], path


def test_core_validation_is_strict():
    bad = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x", "nam": "y"}}
    assert validate(bad) == ["metadata: Additional properties are not allowed ('nam' was unexpected)"]


def test_crd_validation_is_strict(shared_schemas):
    bad = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "endpoints": [{"port": "http", "interval": "30 seconds"}], "jobLabl": "x"},
    }
    errors = validate(bad, shared_schemas / "crds")
    assert any(e.startswith("spec: Additional properties are not allowed ('jobLabl'") for e in errors), errors
    assert any(e.startswith("spec.endpoints.0.interval:") for e in errors), errors
