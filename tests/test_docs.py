"""Operator docs: every runbook link resolves, the README covers what operators need."""

from __future__ import annotations

import re

import yaml

from components.integrations.cost import Budget, cost_rule_groups
from components.metrics.config import AlertingConfig
from components.metrics.rules import all_alert_rules
from tests.conftest import ROOT
from tests.stackfixtures import fixture_config

RUNBOOKS = ROOT / "docs" / "runbooks.md"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, spaces to '-', punctuation dropped."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6} (.+)$", line)
        if match:
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", match.group(1).strip().lower()).replace(" ", "-"))
    return anchors


def test_every_runbook_url_resolves(rendered_prod):
    anchors = _anchors(RUNBOOKS.read_text())
    base = fixture_config("prod").alerting.runbook_base_url  # the prod fixture's, as rendered_prod
    urls = set()
    for path, text in rendered_prod.items():
        if "/PrometheusRule/" in path:
            doc = yaml.safe_load(text)
            # A team's own alerts (`<service>.custom`) link to the team's runbooks.
            urls |= {
                r["annotations"]["runbook_url"]
                for g in doc["spec"]["groups"]
                if not g["name"].endswith(".custom")
                for r in g["rules"]
                if "alert" in r
            }
        if "/ConfigMap/loki-rules-sync-" in path:  # the LogQL rules Loki's ruler evaluates
            for name, body in yaml.safe_load(text)["data"].items():
                if name.endswith(".yaml"):
                    urls |= {r["annotations"]["runbook_url"] for r in yaml.safe_load(body)["rules"]}
    urls |= {r.to_rule(base)["annotations"]["runbook_url"] for r in all_alert_rules(AlertingConfig())}
    # The cost alerts (Kubecost is optional, off in the fixture), with a budget of each kind.
    budgets = [Budget(1, namespace="orders"), Budget(1, team="payments")]
    urls |= {r["annotations"]["runbook_url"] for g in cost_rule_groups(budgets, {}, 0.5, 0.1, base) for r in g["rules"] if "alert" in r}
    assert AlertingConfig().runbook_base_url.endswith("/docs/runbooks.md")
    for url in urls:
        page, anchor = url.split("#")
        assert page == base
        assert anchor in anchors, f"docs/runbooks.md has no section for #{anchor}"
    # No stale section either: every section is an alert this program defines.
    headings = {a for a in anchors if a != "runbooks"}
    assert headings == {url.split("#")[1] for url in urls}


def test_anchor_check_can_fail():
    assert "nodedown" in _anchors("## NodeDown\n")
    assert "nodedown" not in _anchors("NodeDown\n")


def test_readme_covers_operations():
    readme = (ROOT / "README.md").read_text()
    assert "```mermaid" in readme
    for heading in (
        "## Adding a service",
        "## Releasing: canaries, promotion and abort",
        "## Upgrading a pinned chart",
        "## CI/CD",
        "## Configuration reference",
        "## Stack outputs",
    ):
        assert heading in readme
    for command in ("kubectl argo rollouts promote", "kubectl argo rollouts abort", "make render STACK=dev", "make test"):
        assert command in readme


def test_every_path_the_readme_names_exists():
    """The component table and test map point at real files: a move that forgets the README fails here."""
    import re

    readme = (ROOT / "README.md").read_text()
    paths = set(re.findall(r"`((?:components|tests|tools|docs)/[A-Za-z0-9_./-]+)`", readme))
    paths |= {
        f"components/{p}"
        for p in re.findall(r"`((?:metrics|logging|services|delivery|integrations|aws|k8s|lib|stack)/[a-z_]+\.py)`", readme)
    }
    assert len(paths) > 20
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists() and "*" not in p)
    assert missing == []
