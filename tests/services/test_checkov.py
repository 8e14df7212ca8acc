"""checkov on the service workloads the program owns (Rollouts scanned as the Deployments they
stand for, with their Services, PDBs and NetworkPolicies): no failed check but the intentional ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCANNED_KINDS = ("Rollout", "Service", "PodDisruptionBudget", "NetworkPolicy")
# Failed on purpose, each for the reason given (README, "Service workloads and checkov").
INTENTIONAL = {
    "CKV_K8S_11": "no CPU limit: CFS throttling adds latency to the very p95 the canary judges; CPU requests are set",
    "CKV_K8S_15": "imagePullPolicy IfNotPresent: versioned tags and digests don't change, and Always makes every restart depend on the registry",
    "CKV_K8S_40": "the image's own non-root USER is kept (runAsNonRoot is enforced); services[].runAsUser sets a UID of 10000 or more",
    "CKV_K8S_43": "tags are accepted beside digests (services[].image); a digest passes this check",
}


def _checkov() -> str:
    for candidate in (os.environ.get("CHECKOV"), str(ROOT / ".venv-checkov" / "bin" / "checkov"), shutil.which("checkov")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("checkov not found: `make test` installs it into .venv-checkov (or set CHECKOV)")


def as_deployment(rollout: dict[str, Any]) -> dict[str, Any]:
    """What checkov knows how to read: the Rollout's pod template under a Deployment."""
    spec = {k: v for k, v in rollout["spec"].items() if k != "strategy"}
    return {**rollout, "apiVersion": "apps/v1", "kind": "Deployment", "spec": spec}


def _workloads(rendered: dict[str, str], namespaces: set[str]) -> dict[str, dict[str, Any]]:
    files = {}
    for path, text in rendered.items():
        parts = path.split("/")
        if len(parts) != 4 or parts[0] != "k8s" or parts[1] not in namespaces or parts[2] not in SCANNED_KINDS:
            continue
        manifest = yaml.safe_load(text)
        if manifest["kind"] == "Rollout":
            if "workloadRef" in manifest["spec"]:
                continue  # the pod template is the team's Deployment, not the program's
            manifest = as_deployment(manifest)
        files[f"{parts[1]}-{parts[2]}-{parts[3]}"] = manifest
    return files


def scan(manifests: dict[str, dict[str, Any]], directory: Path) -> dict[str, set[str]]:
    """check id -> resources that failed it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, manifest in manifests.items():
        (directory / name).write_text(yaml.safe_dump(manifest, sort_keys=True))
    proc = subprocess.run(
        [_checkov(), "-d", str(directory), "--framework", "kubernetes", "--quiet", "--compact", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    failed: dict[str, set[str]] = {}
    for result in report["results"]["failed_checks"]:
        failed.setdefault(result["check_id"], set()).add(result["resource"])
    return failed


@pytest.fixture(scope="module")
def service_workloads(rendered_prod: dict[str, str], prod: Any) -> dict[str, dict[str, Any]]:
    namespaces = {r.inputs["metadata"]["namespace"] for r in prod.of_type("kubernetes:argoproj.io/v1alpha1:Rollout")}
    workloads = _workloads(rendered_prod, namespaces)
    assert {m["kind"] for m in workloads.values()} == {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"}
    return workloads


def test_only_intentional_checks_fail(service_workloads, tmp_path):
    failed = scan(service_workloads, tmp_path / "scan")
    deployments = {
        f"Deployment.{m['metadata']['namespace']}.{m['metadata']['name']}" for m in service_workloads.values() if m["kind"] == "Deployment"
    }
    assert set(failed) == set(INTENTIONAL), {k: sorted(v) for k, v in failed.items() if k not in INTENTIONAL}
    # Each intentional failure is on the workloads themselves, nothing else.
    assert all(resources <= deployments for resources in failed.values())
    assert len(deployments) == 2  # the fixture's billing-api takes over its team's Deployment (workloadRef)


def test_the_scan_catches_planted_defects(service_workloads, tmp_path):
    """Remove the liveness probe, the read-only root and the NetworkPolicy of one service: checkov says so."""
    planted = json.loads(json.dumps(service_workloads))
    deployment = next(m for m in planted.values() if m["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    del container["livenessProbe"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    name, namespace = deployment["metadata"]["name"], deployment["metadata"]["namespace"]
    planted = {k: v for k, v in planted.items() if not (v["kind"] == "NetworkPolicy" and v["metadata"]["namespace"] == namespace)}
    failed = scan(planted, tmp_path / "planted")
    resource = f"Deployment.{namespace}.{name}"
    for check in ("CKV_K8S_8", "CKV_K8S_22"):
        assert resource in failed.get(check, set()), (check, sorted(failed))
    # The graph check names the pod the Deployment makes.
    assert any(pod.startswith(f"Pod.{namespace}.{name}.") for pod in failed.get("CKV2_K8S_6", set())), sorted(failed)


def test_a_digest_and_a_high_uid_pass_their_checks(run, make_config, tmp_path):
    from tools.render import render

    digest = "registry.example.com/orders-api@sha256:" + "a" * 64
    values = make_config("prod")
    values["services"][0].update(image=digest, runAsUser=10001)
    result = run(values, stack="prod")
    workloads = _workloads(render(result), {values["services"][0]["namespace"]})
    failed = scan(workloads, tmp_path / "scan")
    assert "CKV_K8S_43" not in failed and "CKV_K8S_40" not in failed, sorted(failed)
