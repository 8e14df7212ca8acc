"""Every dashboard the program provisions loads in Grafana's dashboard schema: decoded by the
grafana-foundation-sdk's models (generated from Grafana's own schemas, panel plugins included) and
encoded again, it keeps every field it had (a field the schema does not know is dropped by the decoder,
and shows here); the decoder may add the schema's defaults."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

register_default_plugins()


def _dashboards(rendered: dict[str, str]) -> dict[str, dict[str, Any]]:
    found = {}
    for path, text in sorted(rendered.items()):
        if "/ConfigMap/" in path:
            for key, body in (yaml.safe_load(text).get("data") or {}).items():
                if key.endswith(".json") and '"panels"' in body:
                    found[f"{path}:{key}"] = json.loads(body)
    return found


def _round_trip(board: dict[str, Any]) -> dict[str, Any]:
    return json.loads(JSONEncoder(sort_keys=True).encode(Dashboard.from_json(board)))


def _lost(original: Any, decoded: Any, where: str = "") -> list[str]:
    """Paths of `original` the decoded copy does not hold with the same value."""
    if isinstance(original, dict):
        if not isinstance(decoded, dict):
            return [where]
        return [p for k, v in original.items() for p in ([f"{where}.{k}"] if k not in decoded else _lost(v, decoded[k], f"{where}.{k}"))]
    if isinstance(original, list):
        if not isinstance(decoded, list) or len(decoded) != len(original):
            return [where]
        return [p for i, (a, b) in enumerate(zip(original, decoded, strict=True)) for p in _lost(a, b, f"{where}[{i}]")]
    return [] if original == decoded else [where]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_dashboard_loads_in_grafanas_schema(stack, request):
    from tools.render import render

    boards = _dashboards(render(request.getfixturevalue(stack)))
    assert len(boards) >= 5
    for where, board in boards.items():
        assert _lost(board, _round_trip(board)) == [], where
        for panel in board["panels"]:
            if panel["type"] == "timeseries":  # the panel schema's required options
                assert set(panel["options"]) >= {"legend", "tooltip"}, (where, panel["title"])


def test_the_check_catches_a_panel_grafana_cannot_read():
    board = {"title": "x", "uid": "x", "panels": [{"type": "timeseries", "id": 1, "title": "t", "options": None}]}
    with pytest.raises(TypeError):
        _round_trip(board)
    # A misspelt field is dropped by the schema's decoder.
    typo = {"title": "x", "uid": "x", "panels": [{"type": "row", "id": 1, "title": "r", "colapsed": False}]}
    assert _lost(typo, _round_trip(typo)) == [".panels[0].colapsed"]
