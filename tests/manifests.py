"""Validate Kubernetes manifests: core kinds with kubernetes-validate, custom resources against
the upstream CRD schemas in ../shared/schemas/crds (made strict, as kubeconform -strict would)."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any, Optional

import kubernetes_validate
import yaml
from jsonschema import Draft7Validator

K8S_VERSION = "1.30.0"
CRD_FILES = {
    ("monitoring.coreos.com", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com", "PodMonitor"): "monitoring.coreos.com_podmonitors.yaml",
    ("monitoring.coreos.com", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
    ("monitoring.coreos.com", "Probe"): "monitoring.coreos.com_probes.yaml",
    ("monitoring.coreos.com", "AlertmanagerConfig"): "monitoring.coreos.com_alertmanagerconfigs.yaml",
    ("argoproj.io", "Rollout"): "argoproj.io_rollouts.yaml",
    ("argoproj.io", "AnalysisTemplate"): "argoproj.io_analysistemplates.yaml",
    ("argoproj.io", "ClusterAnalysisTemplate"): "argoproj.io_clusteranalysistemplates.yaml",
    ("argoproj.io", "AnalysisRun"): "argoproj.io_analysisruns.yaml",
}


class _Loader(yaml.SafeLoader):
    pass


# The AlertmanagerConfig CRD has a bare `=` scalar that PyYAML cannot type (shared/schemas README).
_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)  # type: ignore[type-var]


def _strict(schema: Any) -> Any:
    """Reject unknown fields like the API server's strict field validation would."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        # Go RE2 allows a non-leading `(?i)`; Python does not. Make the whole pattern case-insensitive.
        if isinstance(schema.get("pattern"), str) and "(?i)" in schema["pattern"][1:]:
            schema["pattern"] = "(?i)" + schema["pattern"].replace("(?i)", "")
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def crd_validator(crd_dir: Path, file_name: str, version: str) -> Draft7Validator:
    crd = yaml.load((crd_dir / file_name).read_text(), Loader=_Loader)
    spec = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    assert spec["served"], f"{file_name} {version} is not served"
    schema = copy.deepcopy(spec["schema"]["openAPIV3Schema"])
    # metadata is just `type: object` in CRD schemas; names are checked separately.
    return Draft7Validator(_strict(schema))


def validate(doc: dict[str, Any], crd_dir: Optional[Path] = None) -> list[str]:
    """Errors for one manifest; [] when valid."""
    group, _, version = doc["apiVersion"].rpartition("/")
    key = (group, doc["kind"])
    if key in CRD_FILES:
        if crd_dir is None:
            raise LookupError(f"{doc['kind']} needs the CRD schemas")
        validator = crd_validator(crd_dir, CRD_FILES[key], version)
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
        name = (doc.get("metadata") or {}).get("name", "")
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name) or len(name) > 253:
            errors.append(f"metadata.name: {name!r} is not a DNS-1123 subdomain")
        return sorted(errors)
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        return [f"{'.'.join(map(str, err.path))}: {err.message}"]
    return []
