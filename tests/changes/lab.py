"""The change lab's one helper: a fixture stack rendered before and after an everyday edit, its releases
templated through their pinned charts, and every resource and chart object classified the way
`make diff` classifies them (`tools/changes.py`)."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from components.conventions import REDACTED, SECRET_CONFIG_KEYS
from tests.charts.helm import require_charts
from tests.stackfixtures import fixture_values, to_pulumi_config
from tools import changes as classifier
from tools import charts as chart_tool
from tools.mockrun import run_program
from tools.render import render

Edit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Outcome:
    changes: list[classifier.Change]

    def of(self, verdict: str) -> list[str]:
        return [c.key for c in self.changes if c.verdict == verdict]

    def verdict(self, key: str) -> classifier.Change:
        (found,) = [c for c in self.changes if c.key == key]
        return found

    def matching(self, text: str) -> dict[str, str]:
        return {c.key: c.verdict for c in self.changes if text in c.key}


def _files(stack: str, values: dict[str, Any]) -> dict[str, str]:
    config, secret_keys = to_pulumi_config(values, {key: REDACTED for key in SECRET_CONFIG_KEYS})
    return render(run_program(config, secret_keys, stack=stack))


@functools.cache
def _release(text: str) -> list[dict[str, Any]]:
    """One release's chart objects, by its rendered `helm/<release>.yaml` (the same text renders the same objects)."""
    objects, _ = chart_tool.render_all({"helm/release.yaml": text})
    return next(iter(objects.values()), [])


def _templated(files_json: str) -> dict[str, list[dict[str, Any]]]:
    files = json.loads(files_json)
    return {yaml.safe_load(text)["release"]: _release(text) for path, text in files.items() if path.startswith("helm/")}


def apply(stack: str, edit: Edit, charts: bool = True) -> Outcome:
    """The `stack` fixture (dev or prod) before and after `edit` (which changes the values in place)."""
    before_values = fixture_values(*(("prod",) if stack == "prod" else ()))
    after_values = copy.deepcopy(before_values)
    edit(after_values)
    before, after = _files(stack, before_values), _files(stack, after_values)
    objects = None
    if charts:
        require_charts()
        objects = (_templated(json.dumps(before, sort_keys=True)), _templated(json.dumps(after, sort_keys=True)))
    return Outcome(classifier.classify(before, after, objects))
