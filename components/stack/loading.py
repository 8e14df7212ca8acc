"""Reading the stack config Pulumi hands the program, before any resource is registered.

Errors come back together, one line per problem (see `errors.py`); renamed keys are accepted
with a deprecation warning naming the new key.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Callable
from typing import Any, Optional, Union

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import ValidationError

from ..conventions import PROJECT, SECRET_CONFIG_KEYS
from .checks import cross_checks
from .config import StackConfig
from .errors import SECRET_VALUE, ConfigError, allowed_keys, format_error, key_path

# Renamed keys: old path -> new key name at the same place. The old one still works, with a warning.
DEPRECATED_KEYS: dict[tuple[str, ...], str] = {
    ("alerting", "thresholds", "errorRateRatio"): "errorRatio",
}
# Renamed values: key path -> {old value: new value}. The old value still works, with a warning.
DEPRECATED_VALUES: dict[tuple[str, ...], dict[str, str]] = {
    ("loki", "deploymentMode"): {"SingleBinary": "Monolithic"},
}
# Values still accepted that upstream is retiring: key path -> {value: advice}.
RETIRING_VALUES: dict[tuple[str, ...], dict[str, str]] = {
    ("loki", "deploymentMode"): {
        "SimpleScalable": "deprecated by the Loki chart and removed in Loki 4; Distributed is the scale-out path on S3",
    },
}
# Removed keys: old path -> why. Accepted (and ignored) with a warning, so an old stack file still deploys.
REMOVED_KEYS: dict[tuple[str, ...], str] = {
    ("alerting", "thresholds", key): f"its alert duplicated kube-prometheus-stack's {alert}, which replaces it"
    for key, alert in (
        ("nodeNotReadyFor", "KubeNodeNotReady"),
        ("crashLoopFor", "KubePodCrashLooping"),
        ("cpuSaturationRatio", "NodeCPUHighUsage"),
        ("memorySaturationRatio", "NodeMemoryHighUtilization"),
        ("saturationFor", "NodeCPUHighUsage and NodeMemoryHighUtilization"),
    )
}


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text; scalars stay strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _secret_values_in(value: Any, path: tuple[Union[str, int], ...]) -> list[str]:
    """Paths of plain-text values that look like credentials (webhook URLs, API tokens)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _secret_values_in(v, path + (k,))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _secret_values_in(v, path + (i,))]
    if isinstance(value, str) and SECRET_VALUE.search(value):
        return [key_path(path)]
    return []


# Config namespaces of the providers this program uses; keys under them are theirs, not ours.
PROVIDER_NAMESPACES = ("aws", "kubernetes", "pulumi")


def declared_team_secrets(ours: dict[str, Any]) -> set[str]:
    """The secret keys `alerting.teams` names, read before validation: they are top-level secret keys
    like the platform's, not part of the structured config."""
    teams = (ours.get("alerting") or {}).get("teams") if isinstance(ours.get("alerting"), dict) else None
    names: set[str] = set()
    for team in teams if isinstance(teams, list) else []:
        if not isinstance(team, dict):
            continue
        slack, pagerduty = team.get("slack"), team.get("pagerduty")
        for section, keys in ((slack, ("criticalWebhookSecret", "warningWebhookSecret")), (pagerduty, ("routingKeySecret",))):
            if isinstance(section, dict):
                names |= {section[k] for k in keys if isinstance(section.get(k), str)}
    return names


def _foreign_keys(raw: dict[str, Any]) -> list[str]:
    """Keys of no namespace this program or its providers read: the program would ignore them, and
    silently drop config (a misspelt `services` prefix makes `pulumi up` delete every service; a
    `loki:storageSize` key leaves Loki at its defaults)."""
    own_keys = set(allowed_keys(StackConfig)) | set(SECRET_CONFIG_KEYS)
    issues = []
    for full in sorted(raw):
        namespace, _, key = full.partition(":")
        if not key or namespace == PROJECT or namespace in PROVIDER_NAMESPACES:
            continue
        ignored = "Keys under another namespace are ignored, so this value would be dropped."
        if namespace in own_keys:
            # `loki:storageSize` for the `storageSize` key of the `loki` section.
            issues.append(
                f"{full}: unknown config namespace {namespace!r}; {ignored} Write it as the '{key}' key of the "
                f"'{PROJECT}:{namespace}' section ({PROJECT}:{namespace}: {{{key}: ...}})."
            )
        elif difflib.get_close_matches(namespace, [PROJECT], n=1, cutoff=0.75) or key in own_keys:
            issues.append(f"{full}: unknown config namespace {namespace!r}; did you mean '{PROJECT}:{key}'? {ignored} Use the '{PROJECT}:' prefix.")
        else:
            issues.append(
                f"{full}: unknown config namespace {namespace!r}; this program reads '{PROJECT}:' keys and its providers' "
                f"({', '.join(PROVIDER_NAMESPACES)}). {ignored} If it is the platform's, write it as '{PROJECT}:{key}'."
            )
    return issues


def _holder(structured: dict[str, Any], path: tuple[str, ...]) -> Optional[dict[str, Any]]:
    """The mapping that holds the key at `path`, if the config has that key."""
    parent: Any = structured
    for part in path[:-1]:
        parent = parent.get(part) if isinstance(parent, dict) else None
    return parent if isinstance(parent, dict) and path[-1] in parent else None


