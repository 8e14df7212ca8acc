"""docs/ci-setup.md against the workflows it sets up: the GitHub environments the jobs run in, the
variables they read, one trust subject per environment, and policies parliament finds nothing in."""

from __future__ import annotations

import json
import re

from tests.aws.test_iam import TRUST_POLICY_FALSE_POSITIVES, _findings
from tests.conftest import ROOT, STACK_FILES
from tests.delivery.test_workflows import WORKFLOWS, _load

GUIDE = (ROOT / "docs" / "ci-setup.md").read_text()
PROVIDER = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"


def _json_blocks() -> list[dict]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", GUIDE, flags=re.DOTALL)]


def _environments_in_workflows() -> set[str]:
    preview = _load("pull-request.yml")["jobs"]["preview"]
    stacks = [m["stack"] for m in preview["strategy"]["matrix"]["include"]]
    assert preview["environment"] == "${{ matrix.stack }}-preview"
    assert _load("pulumi-up.yml")["jobs"]["up"]["environment"] == "${{ inputs.stack }}"
    deployed = [job["with"]["stack"] for job in _load("deploy.yml")["jobs"].values() if "with" in job]
    return {f"{stack}-preview" for stack in stacks} | set(deployed)


def test_the_guide_names_exactly_the_environments_the_jobs_run_in():
    environments = _environments_in_workflows()
    assert environments == {f"{stack}-preview" for stack in STACK_FILES} | set(STACK_FILES)
    table = set(re.findall(r"^\| `([a-z-]+)` \| `(?:pull-request|pulumi-up)\.yml`", GUIDE, flags=re.MULTILINE))
    assert table == environments
    subjects = set(re.findall(r"repo:ORG/REPO:environment:([a-z-]+)", GUIDE))
    assert subjects == environments


def test_the_guide_names_the_variables_the_workflows_read():
    read = set()
    for path in WORKFLOWS.glob("*.yml"):
        read |= set(re.findall(r"vars\.([A-Z_]+)", path.read_text()))
        read |= {m["role"] for job in _load(path.name)["jobs"].values() for m in job.get("strategy", {}).get("matrix", {}).get("include", [])}
    assert read == {"AWS_DEPLOY_ROLE_ARN", "AWS_PREVIEW_ROLE_ARN_DEV", "AWS_PREVIEW_ROLE_ARN_PROD"}
    assert all(f"`{name}`" in GUIDE for name in read)


def test_the_trust_policy_pins_one_environment_and_the_audience():
    trust, preview = _json_blocks()
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER} and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:ORG/REPO:environment:prod",
        }
    }
    assert {issue for issue, _ in _findings(trust)} <= TRUST_POLICY_FALSE_POSITIVES
    # The preview policy reads and never writes.
    assert _findings(preview) == []
    actions = [a for s in preview["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert all(re.match(r"^[a-z0-9]+:(Get|Describe|List)", action) for action in actions), actions
