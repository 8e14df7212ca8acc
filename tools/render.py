"""Render a stack offline: run `__main__.py` under mocks and write every resource's inputs.

    python -m tools.render --stack dev --out rendered/dev

Layout (a contract reviewers and other tools rely on):
    k8s/<namespace>/<Kind>/<name>.yaml   Kubernetes objects (cluster-scoped ones under _cluster/;
                                         manifests fetched at deploy time as _cluster/ConfigFile/)
    helm/<release>.yaml                  chart, repository, version, namespace, timeout, values
    aws/<module>.<Type>/<name>.json      AWS resources; IAM policy documents as JSON, not strings
    outputs.json                         stack outputs (secret ones redacted)
    options.json                         every resource's parent, protect, retainOnDelete, dependsOn,
                                         aliases, deleteBeforeReplace, replaceOnChanges and the file
                                         it renders to, keyed by `<type>::<name>`, for review
    summary.json                         resource counts by type
    secrets.json                         the secret config keys the stack needs (names only), and
                                         which of them its stack file does not set

Same config, same bytes. Secrets are written as the redaction marker. Bad config writes nothing
and exits 2 with one line per problem.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.conventions import PROJECT  # noqa: E402
from components.lib.charts import ChartUnavailableError  # noqa: E402
from components.stack import ConfigError, load_stack_config, required_secrets  # noqa: E402
from tools.mockrun import (  # noqa: E402
    ROOT,
    Registration,
    RunResult,
    load_stack_file,
    run_program,
    unwrap_secrets,
    with_redacted_secrets,
)

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "PersistentVolume",
    "CSIDriver",
    "IngressClass",
    "RuntimeClass",
}
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
# Inputs holding IAM/S3 policy documents as JSON strings, written back as real JSON.
POLICY_FIELDS = {"policy", "assumeRolePolicy"}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Multi-line strings (Fluent Bit config, rule files) stay readable in review.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120)


def dump_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _safe(name: str) -> str:
    return _SAFE.sub("_", name)


def _plain(value: Any) -> Any:
    """The engine carries every number as a double; write whole numbers as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _files_for(reg: Registration) -> dict[str, str]:
    inputs = _plain(unwrap_secrets(reg.inputs))
    if reg.typ == HELM_RELEASE:
        release = inputs.get("name") or reg.name
        doc = {
            "release": release,
            "chart": inputs.get("chart"),
            "repository": (inputs.get("repositoryOpts") or {}).get("repo"),
            "version": inputs.get("version"),
            "namespace": inputs.get("namespace"),
            "timeout": inputs.get("timeout"),
            "values": inputs.get("values") or {},
        }
        return {f"helm/{_safe(release)}.yaml": dump_yaml(doc)}
    if reg.typ == CONFIG_FILE:
        # Manifests the provider reads at deploy time (the CRDs, from the pinned chart): the file and
        # its digest are what to review; a chart bump that changes a CRD changes the digest.
        path = ROOT / inputs["file"]
        doc = {**inputs, "sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None}
        return {f"k8s/_cluster/ConfigFile/{_safe(reg.name)}.yaml": dump_yaml(doc)}
    if reg.typ.startswith("kubernetes:") and "apiVersion" in inputs:
        meta = inputs.get("metadata") or {}
        kind = inputs.get("kind", "Unknown")
        namespace = "_cluster" if kind in CLUSTER_SCOPED else meta.get("namespace") or "default"
        name = meta.get("name") or reg.name
        return {f"k8s/{_safe(namespace)}/{kind}/{_safe(name)}.yaml": dump_yaml(inputs)}
    if reg.typ.startswith("aws:"):
        module, type_name = reg.typ.split(":")[1].split("/")[0], reg.typ.split(":")[2]
        for key in POLICY_FIELDS & set(inputs):
            if isinstance(inputs[key], str):
                inputs[key] = json.loads(inputs[key])
        return {f"aws/{module}.{type_name}/{_safe(reg.name)}.json": dump_json(inputs)}
    return {}


def _urn_key(urn: str) -> str:
    """`<type>::<name>` of a URN: stable, and readable in a diff."""
    typ, _, name = urn.rpartition("::")
    return f"{typ.rsplit('$', 1)[-1]}::{name}"


def options(result: RunResult) -> dict[str, dict[str, Any]]:
    """The resource options a reviewer must see change: what is protected, retained, ordered, aliased."""
    out: dict[str, dict[str, Any]] = {}
    for reg in result.registrations:
        entry: dict[str, Any] = {"parent": _urn_key(reg.parent) if reg.parent else None}
        written = sorted(_files_for(reg))
        if written:
            entry["file"] = written[0]
        if reg.protect:
            entry["protect"] = True
        if reg.retain_on_delete:
            entry["retainOnDelete"] = True
        if reg.depends_on:
            entry["dependsOn"] = sorted(_urn_key(urn) for urn in reg.depends_on)
        if reg.aliases:
            entry["aliases"] = sorted(reg.aliases)
        if reg.delete_before_replace:
            entry["deleteBeforeReplace"] = True
        if reg.replace_on_changes:
            entry["replaceOnChanges"] = reg.replace_on_changes
        out[_urn_key(reg.urn)] = entry
    return dict(sorted(out.items()))


def render(result: RunResult) -> dict[str, str]:
    """Relative path -> file content for everything the program registered."""
    files: dict[str, str] = {}
    for reg in result.registrations:
        for path, content in _files_for(reg).items():
            if path in files:
                raise ValueError(f"two resources render to {path}; names must be unique per kind and namespace")
            files[path] = content
    files["options.json"] = dump_json(options(result))
    counts = Counter(reg.typ for reg in result.registrations)
    files["summary.json"] = dump_json({"resources": dict(sorted(counts.items())), "total": sum(counts.values())})
    files["outputs.json"] = dump_json(
        {name: ("[secret]" if out.secret else unwrap_secrets(out.value)) for name, out in result.outputs.items()}
    )
    return files


def secrets_needed(stack: str, project_dir: Path = ROOT) -> dict[str, list[str]]:
    """The secret keys the stack's config needs, and those its stack file does not set (CI sets
    them from the environment's secrets; locally, `pulumi config set --secret`). Names only."""
    config, in_file = load_stack_file(stack, project_dir)
    needed = required_secrets(load_stack_config(*with_redacted_secrets(config, in_file)))
    return {"needed": needed, "notInStackFile": [key for key in needed if f"{PROJECT}:{key}" not in in_file]}


def run_stack(stack: str, project_dir: Path = ROOT) -> RunResult:
    config, secret_keys = load_stack_file(stack, project_dir)
    config, secret_keys = with_redacted_secrets(config, secret_keys)
    return run_program(config, secret_keys, stack=stack)


def write(files: dict[str, str], out: Path) -> None:
    """Replace `out` with exactly these files (written beside it first, then swapped in)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    for rel, content in sorted(files.items()):
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)


def summary_table(result: RunResult) -> str:
    counts = Counter(reg.typ for reg in result.registrations)
    width = max([len(t) for t in counts] + [len("resource type")])
    lines = [f"{'resource type'.ljust(width)}  count", f"{'-' * width}  -----"]
    lines += [f"{typ.ljust(width)}  {n:5d}" for typ, n in sorted(counts.items())]
    lines.append(f"{'total'.ljust(width)}  {sum(counts.values()):5d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="stack name: renders Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output directory (default rendered/<stack>)")
    parser.add_argument("--stack-dir", type=Path, default=ROOT, help="directory holding Pulumi.<stack>.yaml (default: the project)")
    args = parser.parse_args(argv)
    if not (args.stack_dir / f"Pulumi.{args.stack}.yaml").exists():
        print(f"render: no stack file Pulumi.{args.stack}.yaml in {args.stack_dir}", file=sys.stderr)
        return 2
    out = args.out or ROOT / "rendered" / args.stack
    try:
        result = run_stack(args.stack, args.stack_dir)
    except ConfigError as err:
        print(f"render: stack {args.stack!r} has invalid config; nothing was written.", file=sys.stderr)
        for issue in err.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    except ChartUnavailableError as err:
        print(f"render: {err}; nothing was written.", file=sys.stderr)
        return 2
    files = render(result)
    secrets = secrets_needed(args.stack, args.stack_dir)
    files["secrets.json"] = dump_json(secrets)
    write(files, out)
    print(summary_table(result))
    if secrets["notInStackFile"]:
        print(
            f"secrets this stack needs that Pulumi.{args.stack}.yaml does not set: {', '.join(secrets['notInStackFile'])} "
            f"(`pulumi config set --secret <key> --stack {args.stack}`, or in CI the environment secret of the same name in "
            "upper snake case)"
        )
    print(f"wrote {len(files)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
