"""The paths CI relies on: secrets reach previews and deploys, the schema fetch, `make diff`."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

from components.conventions import SECRET_CONFIG_KEYS
from tests.conftest import ROOT, STACK_FILES
from tests.delivery.test_workflows import _load
from tools import fetch_schemas
from tools.ci_secrets import env_name, needed


def _secret_step_env(job: dict) -> dict[str, str]:
    """The env of the one step that sets the stack's secrets, which runs before the Pulumi command."""
    steps = [s for s in job["steps"] if "tools.ci_secrets" in s.get("run", "")]
    assert len(steps) == 1, "one step sets the stack's secrets"
    (step,) = steps
    names = [s.get("uses", s.get("name", "")) for s in job["steps"]]
    command = next(i for i, s in enumerate(job["steps"]) if s.get("with", {}).get("command") in ("preview", "up"))
    assert job["steps"].index(step) < command, names
    return dict(step["env"])


@pytest.mark.parametrize("stack", STACK_FILES)
def test_every_secret_a_stack_needs_reaches_its_up_and_none_its_preview(stack):
    """Real secrets only where a reviewer stands between a branch and them: the deploy job's
    environment. The preview job, which any branch of the repository can run, gets none of them
    and runs on the program's placeholders."""
    up = _load("pulumi-up.yml")["jobs"]["up"]
    declared = _load("pulumi-up.yml")["on"]["workflow_call"]["secrets"]
    env = _secret_step_env(up)
    for key in needed(stack):
        assert env.get(env_name(key)) == f"${{{{ secrets.{env_name(key)} }}}}", key
        assert env_name(key) in declared, key
    assert _load("deploy.yml")["jobs"]["prod"]["secrets"] == "inherit"
    preview = _load("pull-request.yml")["jobs"]["preview"]
    used = re.findall(r"secrets\.([A-Z_]+)", yaml.safe_dump(preview))
    assert used == ["PULUMI_ACCESS_TOKEN"], used
    action = next(s for s in preview["steps"] if s.get("with", {}).get("command") == "preview")
    assert action["env"]["EKS_OBSERVABILITY_PREVIEW_PLACEHOLDERS"] == "1"
    assert not any("EKS_OBSERVABILITY_PREVIEW_PLACEHOLDERS" in yaml.safe_dump(job) for job in _load("pulumi-up.yml")["jobs"].values())


def test_every_secret_key_has_a_variable():
    env = _secret_step_env(_load("pulumi-up.yml")["jobs"]["up"])
    assert {env_name(k) for k in SECRET_CONFIG_KEYS} <= set(env)


