"""CI workflows: actionlint-clean, preview on every PR, prod behind approval, no long-lived keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def _actionlint() -> str:
    path = shutil.which("actionlint") or str(ROOT / ".venv" / "bin" / "actionlint")
    if not Path(path).exists():
        pytest.fail("actionlint not found: `make test` installs it from requirements-dev.txt")
    return path


def _load(name: str) -> dict:
    # PyYAML reads the `on:` key as True.
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True)
    return doc


def test_actionlint_passes():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 3
    proc = subprocess.run([_actionlint(), "-color=false", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_actionlint_can_fail(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.evnt.number }}\n")
    proc = subprocess.run([_actionlint(), "-color=false", str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0


def test_pull_request_tests_and_previews_both_stacks():
    pr = _load("pull-request.yml")
    assert pr["on"] == {"pull_request": {"branches": ["main"]}}
    assert pr["jobs"]["test"]["steps"][-1]["run"] == "bash .ci/run"
    preview = pr["jobs"]["preview"]
    assert [m["stack"] for m in preview["strategy"]["matrix"]["include"]] == ["dev", "prod"]
    assert preview["permissions"]["id-token"] == "write"
    action = next(s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@") and "with" in s)
    assert action["with"]["command"] == "preview"
    assert action["with"]["comment-on-pr"] is True
    assert action["with"]["policyPacks"] == "policy"
    diff = pr["jobs"]["rendered-diff"]
    assert any("make --no-print-directory diff" in s.get("run", "") for s in diff["steps"])
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in diff["steps"])


def test_deploy_goes_dev_then_prod_behind_its_environment():
    deploy = _load("deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert deploy["jobs"]["dev"]["needs"] == "test"
    assert deploy["jobs"]["prod"]["needs"] == "dev"
    assert deploy["jobs"]["prod"]["with"]["stack"] == "prod"
    up = _load("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    assert up["concurrency"] == {"group": "pulumi-${{ inputs.stack }}", "cancel-in-progress": False}
    action = next(s for s in up["steps"] if s.get("uses", "").startswith("pulumi/actions@") and "with" in s)
    assert (action["with"]["command"], action["with"]["policyPacks"]) == ("up", "policy")


def test_no_long_lived_aws_keys():
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, path.name
        if "configure-aws-credentials" in text:
            assert "role-to-assume" in text and "id-token: write" in text, path.name


def test_main_runs_every_test_a_pull_request_runs():
    """The merge-to-main job used to skip the schema tests: both run the schema fetch and .ci/run."""
    runs = {
        name: [s.get("run") for s in doc["jobs"]["test"]["steps"] if "run" in s]
        for name, doc in (("pull-request", _load("pull-request.yml")), ("deploy", _load("deploy.yml")))
    }
    assert runs["pull-request"] == runs["deploy"] == ["make schemas", "bash .ci/run"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "export REQUIRE_SHARED_SCHEMAS=1" in ci and "make test" in ci


def test_cluster_and_region_come_from_the_stack_config():
    """No workflow repeats a stack's cluster or region: each job reads them from the stack file
    (tools/ci_target.py) before it assumes a role or writes a kubeconfig."""
    from tests.conftest import STACK_FILES
    from tools.ci_target import target

    texts = {path.name: path.read_text() for path in WORKFLOWS.glob("*.yml")}
    for stack in STACK_FILES:
        where = target(stack)
        for name, text in texts.items():
            assert where["cluster"] not in text and f"aws-region: {where['region']}" not in text, (stack, name)
    for job in (_load("pull-request.yml")["jobs"]["preview"], _load("pulumi-up.yml")["jobs"]["up"]):
        steps = job["steps"]
        reads = next(i for i, s in enumerate(steps) if "tools.ci_target" in s.get("run", ""))
        assume = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
        assert reads < assume and steps[reads]["id"] == "target"
        assert steps[assume]["with"]["aws-region"] == "${{ steps.target.outputs.region }}"
        kubeconfig = next(s for s in steps if "update-kubeconfig" in s.get("run", ""))
        assert kubeconfig["env"] == {"CLUSTER": "${{ steps.target.outputs.cluster }}", "REGION": "${{ steps.target.outputs.region }}"}


def test_ci_target_prints_the_stack_files_cluster_and_region():
    import sys

    proc = subprocess.run([sys.executable, "-m", "tools.ci_target", "--stack", "prod"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["eks-observability:cluster"]
    assert proc.returncode == 0 and proc.stdout == f"cluster={config['name']}\nregion={config['region']}\n"
