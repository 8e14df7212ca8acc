"""Files of a pinned chart, read where the program runs: the chart package itself, never a URL per file.

The prometheus-operator CRDs are installed from the pinned kube-prometheus-stack package (its `crds`
subchart), so a chart bump is a CRD bump, from the same bytes Helm installs. The package is put once
into `.charts/<chart>-<version>/` (git-ignored, like `.venv`):

- from `$CHARTS_DIR/<chart>-<version>/` when it holds the chart (a mirror of the charts; CI's
  `../shared/charts`);
- else downloaded from the chart's repository, the package its `index.yaml` lists for that version,
  checked against the index's sha256 digest.

The path handed to the provider is relative to the project, so the same config renders the same bytes
on every machine.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

import pulumi
import yaml

from .helm import Chart

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CACHE = ".charts"
DOWNLOAD_TIMEOUT_S = 120


class ChartUnavailableError(pulumi.RunError):
    """The pinned chart could not be had from the mirror or its repository (a RunError: `pulumi
    preview` prints the message, not a traceback)."""


def _mirror() -> Path:
    return Path(os.environ.get("CHARTS_DIR", PROJECT_ROOT.parent / "shared" / "charts"))


def _download(chart: Chart, version: str, target: Path) -> None:
    index_url = f"{chart.repository.rstrip('/')}/index.yaml"
    try:
        with urllib.request.urlopen(index_url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (the chart's own repository)
            index = yaml.safe_load(response.read())
        (entry,) = [e for e in index["entries"][chart.chart] if str(e["version"]) == version]
        url = entry["urls"][0]
        if "://" not in url:
            url = f"{chart.repository.rstrip('/')}/{url}"
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310
            package = response.read()
    except (OSError, KeyError, ValueError) as err:
        raise ChartUnavailableError(
            f"chart {chart.chart} {version} is neither mirrored in {_mirror()} (CHARTS_DIR) nor could be fetched from "
            f"{chart.repository}: {err}"
        ) from err
    digest = hashlib.sha256(package).hexdigest()
    if digest != entry.get("digest"):
        raise ChartUnavailableError(f"chart {chart.chart} {version}: package digest {digest} is not the index's {entry.get('digest')}")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(package)) as tgz:
        tgz.extractall(staging, filter="data")
    (staging / chart.chart).rename(target)
    shutil.rmtree(staging)


def chart_path(chart: Chart, version: str) -> str:
    """`.charts/<chart>-<version>`, relative to the project, holding the whole pinned chart."""
    relative = f"{CACHE}/{chart.chart}-{version}"
    target = PROJECT_ROOT / relative
    if (target / "Chart.yaml").is_file():
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    mirrored = _mirror() / f"{chart.chart}-{version}"
    if (mirrored / "Chart.yaml").is_file():
        shutil.copytree(mirrored, target, dirs_exist_ok=True)
        for path in [target, *target.rglob("*")]:  # the mirror may be read-only
            path.chmod(0o755 if path.is_dir() else 0o644)
    else:
        _download(chart, version, target)
    return relative


def chart_file(chart: Chart, version: str, path: str) -> str:
    """A file of the pinned chart, relative to the project; an error if the chart does not have it."""
    relative = f"{chart_path(chart, version)}/{path}"
    if not (PROJECT_ROOT / relative).is_file():
        raise ChartUnavailableError(f"chart {chart.chart} {version} has no {path}")
    return relative
