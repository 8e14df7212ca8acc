"""Existing clusters are adopted, never damaged: what the program retains, and what it upserts."""

from __future__ import annotations

from tests.manifests import validate
from tests.stackfixtures import namespaces
from tools.mockrun import RunResult


def _namespaces(result: RunResult) -> dict[str, bool]:
    return {r.inputs["metadata"]["name"]: r.retain_on_delete for r in namespaces(result)}


def test_service_namespaces_are_never_deleted(dev, prod):
    for result in (dev, prod):
        namespaces = _namespaces(result)
        for team in ("orders", "legacy", "billing"):
            assert namespaces[team] is True, team
    # The platform's own namespaces hold its volumes: kept when the stack protects its data.
    assert _namespaces(prod)["monitoring"] is True
    assert _namespaces(dev)["monitoring"] is False


def test_every_retained_namespace_can_come_back(dev, prod):
    """A retained namespace is applied as a forced server-side-apply patch: re-adding it (a service
    removed and added again, a team namespace that predates the platform) finds it and takes it over
    instead of failing with AlreadyExists; a namespace the program may delete is a plain Namespace."""
    for result in (dev, prod):
        for reg in namespaces(result):
            retained = reg.retain_on_delete
            assert reg.typ == ("kubernetes:core/v1:NamespacePatch" if retained else "kubernetes:core/v1:Namespace"), reg.name
            if retained:
                assert reg.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"


def test_objects_are_not_upserted_unless_asked(dev):
    (provider,) = dev.of_type("pulumi:providers:kubernetes")
    assert "upsertExistingObjects" not in provider.inputs and "enablePatchForce" not in provider.inputs
    # Pinned, whatever PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY says where `pulumi up` runs.
    assert provider.inputs["enableServerSideApply"] == "true"
    service = dev.named("svc-orders-api-service")
    assert service.retain_on_delete is False


def test_adopting_an_existing_cluster(run, make_config):
    values = make_config("dev")
    values["cluster"]["adoptExistingObjects"] = True
    result = run(values)
    (provider,) = result.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["upsertExistingObjects"] == "true"
    # The provider forces field conflicts in preview only: without this, a field another manager
    # owns fails just the real `up`.
    assert provider.inputs["enablePatchForce"] == "true"
    assert provider.inputs["enableServerSideApply"] == "true"
    for service in ("orders-api", "legacy-api", "billing-api"):
        # A team's Service or Rollout the platform took over stays when the entry is removed.
        assert result.named(f"svc-{service}-service").retain_on_delete is True
        assert result.named(f"svc-{service}-rollout").retain_on_delete is True
        assert result.named(f"svc-{service}-servicemonitor").retain_on_delete is False


def test_gp3_storage_class_on_request(run, make_config):
    values = make_config("dev")
    assert not run(values).of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    values["cluster"]["createStorageClass"] = True
    (sc,) = run(values).of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert sc.retain_on_delete is True
    assert sc.inputs["metadata"]["name"] == "gp3"
    assert (sc.inputs["provisioner"], sc.inputs["volumeBindingMode"]) == ("ebs.csi.aws.com", "WaitForFirstConsumer")
    assert validate(sc.inputs) == []


def test_prerequisites_are_read_not_changed(dev, run, make_config):
    assert sorted(dev.reads) == [
        ("kubernetes:storage.k8s.io/v1:CSIDriver", "prerequisite-ebs-csi-driver", "ebs.csi.aws.com"),
        ("kubernetes:storage.k8s.io/v1:StorageClass", "prerequisite-storage-class-gp3", "gp3"),
    ]
    values = make_config(
        "dev", cluster={"createStorageClass": True}, prometheusStack={"grafana": {"ingress": {"enabled": True, "host": "g.example.com"}}}
    )
    reads = {name for _, name, _ in run(values).reads}
    assert reads == {"prerequisite-ebs-csi-driver", "prerequisite-ingress-class-alb"}
