"""What `pulumi up` does to what already exists: two offline renders (before, after) classified.

    python -m tools.changes BEFORE_DIR AFTER_DIR        (two `make render` outputs; `make diff` runs it)

Every resource the program renders, and every object its Helm releases' pinned charts render from
their values (`tools/charts.py`), is one of:

- unchanged;
- updated in place;
- created, or deleted (retained: left in the cluster by `retainOnDelete` or Helm's keep policy);
- replaced: a field the provider cannot update changed (a Kubernetes object's name or namespace, a
  Release's, an AWS name, a `replaceOnChanges` path), the resource is deleted and created again;
- refused: the real provider or API server will not apply it, and the `up` fails: an immutable field of
  a chart-rendered object (a selector, a StatefulSet's volume claim templates) changed inside a Release
  that is upgraded in place, or a protected resource would be deleted or replaced.

The mock runtime applies nothing, so this is where a change the cluster refuses is seen before `up`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import charts, engines  # noqa: E402

Verdict = Literal["unchanged", "updated", "created", "deleted", "retained", "replaced", "refused"]
ORDER: tuple[Verdict, ...] = ("refused", "replaced", "deleted", "retained", "created", "updated", "unchanged")

# Fields the Kubernetes API server will not change on an existing object (field path prefixes), by kind.
# A StatefulSet's spec is immutable except the keys in MUTABLE_STATEFULSET_SPEC.
IMMUTABLE: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "Job": ("spec.selector", "spec.template", "spec.completionMode"),
    "Service": ("spec.clusterIP", "spec.clusterIPs"),
    "PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.volumeMode", "spec.volumeName", "spec.selector"),
    "StorageClass": ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
    "CSIDriver": ("spec.attachRequired", "spec.podInfoOnMount"),
}
MUTABLE_STATEFULSET_SPEC = {
    "replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds", "revisionHistoryLimit",
}  # fmt: skip
# AWS inputs whose change replaces the resource (the provider's ForceNew), for the types this program creates.
AWS_REPLACE: Mapping[str, tuple[str, ...]] = {
    "s3.Bucket": ("bucket", "bucketPrefix"),
    "iam.Role": ("name", "namePrefix", "path"),
    "iam.RolePolicy": ("name", "role"),
    "cloudwatch.LogGroup": ("name", "namePrefix"),
    "amp.Workspace": (),
    "eks.Addon": ("addonName", "clusterName"),
}
# Inputs of a Release that replace it (the provider forces a new release on these).
RELEASE_REPLACE = ("release", "namespace")


@dataclass(frozen=True)
class Change:
    key: str
    verdict: Verdict
    reason: str = ""

    def line(self) -> str:
        return f"{self.verdict:9} {self.key}" + (f"  ({self.reason})" if self.reason else "")


def _load(path: str, text: str) -> Any:
    return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    return {prefix: value}


def changed_paths(before: Any, after: Any) -> list[str]:
    """Dotted paths whose values differ (lists compared whole)."""
    a, b = _flatten(before), _flatten(after)
    return sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))


def _under(path: str, prefixes: Iterable[str]) -> Optional[str]:
    return next((p for p in prefixes if path == p or path.startswith(p + ".")), None)


def immutable_changes(kind: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Paths of `kind`'s immutable fields that differ between the two objects."""
    paths = changed_paths(before, after)
    if kind == "StatefulSet":
        return sorted(
            {".".join(p.split(".")[:2]) for p in paths if p.startswith("spec.") and p.split(".")[1] not in MUTABLE_STATEFULSET_SPEC}
        )
    prefixes = IMMUTABLE.get(kind, ())
    return sorted({hit for p in paths if (hit := _under(p, prefixes))})


