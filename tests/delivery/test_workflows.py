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
    assert "make test" in pr["jobs"]["test"]["steps"][-1]["run"]
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
