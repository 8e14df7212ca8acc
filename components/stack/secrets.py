"""Which secrets a configuration needs, asked of the components that use them, and reading them."""

from __future__ import annotations

import os

import pulumi

from ..conventions import PROJECT, SECRET_CONFIG_KEYS
from ..integrations.datadog import KEY_SECRETS as DATADOG_SECRETS
from ..metrics.alertmanager import receiver_secret_keys
from ..metrics.stack import GRAFANA_ADMIN_SECRETS
from .config import StackConfig
from .errors import ConfigError

TEAM_SECRET = "a team's receiver credential, named in alerting.teams"


def required_secrets(config: StackConfig) -> list[str]:
    """Secret config keys this configuration needs at deploy time, in a stable order."""
    needed: list[str] = []
    if config.grafana:
        needed += GRAFANA_ADMIN_SECRETS.values()
    if config.prometheus_stack.enabled:
        needed += receiver_secret_keys(config.alerting).values()
    if config.datadog.enabled:
        needed += DATADOG_SECRETS.values()
    return needed


# Set by the pull-request preview job, whose GitHub environment holds no stack secrets: any branch
# can run a workflow, so real values there would be readable by every branch.
PLACEHOLDERS_ENV = "EKS_OBSERVABILITY_PREVIEW_PLACEHOLDERS"
PLACEHOLDER = "preview-placeholder"


def placeholder_secrets() -> bool:
    """Whether this run stands a placeholder in for every secret: a preview only. The Secrets that
    hold them then ignore changes to their data, so the preview shows no false update of them; an
    update (`pulumi up`) with the variable set is refused before anything is created."""
    if os.environ.get(PLACEHOLDERS_ENV) != "1":
        return False
    if not pulumi.runtime.is_dry_run():
        raise ConfigError(
            [
                f"{PLACEHOLDERS_ENV}=1: placeholder secrets are for `pulumi preview` only; `pulumi up` needs the stack's real "
                "secrets (tools/ci_secrets.py sets them in the deploy job's protected environment). Unset it."
            ]
        )
    return True


def read_secrets(config: StackConfig, placeholders: bool = False) -> dict[str, pulumi.Output[str]]:
    """The secrets this configuration needs, as secret Outputs; a missing one is an error naming the
    command. With `placeholders` (`placeholder_secrets()`, a preview), the placeholder for each."""
    if placeholders:
        return {key: pulumi.Output.secret(PLACEHOLDER) for key in required_secrets(config)}
    pulumi_config = pulumi.Config(PROJECT)
    secrets = {key: pulumi_config.get_secret(key) for key in required_secrets(config)}
    missing = [key for key, value in secrets.items() if value is None]
    if missing:
        raise ConfigError(
            [
                f"{PROJECT}:{key}: required secret is not set ({SECRET_CONFIG_KEYS.get(key, TEAM_SECRET)}) "
                f"Set it with `pulumi config set --secret {key} <value>`."
                for key in missing
            ]
        )
    return {key: value for key, value in secrets.items() if value is not None}
