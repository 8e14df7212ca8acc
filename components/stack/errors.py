"""How a config problem is reported: one line naming the full key path, the bad value and what is allowed."""

from __future__ import annotations

import difflib
import json
import re
import typing
from typing import Any, Optional, Union

import pulumi
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from ..conventions import PROJECT, SECRET_CONFIG_KEYS
from ..lib.types import url_credential

SECRET_LOOKING = re.compile(r"(password|secret|token|api_?key|app_?key|routing_?key|webhook)", re.IGNORECASE)
SECRET_VALUE = re.compile(r"https://hooks\.slack\.com/|^xox[abp]-|^[0-9a-f]{32}$")
Loc = tuple[Union[str, int], ...]


class ConfigError(pulumi.RunError):
    """Stack config is invalid; `issues` holds one message per problem.

    A RunError, so `pulumi preview/up` print the messages without a Python traceback.
    """

    def __init__(self, issues: list[str]):
        self.issues = issues
        super().__init__("invalid stack config:\n  " + "\n  ".join(issues))


def key_path(loc: Loc) -> str:
    """`("services", 3, "port")` -> `eks-observability:services[3].port`."""
    out = f"{PROJECT}:"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += part if i == 0 else f".{part}"
    return out


def _unwrap_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _unwrap_models(arg)]


def _field(model: type[BaseModel], key: Union[str, int]) -> Optional[FieldInfo]:
    """The field of `model` a stack-file key names (its alias or its Python name)."""
    return next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)


def model_at(root: type[BaseModel], loc: Loc) -> Optional[type[BaseModel]]:
    """The config model that owns the key at `loc` (for suggesting the nearest valid key)."""
    model = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = _field(model, part)
        if field is None:
            return None
        models = _unwrap_models(field.annotation)
        if not models:
            return None
        model = models[0]
    return model


def allowed_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def describe(value: Any, key: str) -> str:
    if SECRET_LOOKING.search(key) or (isinstance(value, str) and (SECRET_VALUE.search(value) or url_credential(value))):
        return "<value hidden>"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def unknown_key(loc: Loc, allowed: list[str]) -> str:
    key = str(loc[-1])
    hint = ""
    if SECRET_LOOKING.search(key):
        hint = (
            " Secrets never go in structured config: set one of the secret keys with "
            f"`pulumi config set --secret <key>` ({', '.join(SECRET_CONFIG_KEYS)})."
        )
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    suggestion = f" Did you mean '{close[0]}'?" if close else ""
    return f"{key_path(loc)}: unknown key.{suggestion} Allowed keys: {', '.join(allowed)}.{hint}"


_YAML_TYPED = ("string_type", "string_pattern_mismatch")


def _field_accepts(root: type[BaseModel], loc: Loc, candidate: str) -> bool:
    """Whether the field at `loc` would take `candidate` (a fix is only offered if it passes)."""
    owner = model_at(root, loc[:-1]) if loc else None
    field = _field(owner, loc[-1]) if owner else None
    if field is None:
        return False
    try:
        TypeAdapter(field.rebuild_annotation()).validate_python(candidate)
    except (ValidationError, TypeError):
        return False
    return True


def _yaml_hint(root: type[BaseModel], err: Any) -> str:
    """YAML turns `1.10` into the number 1.1, `on` into true, `10` into a number and `2024-01-01`
    into a date. The hint names a value the field takes: quoted as written, or with a unit."""
    value = err.get("input")
    if err["type"] not in _YAML_TYPED or isinstance(value, str) or value is None:
        return ""
    kind = "true/false" if isinstance(value, bool) else type(value).__name__
    loc = tuple(err["loc"])
    if isinstance(value, float):
        # The file's digits are lost (1.10 became 1.1): the example is the common case.
        return f' YAML read this value as {kind} ({value!r}): quote it in the stack file, e.g. "1.10" instead of 1.10.'
    written = str(value).lower() if isinstance(value, bool) else str(value)
    if _field_accepts(root, loc, written):
        return f' YAML read this value as {kind} ({value!r}): quote it in the stack file, e.g. "{written}" instead of {written}.'
    fixes = [f'"{written}{unit}"' for unit in ("s", "m", "h", "Gi") if _field_accepts(root, loc, f"{written}{unit}")]
    if fixes:
        return f" YAML read this value as {kind} ({value!r}): write it as a quoted value with its unit, e.g. {' or '.join(fixes[:2])}."
    return f" YAML read this value as {kind} ({value!r})."


def format_error(root: type[BaseModel], err: Any) -> str:
    """One pydantic error as one line."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        owner = model_at(root, loc[:-1])
        return unknown_key(loc, allowed_keys(owner) if owner else [])
    if err["type"] == "missing":
        return f"{key_path(loc)}: required key is missing."
    message = err["msg"].removeprefix("Value error, ")
    return f"{key_path(loc)}: got {describe(err.get('input'), str(loc[-1]) if loc else '')}; {message}.{_yaml_hint(root, err)}"
