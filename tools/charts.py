"""Every Helm release the program renders, through its pinned chart's own templates (`helm template`).

    python -m tools.charts --stack dev --out rendered-charts/dev

A `pulumi preview` shows only a Release's values; the cluster runs what the chart's templates make of
them. This renders each `helm/<release>.yaml` of an offline render with the whole pinned chart (its
subcharts included) from `../shared/charts/<chart>-<version>/` (or `$CHARTS_DIR`), so tests and
`make diff` see the Deployments, DaemonSets, RBAC and ServiceMonitors the cluster would get.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import engines  # noqa: E402
from tools.render import CLUSTER_SCOPED, dump_yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHARTS_DIR = Path(os.environ.get("CHARTS_DIR", ROOT.parent / "shared" / "charts"))
# The Kubernetes version charts are rendered for (their Capabilities), the EKS version the docs target.
KUBE_VERSION = "1.33.0"
# API groups the cluster serves when these releases install: the operator's CRDs come first (the
# program installs them), Argo Rollouts' with its own chart.
API_VERSIONS = ("monitoring.coreos.com/v1", "monitoring.coreos.com/v1alpha1", "argoproj.io/v1alpha1", "policy/v1", "autoscaling/v2")
HELM_TIMEOUT_S = 300


@dataclass(frozen=True)
class Release:
    """One `helm/<release>.yaml` of an offline render."""

    release: str
    chart: str
    version: str
    namespace: str
    values: Mapping[str, Any]

    @classmethod
    def parse(cls, text: str) -> Release:
        doc = yaml.safe_load(text)
        return cls(doc["release"], doc["chart"], str(doc["version"]), doc["namespace"], doc.get("values") or {})

    @property
    def folder(self) -> str:
        return f"{self.chart}-{self.version}"


class ChartMissingError(LookupError):
    """The pinned chart is not in the charts folder (a user's clone without ../shared, or kubecost)."""


def chart_dir(release: Release, charts: Path = CHARTS_DIR) -> Path:
    path = charts / release.folder
    if not (path / "Chart.yaml").is_file():
        raise ChartMissingError(f"chart {release.folder} not found in {charts}")
    return path


def missing_subcharts(path: Path) -> list[str]:
    """Dependencies the chart declares but whose folder is not in its `charts/` (Helm refuses to render
    such a chart; these are rendered without them and reported)."""
    meta = yaml.safe_load((path / "Chart.yaml").read_text())
    return sorted(d["name"] for d in meta.get("dependencies") or [] if not (path / "charts" / d["name"] / "Chart.yaml").is_file())


# Defaults of a missing subchart that the parent's own templates read (kube-prometheus-stack reads
# `kubeRBACProxy.enabled` of its exporters, default false in both subcharts).
SUBCHART_DEFAULTS: dict[str, dict[str, Any]] = {
    "prometheus-node-exporter": {"kubeRBACProxy": {"enabled": False}},
    "kube-state-metrics": {"kubeRBACProxy": {"enabled": False}},
}


def _with_subchart_defaults(values: dict[str, Any], missing: list[str]) -> dict[str, Any]:
    out = dict(values)
    for name in missing:
        if name in SUBCHART_DEFAULTS:
            out[name] = {**SUBCHART_DEFAULTS[name], **(out.get(name) or {})}
    return out


def _without(path: Path, missing: list[str], tmp: Path) -> Path:
    """A copy of the chart whose Chart.yaml declares only the subcharts it has."""
    copy = tmp / path.name
    shutil.copytree(path, copy)
    copy.chmod(0o755)
    meta = yaml.safe_load((path / "Chart.yaml").read_text())
    meta["dependencies"] = [d for d in meta["dependencies"] if d["name"] not in missing]
    chart_yaml = copy / "Chart.yaml"
    chart_yaml.chmod(0o644)
    chart_yaml.write_text(yaml.safe_dump(meta, sort_keys=False))
    return copy


def releases(files: Mapping[str, str]) -> list[Release]:
    """The releases of an offline render (`tools.render.render` output), by release name."""
    found = [Release.parse(text) for path, text in files.items() if path.startswith("helm/")]
    return sorted(found, key=lambda r: r.release)


def template(release: Release, charts: Path = CHARTS_DIR, include_crds: bool = True) -> list[dict[str, Any]]:
    """The objects `helm install` would create for `release`, each with its namespace filled in."""
    path = chart_dir(release, charts)
    missing = missing_subcharts(path)
    with tempfile.TemporaryDirectory() as tmp:
        if missing:
            path = _without(path, missing, Path(tmp))
        values = Path(tmp) / "values.yaml"
        values.write_text(yaml.safe_dump(_with_subchart_defaults(dict(release.values), missing), sort_keys=True))
        args = [engines.binary("helm"), "template", release.release, str(path), "--namespace", release.namespace]
        args += ["--kube-version", KUBE_VERSION, "-f", str(values)]
        for api in API_VERSIONS:
            args += ["--api-versions", api]
        if include_crds:
            args.append("--include-crds")
        proc = subprocess.run(args, capture_output=True, text=True, timeout=HELM_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"helm template {release.release} ({release.folder}) failed: {proc.stderr.strip()[-3000:]}")
    objects = []
    for doc in yaml.safe_load_all(proc.stdout):
        if not isinstance(doc, dict) or "kind" not in doc:
            continue
        if doc["kind"] not in CLUSTER_SCOPED:
            doc.setdefault("metadata", {}).setdefault("namespace", release.namespace)
        objects.append(doc)
    return objects


def object_key(obj: Mapping[str, Any]) -> str:
    """`<namespace or _cluster>/<Kind>/<name>`: the same key the offline render's k8s/ layout uses."""
    meta = obj.get("metadata") or {}
    namespace = "_cluster" if obj["kind"] in CLUSTER_SCOPED else meta.get("namespace", "default")
    return f"{namespace}/{obj['kind']}/{meta.get('name')}"


def render_all(
    files: Mapping[str, str], charts: Path = CHARTS_DIR, only: Optional[Iterable[str]] = None
) -> tuple[dict[str, list[dict[str, Any]]], list[Release]]:
    """Every release's objects by release name (of the releases named in `only`, when given), and the
    releases whose chart is not in the charts folder; each caller decides which of those it accepts."""
    wanted = None if only is None else set(only)
    out: dict[str, list[dict[str, Any]]] = {}
    missing = []
    for release in releases(files):
        if wanted is not None and release.release not in wanted:
            continue
        try:
            out[release.release] = template(release, charts)
        except ChartMissingError:
            missing.append(release)
    return out, missing


def write(objects: Mapping[str, list[dict[str, Any]]], out: Path) -> int:
    """`<release>/<namespace>/<Kind>/<name>.yaml`, sorted keys: the layout `make diff` compares."""
    count = 0
    for release, docs in objects.items():
        for obj in docs:
            path = out / release / f"{object_key(obj)}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dump_yaml(obj))
            count += 1
    return count


def files_for(objects: Mapping[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The same layout as `write`, in memory: path -> text."""
    return {f"charts/{release}/{object_key(obj)}.yaml": dump_yaml(obj) for release, docs in objects.items() for obj in docs}


def main(argv: Optional[list[str]] = None) -> int:
    from tools.render import render, run_stack

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    objects, missing = render_all(render(run_stack(args.stack)))
    for release in missing:
        print(f"charts: {release.folder} not in {CHARTS_DIR}: release {release.release} not rendered", file=sys.stderr)
    print(f"wrote {write(objects, args.out)} chart-rendered objects to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