def test_missing_secret_is_named(monkeypatch):
    for key in SECRET_CONFIG_KEYS:
        monkeypatch.delenv(env_name(key), raising=False)
    proc = subprocess.run(
        [sys.executable, "-m", "tools.ci_secrets", "--stack", "dev", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "grafanaAdminPassword is required by Pulumi.dev.yaml; add the secret GRAFANA_ADMIN_PASSWORD" in proc.stderr


def test_a_preview_lists_the_secrets_and_where_they_belong():
    """The preview names the secrets (never their values) and the environment that must hold them."""
    step = next(s for s in _load("pull-request.yml")["jobs"]["preview"]["steps"] if "tools.ci_secrets" in s.get("run", ""))
    assert step["run"] == '.venv/bin/python -m tools.ci_secrets --stack "$STACK" --names' and "secrets." not in yaml.safe_dump(step)
    proc = subprocess.run(
        [sys.executable, "-m", "tools.ci_secrets", "--stack", "dev", "--names"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    assert proc.stdout == (
        "ci_secrets: dev needs these secrets in the GitHub environment 'dev': grafanaAdminPassword (GRAFANA_ADMIN_PASSWORD)\n"
    )


def test_forks_and_comments():
    pr = _load("pull-request.yml")
    comment = next(s for s in pr["jobs"]["rendered-diff"]["steps"] if s.get("name") == "Comment the diff")
    assert comment["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert "<!-- rendered-diff -->" in comment["run"] and "--edit-last" not in comment["run"]
    assert pr["jobs"]["preview"]["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    test = pr["jobs"]["test"]
    assert any(s.get("run") == "make schemas" for s in test["steps"])
    # .ci/run exports REQUIRE_SHARED_SCHEMAS=1: a missing schema fails the job rather than skipping.
    assert any(s.get("run") == "bash .ci/run" for s in test["steps"])


def test_fetch_schemas_reads_a_chart_repository(tmp_path, monkeypatch):
    """The fetch logic against a chart repository on disk (the CI runner reaches the real ones)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    package = io.BytesIO()
    with tarfile.open(fileobj=package, mode="w:gz") as archive:
        for name, content in (("Chart.yaml", b"name: demo\nversion: 1.2.3\nappVersion: v9\n"), ("values.yaml", b"a: 1\n")):
            info = tarfile.TarInfo(f"demo/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    (repo / "demo-1.2.3.tgz").write_bytes(package.getvalue())
    (repo / "index.yaml").write_text(yaml.safe_dump({"entries": {"demo": [{"version": "1.2.3", "urls": ["demo-1.2.3.tgz"]}]}}))
    files = fetch_schemas.chart_files(repo.as_uri(), "demo", "1.2.3")
    assert files == {"Chart.yaml": b"name: demo\nversion: 1.2.3\nappVersion: v9\n", "values.yaml": b"a: 1\n"}
    with pytest.raises(SystemExit, match="demo 9.9.9 is not in"):
        fetch_schemas.chart_files(repo.as_uri(), "demo", "9.9.9")


def test_fetch_schemas_covers_what_the_tests_read():
    from tests.manifests import CRD_FILES
    from tests.test_chart_values import CHART_DIRS

    assert set(CHART_DIRS.values()) <= {d for d, _, _, _ in fetch_schemas.CHARTS}
    fetched = {f"monitoring.coreos.com_{p}.yaml" for p in fetch_schemas.OPERATOR_CRDS}
    fetched |= {f"argoproj.io_{p}.yaml" for p in fetch_schemas.ARGO_CRDS}
    assert {f for (group, _), f in CRD_FILES.items() if group in ("monitoring.coreos.com", "argoproj.io")} <= fetched


def test_make_diff_against_a_bad_ref_exits_2():
    proc = subprocess.run(
        [sys.executable, "-m", "tools.diff", "--stack", "dev", "--base", "no-such-ref"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "cannot check out no-such-ref" in proc.stderr


def test_make_diff_shows_a_change(tmp_path):
    """A clone, one stack edit: the diff names the files that change and nothing else."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "-b", "edit"], check=True, timeout=60)
    stack = clone / "Pulumi.dev.yaml"
    text = stack.read_text()
    assert "retentionDays: 7" in text
    stack.write_text(text.replace("retentionDays: 7", "retentionDays: 14"))
    proc = subprocess.run(
        [sys.executable, str(clone / "tools" / "diff.py"), "--stack", "dev", "--base", "HEAD"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    changed = [line.split()[-1] for line in proc.stdout.splitlines() if line.startswith("diff ")]
    assert changed == ["head/aws/cloudwatch.LogGroup/fluent-bit-log-group.json"]
    assert '-  "retentionInDays": 7,' in proc.stdout and '+  "retentionInDays": 14,' in proc.stdout


def test_make_diff_names_the_secrets_a_change_adds_and_a_difference_is_not_an_error(tmp_path):
    """Enabling Slack needs two webhook secrets: the diff says so (names only) before CI fails on
    them, and `make diff` exits 0 for a found difference (tools.diff's 1), as a reviewer expects."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    for installed in (".venv", ".engines"):  # what `make test` installed in this checkout
        (clone / installed).symlink_to(ROOT / installed)
    stack = clone / "Pulumi.dev.yaml"
    data = yaml.safe_load(stack.read_text())  # edited as a user's tool would: parsed, re-serialised
    data["config"]["eks-observability:alerting"]["slack"]["enabled"] = True
    stack.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = subprocess.run(
        ["make", "-s", "-o", ".venv/.runtime", "diff", "STACK=dev", "BASE=HEAD"], cwd=clone, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "== secrets this change adds (set each before `pulumi up`; names only) ==\nslackWebhookUrlCritical, slackWebhookUrlWarning\n" in proc.stdout
    assert '-    "notInStackFile": [],' not in proc.stdout  # the file lists names, never values
    assert "head/secrets.json" in proc.stdout


def test_changes_without_helm_classify_the_resources_and_say_why_not_the_charts(tmp_path, monkeypatch, capsys):
    """A machine without `make tools`: the program's resources are still classified, and one line
    says the charts' objects are not (it was a traceback)."""
    from tests.conftest import run_stack_file
    from tools import changes, engines
    from tools.render import render

    files = render(run_stack_file("dev"))
    for side, retention in (("before", "7"), ("after", "14")):
        for rel, text in files.items():
            path = tmp_path / side / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if rel == "helm/loki.yaml":
                text = text.replace("retention_period: 360h", f"retention_period: {retention}h") + f"# {side}\n"
            path.write_text(text)

    def no_helm(name: str) -> str:
        raise engines.EngineError(f"{name} >= 4.0 not found (none on PATH or in .engines/bin): run `make tools`")

    monkeypatch.setattr(engines, "binary", no_helm)
    assert changes.main([str(tmp_path / "before"), str(tmp_path / "after")]) == 0
    out, err = capsys.readouterr()
    assert err == "changes: the charts' objects are not classified: helm >= 4.0 not found (none on PATH or in .engines/bin): run `make tools`\n"
    assert "updated   helm/loki.yaml" in out
