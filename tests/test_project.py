"""Project files agree with the models: Pulumi.yaml declarations, stack files, README reference."""

from __future__ import annotations

import yaml

from components.stack import StackConfig
from tests.conftest import ROOT, STACK_FILES
from tools.config_reference import README, readme_section, reference


def test_readme_config_reference_is_current():
    assert readme_section(README.read_text()) == reference(), "run `make config-reference`"


def test_pulumi_yaml_declares_only_model_keys_set_in_every_stack():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "eks-observability"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    declared = set(project["config"])
    model_keys = {f.alias for f in StackConfig.model_fields.values()}
    assert declared <= model_keys
    for stack in STACK_FILES:
        stack_keys = {
            k.split(":", 1)[1]
            for k in yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
            if k.startswith("eks-observability:")
        }
        # A declared key with no default is required by the CLI: every stack must set it.
        assert declared <= stack_keys, (stack, declared - stack_keys)
    for declaration in project["config"].values():
        assert set(declaration) <= {"type", "description", "items", "secret", "default"}
        assert declaration.get("type", "string") in {"string", "integer", "boolean", "array"}


def test_stack_files_hold_no_secret_values():
    for stack in STACK_FILES:
        text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
        assert "secure:" not in text
        assert "hooks.slack.com" not in text


def test_ci_runs_the_readme_test_command():
    readme = README.read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make render STACK=dev" in readme
    assert "\nmake test" in ci
    assert "REQUIRE_SHARED_SCHEMAS=1" in ci
