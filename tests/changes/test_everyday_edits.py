"""Everyday edits, classified before `pulumi up`: what each changes, replaces, or would be refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.changes.lab import apply


def add_service(values: dict[str, Any]) -> None:
    values["services"].append({"name": "search-api", "namespace": "search", "port": 8080, "version": "1.0.0", "image": "r.example.com/s:1"})


def rename_service(values: dict[str, Any]) -> None:
    values["services"][0]["name"] = "checkout-api"


def remove_service(values: dict[str, Any]) -> None:
    values["services"] = values["services"][1:]


def grow_loki(values: dict[str, Any]) -> None:
    values["loki"]["storageSize"] = "80Gi"


def rename_monitoring(values: dict[str, Any]) -> None:
    values["namespaces"] = {"monitoring": "observability"}


def without_prometheus_stack(values: dict[str, Any]) -> None:
    values["prometheusStack"]["enabled"] = False
    values["services"] = []


def adopt(values: dict[str, Any]) -> None:
    values["cluster"]["adoptExistingObjects"] = True


# The LogQL rules' ConfigMap and sync Job are named by their content: a new service's rule means a new pair,
# which `pulumi up` runs, and the completed pair before it is removed.
RULES_SYNC = re.compile(r"^k8s/logging/(ConfigMap|Job)/loki-rules-sync-[0-9a-f]{10}\.yaml$")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_adding_a_service_only_creates(stack):
    outcome = apply(stack, add_service)
    assert outcome.of("refused") == [] and outcome.of("replaced") == []
    deleted = outcome.of("deleted")
    assert len(deleted) == 2 and all(RULES_SYNC.match(path) for path in deleted), deleted
    assert len([path for path in outcome.of("created") if RULES_SYNC.match(path)]) == 2
    assert "k8s/search/Rollout/search-api.yaml" in outcome.of("created")
    assert "k8s/_cluster/Namespace/search.yaml" in outcome.of("created")
    assert outcome.verdict("k8s/orders/Rollout/orders-api.yaml").verdict == "unchanged"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_renaming_a_service_replaces_its_objects_and_keeps_the_teams_namespace(stack):
    outcome = apply(stack, rename_service)
    assert outcome.of("refused") == []
    assert {"k8s/orders/Rollout/orders-api.yaml", "k8s/orders/Service/orders-api.yaml"} <= set(outcome.of("deleted"))
    assert "k8s/orders/Rollout/checkout-api.yaml" in outcome.of("created")
    assert outcome.verdict("k8s/_cluster/Namespace/orders.yaml").verdict == "unchanged"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_removing_a_service_retains_the_teams_namespace(stack):
    outcome = apply(stack, remove_service)
    assert outcome.of("refused") == []
    assert outcome.verdict("k8s/_cluster/Namespace/orders.yaml").verdict == "retained"
    assert "k8s/orders/Rollout/orders-api.yaml" in outcome.of("deleted")


def test_growing_lokis_volumes_replaces_the_release_instead_of_failing_every_up():
    """StatefulSet volume claim templates are immutable: upgraded in place, Helm's upgrade fails, the atomic
    release rolls back and every later `up` fails the same way. The release is replaced (deleted first)."""
    outcome = apply("prod", grow_loki)
    assert outcome.of("refused") == []
    release = outcome.verdict("helm/loki.yaml")
    assert release.verdict == "replaced" and "delete before create" in release.reason
    assert "values.ingester.persistence.claims" in release.reason
    statefulsets = {k: v for k, v in outcome.matching("/StatefulSet/").items() if k.startswith("chart loki:")}
    assert statefulsets and set(statefulsets.values()) <= {"replaced", "unchanged"}
    assert statefulsets["chart loki: logging/StatefulSet/loki-ingester"] == "replaced"


def test_growing_lokis_volumes_in_place_would_be_refused():
    """Planted defect: the same edit with the release upgraded in place (no replaceOnChanges) is classified
    refused, naming the volume claim templates."""
    import json

    from tests.changes.lab import _files, _templated
    from tests.stackfixtures import fixture_values
    from tools import changes as classifier

    before = _files("prod", fixture_values("prod"))
    values = fixture_values("prod")
    grow_loki(values)
    after = _files("prod", values)
    options = json.loads(after["options.json"])
    options["kubernetes:helm.sh/v3:Release::loki-release"].pop("replaceOnChanges")
    after["options.json"] = json.dumps(options)
    objects = (_templated(json.dumps(before, sort_keys=True)), _templated(json.dumps(after, sort_keys=True)))
    refused = {c.key: c.reason for c in classifier.classify(before, after, objects) if c.verdict == "refused"}
    assert "chart loki: logging/StatefulSet/loki-ingester" in refused
    assert "spec.volumeClaimTemplates" in refused["chart loki: logging/StatefulSet/loki-ingester"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_renaming_a_platform_namespace_replaces_its_releases_delete_first(stack):
    outcome = apply(stack, rename_monitoring)
    release = outcome.verdict("helm/kube-prometheus-stack.yaml")
    assert release.verdict == "replaced" and "namespace changed; delete before create" in release.reason
    old = outcome.verdict("k8s/_cluster/Namespace/monitoring.yaml")
    # Prod keeps its platform namespaces (their volumes): the old one stays, never deleted by the program.
    assert old.verdict == ("retained" if stack == "prod" else "deleted")
    assert "k8s/_cluster/Namespace/observability.yaml" in outcome.of("created")
    # Cluster-scoped objects of the old release are deleted with it before the new one is installed.
    assert outcome.matching("chart kube-prometheus-stack: _cluster/ClusterRole/")
    assert outcome.of("refused") == []


def test_turning_the_prometheus_stack_off_keeps_the_crds():
    outcome = apply("dev", without_prometheus_stack)
    crds = {k: v for k, v in outcome.matching("ConfigFile").items()}
    assert crds and set(crds.values()) == {"retained"}
    assert outcome.of("refused") == []


def test_turning_the_prometheus_stack_off_in_prod_is_refused_while_the_crds_are_protected():
    outcome = apply("prod", without_prometheus_stack, charts=False)
    refused = outcome.of("refused")
    assert refused and all("ConfigFile" in key for key in refused)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_adopting_changes_options_not_objects(stack):
    outcome = apply(stack, adopt)
    assert outcome.of("refused") == [] and outcome.of("replaced") == [] and outcome.of("deleted") == []
    assert outcome.of("updated") == []


def test_a_chart_bump_that_changes_a_selector_is_refused(tmp_path):
    """A chart bump is the same values through a new chart. Only one version of each chart is mirrored, so the
    bump is the pinned Fluent Bit chart with one change of the kind chart bumps make (a selector label added,
    as charts do when they rename their labels): upgraded in place, the DaemonSet is refused."""
    import shutil

    import yaml

    from tests.changes.lab import _files
    from tests.charts.helm import require_charts
    from tests.stackfixtures import fixture_values
    from tools import changes as classifier
    from tools import charts

    require_charts()
    files = _files("dev", fixture_values())
    (release,) = [r for r in charts.releases(files) if r.release == "fluent-bit"]
    bumped = tmp_path / release.folder
    shutil.copytree(charts.chart_dir(release), bumped)
    helpers = bumped / "templates" / "_helpers.tpl"
    helpers.chmod(0o644)
    text = helpers.read_text()
    helpers.write_text(
        text.replace(
            "app.kubernetes.io/instance: {{ .Release.Name }}",
            "app.kubernetes.io/instance: {{ .Release.Name }}\napp.kubernetes.io/part-of: logging",
            1,
        )
    )
    before = {"fluent-bit": charts.template(release)}
    after = {"fluent-bit": charts.template(release, charts=tmp_path)}
    changes = classifier.classify_charts(before, after, {"helm/fluent-bit.yaml": classifier.Change("helm/fluent-bit.yaml", "updated")})
    refused = {c.key: c.reason for c in changes if c.verdict == "refused"}
    assert list(refused) == ["chart fluent-bit: logging/DaemonSet/fluent-bit"]
    assert "spec.selector" in refused["chart fluent-bit: logging/DaemonSet/fluent-bit"]
    assert yaml.safe_dump(before) != yaml.safe_dump(after)
