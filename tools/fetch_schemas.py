"""Fetch the upstream schemas the chart-values and CRD tests read, for the versions this program pins.

    python -m tools.fetch_schemas --out .schemas          (make schemas)

The tests look for them in `../shared/schemas` beside the project (CI's layout), else in
`$SHARED_SCHEMAS_DIR`, else in `.schemas/` (this command's default output, git-ignored). Layout:

    charts/<dir>/Chart.yaml, values.yaml[, values.schema.json]   from the chart repository's package
    crds/<group>_<plural>.yaml                                   the operator's from kube-prometheus-stack's package, Argo's from its tag

Nothing is vendored into the repository: a chart bump fetches that chart's files.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.delivery.argo_rollouts import ArgoRolloutsConfig  # noqa: E402
from components.logging.config import FluentBitConfig, LokiConfig  # noqa: E402
from components.metrics.config import PrometheusStackConfig  # noqa: E402
from components.metrics.dcgm import DcgmExporterConfig  # noqa: E402
from components.metrics.values import operator_crd_path  # noqa: E402

TIMEOUT_S = 60
# (directory under charts/, chart name, repository, pinned version)
CHARTS = (
    (
        "kube-prometheus-stack",
        "kube-prometheus-stack",
        "https://prometheus-community.github.io/helm-charts",
        PrometheusStackConfig().chart_version,
    ),
    ("loki-community", "loki", "https://grafana-community.github.io/helm-charts", LokiConfig().chart_version),
    ("fluent-bit", "fluent-bit", "https://fluent.github.io/helm-charts", FluentBitConfig().chart_version),
    ("argo-rollouts", "argo-rollouts", "https://argoproj.github.io/argo-helm", ArgoRolloutsConfig().chart_version),
    ("dcgm-exporter", "dcgm-exporter", "https://nvidia.github.io/dcgm-exporter/helm-charts", DcgmExporterConfig().chart_version),
)
OPERATOR_CRDS = ("servicemonitors", "podmonitors", "prometheusrules", "probes", "alertmanagerconfigs")
ARGO_CRDS = {
    "rollouts": "rollout",
    "analysistemplates": "analysis-template",
    "clusteranalysistemplates": "cluster-analysis-template",
    "analysisruns": "analysis-run",
}
CHART_FILES = ("Chart.yaml", "values.yaml", "values.schema.json")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (pinned upstream URLs)
        return bytes(response.read())


def chart_files(repository: str, chart: str, version: str, extra: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Chart.yaml, values.yaml and values.schema.json (and `extra` paths) of one chart version, from its repository's package."""
    index = yaml.safe_load(_get(f"{repository.rstrip('/')}/index.yaml"))
    entry = next((e for e in index["entries"].get(chart, []) if str(e["version"]) == version), None)
    if entry is None:
        raise SystemExit(f"fetch_schemas: {chart} {version} is not in {repository}/index.yaml")
    package = urllib.parse.urljoin(f"{repository.rstrip('/')}/", entry["urls"][0])
    files = {}
    with tarfile.open(fileobj=io.BytesIO(_get(package)), mode="r:gz") as archive:
        for name in (*CHART_FILES, *extra):
            try:
                member = archive.extractfile(f"{chart}/{name}")
            except KeyError:
                continue
            if member is not None:
                files[name] = member.read()
    return files


def fetch(out: Path) -> list[Path]:
    written = []

    def write(path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)

    app_versions = {}
    # The operator's CRDs come from kube-prometheus-stack's own package, as the program installs them.
    crds = {operator_crd_path(plural): plural for plural in OPERATOR_CRDS}
    for directory, chart, repository, version in CHARTS:
        extra = tuple(crds) if directory == "kube-prometheus-stack" else ()
        for name, content in chart_files(repository, chart, version, extra).items():
            if name in crds:
                write(out / "crds" / f"monitoring.coreos.com_{crds[name]}.yaml", content)
            else:
                write(out / "charts" / directory / name, content)
        app_versions[directory] = str(yaml.safe_load((out / "charts" / directory / "Chart.yaml").read_text())["appVersion"])
    argo = app_versions["argo-rollouts"]
    for plural, file in ARGO_CRDS.items():
        url = f"https://raw.githubusercontent.com/argoproj/argo-rollouts/{argo}/manifests/crds/{file}-crd.yaml"
        write(out / "crds" / f"argoproj.io_{plural}.yaml", _get(url))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(".schemas"))
    args = parser.parse_args(argv)
    files = fetch(args.out)
    print(f"fetched {len(files)} files into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
