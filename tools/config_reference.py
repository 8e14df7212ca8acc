"""Generate the README's configuration reference from the pydantic models.

python -m tools.config_reference            # print the table
python -m tools.config_reference --write    # refresh README.md between the markers
python -m tools.config_reference --check    # exit 1 when README.md is stale
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import BaseModel  # noqa: E402
from pydantic.fields import FieldInfo  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from components.conventions import PROJECT, SECRET_CONFIG_KEYS  # noqa: E402
from components.lib import types as cfg  # noqa: E402
from components.stack.config import StackConfig  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
NAMED_VALIDATORS = {
    cfg._check_duration: "duration",
    cfg._check_quantity: "quantity",
    cfg._check_byte_size: "byte size",
    cfg._check_dns_label: "DNS label",
    cfg._check_chart_version: "chart version",
    cfg._check_retention_days: "CloudWatch retention days",
    cfg._check_kms_key_arn: "KMS key ARN",
}


def _type_name(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    for item in metadata:
        name = NAMED_VALIDATORS.get(getattr(item, "func", None))  # type: ignore[arg-type]
        if name:
            return name
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = get_args(annotation)
        return _type_name(base, extra)
    if origin is Union:
        args = [a for a in get_args(annotation) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(annotation))
    if origin is list:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if origin is dict:
        return "map"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return ""
    if isinstance(value, BaseModel):
        text = json.dumps(value.model_dump(by_alias=True, exclude_none=True, mode="json"), sort_keys=True)
        return f"`{text}`" if len(text) <= 100 and value != type(value).model_construct() else ""
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        value = [v.model_dump(by_alias=True, exclude_none=True) for v in value]
    return f"`{json.dumps(value, sort_keys=True)}`" if value is not None else "none"


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    origin = get_origin(annotation)
    if origin is list:
        inner, _ = _model_of(get_args(annotation)[0])
        return inner, "[]"
    if origin is Union:
        for arg in get_args(annotation):
            model, suffix = _model_of(arg)
            if model:
                return model, suffix
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    return None, ""


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        out.append((key, _type_name(field.annotation, field.metadata), _default(field), field.description or ""))
        nested, suffix = _model_of(field.annotation)
        if nested is not None:
            out.extend(rows(nested, f"{key}{suffix}."))
    return out


def reference() -> str:
    lines = [
        f"Keys live under the `{PROJECT}:` namespace of `Pulumi.<stack>.yaml`. Generated from "
        "the section models (`components/stack/config.py` composes them) by `make config-reference`; a test fails when this table is stale.",
        "",
        "| key | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for key, type_name, default, description in rows(StackConfig):
        lines.append(f"| `{key}` | {type_name} | {default} | {description.replace('|', '/')} |")
    lines += ["", "Secret keys (set with `pulumi config set --secret <key> <value>`, never committed):", ""]
    lines += ["| key | used for |", "| --- | --- |"]
    lines += [f"| `{key}` | {text} |" for key, text in SECRET_CONFIG_KEYS.items()]
    return "\n".join(lines) + "\n"


def readme_section(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    table = reference()
    if args.write:
        text = README.read_text()
        head, rest = text.split(START, 1)
        README.write_text(f"{head}{START}\n{table}{END}{rest.split(END, 1)[1]}")
        return 0
    if args.check:
        return 0 if readme_section(README.read_text()) == table else 1
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
