"""Which secrets a configuration needs, asked of the components that use them, and reading them."""

from __future__ import annotations

import pulumi

from ..conventions import PROJECT, SECRET_CONFIG_KEYS
from ..integrations.datadog import KEY_SECRETS as DATADOG_SECRETS
from ..metrics.alertmanager import receiver_secret_keys
from ..metrics.stack import GRAFANA_ADMIN_SECRETS
from .config import StackConfig
from .errors import ConfigError


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


def read_secrets(config: StackConfig) -> dict[str, pulumi.Output[str]]:
    """The secrets this configuration needs, as secret Outputs; a missing one is an error naming the command."""
    pulumi_config = pulumi.Config(PROJECT)
    secrets = {key: pulumi_config.get_secret(key) for key in required_secrets(config)}
    missing = [key for key, value in secrets.items() if value is None]
    if missing:
        raise ConfigError(
            [
                f"{PROJECT}:{key}: required secret is not set ({SECRET_CONFIG_KEYS[key]}) "
                f"Set it with `pulumi config set --secret {key} <value>`."
                for key in missing
            ]
        )
    return {key: value for key, value in secrets.items() if value is not None}