def _apply_deprecations(structured: dict[str, Any], warn: Callable[[str], None]) -> list[str]:
    """Move renamed keys to their new name in place (issues when both are set); drop removed ones."""
    issues = []
    for path, new in DEPRECATED_KEYS.items():
        parent = _holder(structured, path)
        if parent is None:
            continue
        new_path = key_path((*path[:-1], new))
        if new in parent:
            issues.append(f"{key_path(path)}: deprecated and {new_path} is also set; keep only {new_path}.")
            parent.pop(path[-1])
            continue
        parent[new] = parent.pop(path[-1])
        warn(f"{key_path(path)} is deprecated; rename it to {new_path} (same meaning).")
    for path, renames in DEPRECATED_VALUES.items():
        parent = _holder(structured, path)
        old = parent.get(path[-1]) if parent is not None else None
        if parent is not None and isinstance(old, str) and old in renames:
            parent[path[-1]] = renames[old]
            warn(f"{key_path(path)}: {old!r} is deprecated; use {renames[old]!r} (same mode).")
    for path, advice in RETIRING_VALUES.items():
        parent = _holder(structured, path)
        value = parent.get(path[-1]) if parent is not None else None
        if isinstance(value, str) and value in advice:
            warn(f"{key_path(path)}: {value!r} is {advice[value]}.")
    for path, why in REMOVED_KEYS.items():
        parent = _holder(structured, path)
        if parent is not None:
            parent.pop(path[-1])
            warn(f"{key_path(path)} is no longer used and is ignored: {why}; remove it.")
    return issues


def with_item_names(issue: str, structured: dict[str, Any]) -> str:
    """The issue's leading key path with each list item's name beside its index, as a user finds
    it in the file: `services[9] (mediprepai).port`, not `services[9].port`."""
    prefix = f"{PROJECT}:"
    path, sep, rest = issue.removeprefix(prefix).partition(": ")
    if not issue.startswith(prefix) or not sep:
        return issue
    out = ""
    node_any: Any = structured
    for token in re.findall(r"\[\d+\]|[^.\[\]]+", path):
        if token.startswith("["):
            index = int(token[1:-1])
            node_any = node_any[index] if isinstance(node_any, list) and index < len(node_any) else None
            name = node_any.get("name") if isinstance(node_any, dict) else None
            out += f"{token} ({name})" if isinstance(name, str) and name else token
        else:
            out += f".{token}" if out else token
            node_any = node_any.get(token) if isinstance(node_any, dict) else None
    return f"{prefix}{out}{sep}{rest}"


def load_stack_config(raw: dict[str, Any], secret_keys: set[str], warn: Optional[Callable[[str], None]] = None) -> StackConfig:
    """Validate the project's config keys.

    `raw` maps full config keys (`eks-observability:cluster`) to what Pulumi passes the program;
    `secret_keys` are the full keys Pulumi marks secret. Keys of other namespaces (`aws:region`)
    are ignored. Raises ConfigError listing every problem found.
    """
    prefix = f"{PROJECT}:"
    ours = {k[len(prefix) :]: _decode(v) for k, v in raw.items() if k.startswith(prefix)}
    issues: list[str] = _foreign_keys(raw)

    secret_names = set(SECRET_CONFIG_KEYS) | declared_team_secrets(ours)
    for key in sorted(set(ours) & secret_names):
        if f"{prefix}{key}" not in secret_keys:
            issues.append(
                f"{prefix}{key}: got <value hidden>; this key holds a secret and must be set with "
                f"`pulumi config set --secret {key} <value>`, never as plain text."
            )
    structured = copy.deepcopy({k: v for k, v in ours.items() if k not in secret_names})
    for key in sorted(structured):
        issues += [
            f"{p}: got <value hidden>; this looks like a credential. Credentials come only from secret keys "
            f"({', '.join(SECRET_CONFIG_KEYS)})."
            for p in _secret_values_in(structured[key], (key,))
        ]
    issues += _apply_deprecations(structured, warn or (lambda message: None))

    config: Optional[StackConfig] = None
    try:
        config = StackConfig.model_validate(structured)
    except ValidationError as exc:
        top_level = set(allowed_keys(StackConfig)) | set(SECRET_CONFIG_KEYS)
        for err in exc.errors():
            if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
                key = str(err["loc"][0])
                close = difflib.get_close_matches(key, sorted(top_level), n=1, cutoff=0.6)
                suggestion = f" Did you mean '{prefix}{close[0]}'?" if close else ""
                issues.append(f"{prefix}{key}: unknown key.{suggestion} Allowed keys: {', '.join(sorted(top_level))}.")
            else:
                issues.append(format_error(StackConfig, err))

    if config is not None:
        issues += cross_checks(config)
    if issues or config is None:
        raise ConfigError([with_item_names(issue, structured) for issue in issues])
    return config


def read_stack_config() -> StackConfig:
    """Validate the config Pulumi handed this program; raises ConfigError before anything is created."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = {k for k in raw if runtime_config.is_config_secret(k)} | set(runtime_config.get_config_secret_keys_env())
    return load_stack_config(raw, secret_keys, warn=pulumi.log.warn)