def _options_by_file(files: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    options = json.loads(files.get("options.json", "{}"))
    return {entry["file"]: entry for entry in options.values() if "file" in entry}


def _resource(path: str, before: Any, after: Any, options: Mapping[str, Any]) -> Change:
    """A resource the program registers, by the file it renders to."""
    if path.startswith("helm/"):
        forced = [k for k in RELEASE_REPLACE if before.get(k) != after.get(k)]
        value_paths = [p.removeprefix("values.") for p in options.get("replaceOnChanges", [])]
        forced += [f"values.{v}" for v in value_paths if any(_under(p, [v]) for p in changed_paths(before["values"], after["values"]))]
    elif path.startswith("aws/"):
        typ = path.split("/")[1]
        forced = [k for k in AWS_REPLACE.get(typ, ()) if before.get(k) != after.get(k)]
    else:
        forced = immutable_changes(after.get("kind", ""), before, after)
    if forced:
        how = "delete before create" if options.get("deleteBeforeReplace") else "create before delete"
        if options.get("protect"):
            return Change(path, "refused", f"protected, and {', '.join(forced)} changed: a replacement would delete it")
        return Change(path, "replaced", f"{', '.join(forced)} changed; {how}")
    return Change(path, "updated", ", ".join(changed_paths(before, after))[:300])


def classify_program(before: Mapping[str, str], after: Mapping[str, str]) -> list[Change]:
    """The program's own resources: Kubernetes objects, Helm releases, AWS resources."""
    old, new = _options_by_file(before), _options_by_file(after)
    changes = []
    for path in sorted((set(before) | set(after)) - {"options.json", "summary.json", "outputs.json"}):
        if path not in after:
            options = old.get(path, {})
            if options.get("protect"):
                changes.append(Change(path, "refused", "protected: Pulumi will not delete it"))
            elif options.get("retainOnDelete"):
                changes.append(Change(path, "retained", "retainOnDelete: dropped from the stack, left in the cluster"))
            else:
                changes.append(Change(path, "deleted"))
        elif path not in before:
            changes.append(Change(path, "created"))
        elif before[path] == after[path]:
            changes.append(Change(path, "unchanged"))
        else:
            changes.append(_resource(path, _load(path, before[path]), _load(path, after[path]), new.get(path, {})))
    return changes


def classify_charts(
    before: Mapping[str, list[dict[str, Any]]], after: Mapping[str, list[dict[str, Any]]], releases: Mapping[str, Change]
) -> list[Change]:
    """Objects the releases' charts render. A release that is replaced takes its objects with it;
    one upgraded in place cannot change an object's immutable fields."""
    changes = []
    for release in sorted(set(before) | set(after)):
        old = {charts.object_key(o): o for o in before.get(release, [])}
        new = {charts.object_key(o): o for o in after.get(release, [])}
        verdict = releases.get(f"helm/{release}.yaml")
        replaced = verdict is not None and verdict.verdict in ("replaced", "refused")
        for key in sorted(set(old) | set(new)):
            label = f"chart {release}: {key}"
            if key not in new:
                kept = (old[key].get("metadata", {}).get("annotations") or {}).get("helm.sh/resource-policy") == "keep"
                changes.append(Change(label, "retained" if kept else "deleted", "helm.sh/resource-policy: keep" if kept else ""))
            elif key not in old:
                changes.append(Change(label, "created"))
            elif old[key] == new[key]:
                changes.append(Change(label, "unchanged"))
            elif replaced:
                changes.append(Change(label, "replaced", f"with the release ({verdict.reason})" if verdict else "with the release"))
            else:
                frozen = immutable_changes(new[key]["kind"], old[key], new[key])
                if frozen:
                    reason = f"immutable {', '.join(frozen)} changed: Helm's upgrade fails and the atomic release rolls back"
                    changes.append(Change(label, "refused", reason))
                else:
                    changes.append(Change(label, "updated", ", ".join(changed_paths(old[key], new[key]))[:300]))
    return changes


def classify(
    before: Mapping[str, str],
    after: Mapping[str, str],
    chart_objects: Optional[tuple[Mapping[str, list[dict[str, Any]]], Mapping[str, list[dict[str, Any]]]]] = None,
) -> list[Change]:
    program = classify_program(before, after)
    if chart_objects is None:
        return program
    releases = {c.key: c for c in program if c.key.startswith("helm/")}
    return program + classify_charts(*chart_objects, releases)


def summary(changes: Iterable[Change], show_unchanged: bool = False) -> str:
    changes = list(changes)
    counts = {v: sum(c.verdict == v for c in changes) for v in ORDER}
    lines = [", ".join(f"{n} {v}" for v, n in counts.items() if n)]
    for verdict in ORDER:
        if verdict == "unchanged" and not show_unchanged:
            continue
        lines += [c.line() for c in changes if c.verdict == verdict]
    return "\n".join(lines)


def _read(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--no-charts", action="store_true", help="classify the program's resources only (no helm template)")
    args = parser.parse_args(argv)
    before, after = _read(args.before), _read(args.after)
    objects = None
    if not args.no_charts:
        # A release whose rendered values, chart and version are unchanged renders the same objects.
        changed = {
            p.removeprefix("helm/").removesuffix(".yaml")
            for p in set(before) | set(after)
            if p.startswith("helm/") and before.get(p) != after.get(p)
        }
        try:
            (old, missing_old), (new, missing_new) = charts.render_all(before, only=changed), charts.render_all(after, only=changed)
        except engines.EngineError as err:
            # The program's own resources are still classified: say what is missing, not a traceback.
            print(f"changes: the charts' objects are not classified: {err}", file=sys.stderr)
        else:
            objects = (old, new)
            for missing in sorted({f"{r.release} ({r.folder})" for r in missing_old + missing_new}):
                print(f"changes: chart of {missing} not in {charts.CHARTS_DIR}: its objects are not classified", file=sys.stderr)
    changes = classify(before, after, objects)
    print(summary(changes))
    return 1 if any(c.verdict == "refused" for c in changes) else 0


if __name__ == "__main__":
    sys.exit(main())
