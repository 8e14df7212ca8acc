"""Each class of bad input the consuming systems would refuse: exit 2 from the render, one line naming
the key path, the bad value and what is allowed (with a hint where YAML changed the type), nothing
written, no traceback."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.conventions import PROJECT
from tests.conftest import ROOT
from tests.stackfixtures import fixture_values

P = PROJECT


def _stack_file(tmp_path: Path, config: dict | None = None, text: str | None = None) -> Path:
    path = tmp_path / "Pulumi.bad.yaml"
    if text is None:
        values = config if config is not None else {f"{P}:{k}": v for k, v in fixture_values().items()}
        text = yaml.safe_dump({"config": values}, sort_keys=False)
    path.write_text(text)
    return path


def _render(tmp_path: Path, writes: bool = False) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.render", "--stack", "bad", "--stack-dir", str(tmp_path), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists() == writes, "nothing may be written for a bad config"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _problems(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    return [line.strip() for line in proc.stderr.splitlines()[1:]]


def _with(**changes: object) -> dict:
    values = fixture_values()
    for dotted, value in changes.items():
        node: Any = values
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return {f"{P}:{k}": v for k, v in values.items()}


CASES = {
    "misspelt prefix": (
        {
            **{f"{P}:{k}": v for k, v in fixture_values().items() if k != "services"},
            "eks-observabilty:services": fixture_values()["services"],
        },
        "eks-observabilty:services: unknown config namespace 'eks-observabilty'; did you mean 'eks-observability:services'?",
    ),
    "a section written as a namespace": (
        {**{f"{P}:{k}": v for k, v in fixture_values().items()}, "loki:storageSize": "100Gi"},
        "loki:storageSize: unknown config namespace 'loki'; Keys under another namespace are ignored, so this value would be "
        f"dropped. Write it as the 'storageSize' key of the '{P}:loki' section ({P}:loki: {{storageSize: ...}}).",
    ),
    "a namespace nothing reads": (
        {**{f"{P}:{k}": v for k, v in fixture_values().items()}, "monitoring:retention": "30d"},
        f"monitoring:retention: unknown config namespace 'monitoring'; this program reads '{P}:' keys and its providers' "
        f"(aws, kubernetes, pulumi). Keys under another namespace are ignored, so this value would be dropped. If it is the "
        f"platform's, write it as '{P}:retention'.",
    ),
    "yaml turned a version into a number": (
        _with(services__0__version=1.1),
        f"{P}:services[0] (orders-api).version: got 1.1; Input should be a valid string. YAML read this value as float (1.1): quote it",
    ),
    "argo cannot parse a day pause": (
        _with(services__0__canary={"steps": [{"setWeight": 10}, {"pause": "1d"}]}),
        f'{P}:services[0] (orders-api).canary.steps[1].pause: got "1d"; must be a Go duration as Argo Rollouts parses it',
    ),
    "argo cannot parse a week interval": (
        _with(services__0__analysis={"interval": "1w"}),
        f'{P}:services[0] (orders-api).analysis.interval: got "1w"; must be a Go duration',
    ),
    "loki retention under a day": (
        _with(loki={"retention": "12h"}),
        f'{P}:loki.retention: got "12h"; must be at least 24h and a whole number of days',
    ),
    "analysis that can never fail": (
        _with(services__0__analysis={"count": 3, "failureLimit": 3}),
        f"{P}:services[0] (orders-api).analysis: got ",
    ),
    "service name starting with a digit": (
        _with(services__0__name="1-orders"),
        f'{P}:services[0] (1-orders).name: got "1-orders"; must start with a letter',
    ),
    "reserved namespace": (
        _with(services__0__namespace="kube-system"),
        f'{P}:services[0] (orders-api).namespace: got "kube-system"; is reserved for the cluster or the platform',
    ),
    "platform namespace": (
        _with(services__0__namespace="monitoring"),
        f'{P}:services[0] (orders-api).namespace: got "monitoring"; the platform\'s own namespaces',
    ),
    "image Kubernetes cannot pull": (
        _with(services__0__image="registry.example.com/Orders-API:1.4.2"),
        f"{P}:services[0] (orders-api).image: got ",
    ),
    "team alert that is not promql": (
        _with(
            services__0__alerts=[
                {"name": "QueueBacklog", "expr": "sum(rate(jobs[5m]) > 1", "summary": "s", "runbook": "https://r.example.com"}
            ]
        ),
        f'{P}:services[0] (orders-api).alerts[0] (QueueBacklog).expr: got "sum(rate(jobs[5m]) > 1"; is not valid PromQL',
    ),
    "a duration yaml read as a number": (
        _with(
            services__0__alerts=[
                {"name": "QueueBacklog", "expr": "up == 0", "for": 10, "summary": "s", "runbook": "https://r.example.com"}
            ]
        ),
        f"{P}:services[0] (orders-api).alerts[0] (QueueBacklog).for: got 10; Input should be a valid string. YAML read this value "
        'as int (10): write it as a quoted value with its unit, e.g. "10s" or "10m".',
    ),
    "team alert on a forbidden label": (
        _with(
            services__0__alerts=[
                {
                    "name": "UserErrors",
                    "expr": "sum by (user_id) (rate(errors_total[5m])) > 1",
                    "summary": "s",
                    "runbook": "https://r.example.com",
                }
            ]
        ),
        f"{P}:services[0] (orders-api).alerts[0] (UserErrors).expr: got \"sum by (user_id) (rate(errors_total[5m])) > 1\"; uses the forbidden label(s) ['user_id']",
    ),
    "internet-facing grafana without tls": (
        _with(prometheusStack={"grafana": {"ingress": {"enabled": True, "host": "grafana.example.com", "scheme": "internet-facing"}}}),
        f"{P}:prometheusStack.grafana.ingress: got ",
    ),
    "amp workspace in another region": (
        _with(
            prometheusStack__backend={
                "mode": "amp",
                "amp": {"workspaceArn": "arn:aws:aps:us-east-1:111122223333:workspace/ws-0123abcd-4567"},
            }
        ),
        f'{P}:prometheusStack.backend.amp.workspaceArn: got "arn:aws:aps:us-east-1:111122223333:workspace/ws-0123abcd-4567"; '
        "the workspace is in us-east-1 but the cluster in eu-west-1",
    ),
    "amp workspace that is not an arn": (
        _with(prometheusStack__backend={"mode": "amp", "amp": {"workspaceArn": "ws-0123abcd"}}),
        f'{P}:prometheusStack.backend.amp.workspaceArn: got "ws-0123abcd"; must be an AMP workspace ARN',
    ),
    "thanos without irsa": (
        _with(
            cluster__oidcProviderArn=None,
            loki__enabled=False,
            fluentBit__enabled=False,
            prometheusStack__grafana__cloudwatchDatasource=False,
            prometheusStack__backend={"mode": "thanos"},
        ),
        f"{P}:cluster.oidcProviderArn: missing, but prometheusStack.backend.mode needs an IRSA role",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_line(tmp_path, case):
    config, expected = CASES[case]
    _stack_file(tmp_path, config)
    problems = _problems(_render(tmp_path))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_each_yaml_hint_leads_to_a_value_that_passes(tmp_path):
    """The hint's value, written as it says, renders: quoting `10` alone would only trade this error
    for a second one (a duration needs its unit)."""
    config = copy.deepcopy(CASES["a duration yaml read as a number"][0])
    config[f"{P}:services"][0]["alerts"][0]["for"] = "10m"
    _stack_file(tmp_path, config)
    assert _render(tmp_path, writes=True).returncode == 0


def test_analysis_and_tls_messages_say_what_is_allowed(tmp_path):
    _stack_file(tmp_path, _with(services__0__analysis={"count": 3, "failureLimit": 3}))
    assert "failureLimit 3 must be below count 3" in _problems(_render(tmp_path))[0]
    _stack_file(tmp_path, CASES["internet-facing grafana without tls"][0])
    assert "needs TLS: set certificateArn" in _problems(_render(tmp_path))[0]
    _stack_file(tmp_path, CASES["image Kubernetes cannot pull"][0])
    assert "repository path in lower case" in _problems(_render(tmp_path))[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n  eks-observability:services: [\n", "Pulumi.bad.yaml: not valid YAML (line 3, column 1)"),
        ("- a\n- b\n", "Pulumi.bad.yaml: got a list at the top level; a stack file is a mapping with a `config:` key."),
        ("config: [a, b]\n", "Pulumi.bad.yaml: config: got a list; it must be a mapping"),
    ],
)
def test_broken_stack_files(tmp_path, text, expected):
    _stack_file(tmp_path, text=text)
    problems = _problems(_render(tmp_path))
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_a_key_defined_twice_is_refused_with_both_lines(tmp_path):
    """A second `services:` block appended to the file: YAML keeps the last one silently, so every
    service of the first would disappear from the render (and `pulumi up` would delete them)."""
    text = yaml.safe_dump({"config": {f"{P}:{k}": v for k, v in fixture_values().items()}}, sort_keys=False)
    first = text.splitlines().index(f"  {P}:services:") + 1
    text += f"  {P}:services:\n  - name: mediprepai\n    namespace: mediprepai\n    port: 8080\n    port: 8081\n"
    lines = len(text.splitlines())
    _stack_file(tmp_path, text=text)
    assert _problems(_render(tmp_path)) == [
        f"Pulumi.bad.yaml: config.{P}:services: defined twice, at lines {first} and {lines - 4}; keep one (merge them).",
        f"Pulumi.bad.yaml: config.{P}:services[0].port: defined twice, at lines {lines - 1} and {lines}; keep one (merge them).",
    ]


def test_an_unquoted_date_is_not_a_traceback(tmp_path):
    config = _with(services__0__version="x")
    text = yaml.safe_dump({"config": config}, sort_keys=False).replace("version: x", "version: 2024-01-01")
    _stack_file(tmp_path, text=text)
    proc = _render(tmp_path, writes=True)
    # A date is a valid label value once read as text: the stack renders.
    assert proc.returncode == 0, proc.stderr
