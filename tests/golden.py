"""Golden files: a renderer's whole output, compared byte for byte with `tests/golden/<name>`.

After an intended change, `make golden` rewrites them; review the diff like any other code.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from tools.render import dump_json, dump_yaml

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def serialise(name: str, value: Any) -> str:
    """YAML or JSON by the golden file's extension; text as it is."""
    if isinstance(value, str):
        return value if value.endswith("\n") else value + "\n"
    if name.endswith(".json"):
        return dump_json(value)
    return dump_yaml(value)


def assert_golden(name: str, value: Any) -> None:
    text = serialise(name, value)
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.is_file(), f"no golden file {path.relative_to(GOLDEN.parent.parent)}; create it with `make golden`"
    expected = path.read_text()
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "rendered", n=2))
        raise AssertionError(f"{name} differs from its golden file (`make golden` after an intended change):\n{diff[:6000]}")


def load_golden(name: str) -> Any:
    text = (GOLDEN / name).read_text()
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
