"""Run the real `__main__.py` under the Pulumi SDK's mock runtime and record what it registers.

Used by the offline render, the benchmark and the tests, so all three see exactly what
`pulumi up` would send to the engine: every resource's type, name, parent, options and inputs.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
from pulumi.runtime import mocks as pulumi_mocks  # noqa: E402
from pulumi.runtime import rpc, settings  # noqa: E402
from pulumi.runtime.config import set_all_config  # noqa: E402
from pulumi.runtime.stack import run_pulumi_func  # noqa: E402
from pulumi.runtime.sync_await import _sync_await  # noqa: E402

from components.conventions import PROJECT, REDACTED, SECRET_CONFIG_KEYS  # noqa: E402
from components.stack.errors import ConfigError  # noqa: E402
from components.stack.loading import declared_team_secrets  # noqa: E402

# A made-up account for mock ARNs when the stack config names none.
MOCK_ACCOUNT = "123456789012"


@dataclass
class Registration:
    """One resource as the engine received it."""

    typ: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    aliases: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    transforms: int = 0
    provider: str = ""
    depends_on: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    import_id: str = ""  # the `import_` option: adopt this existing object instead of creating it


@dataclass
class AwsStandIn:
    """The account as the program's reads see it under mocks: the cluster's control-plane log types, and the
    log groups that exist (name -> (retention in days or 0 for never, tags)). `run_program(aws=...)` sets it."""

    cluster_log_types: tuple[str, ...] = ("api", "audit", "authenticator")
    log_groups: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)



class RecordingMocks(pulumi_mocks.Mocks):
    """Echo inputs back as outputs, adding the ids and ARNs AWS would compute."""

    def __init__(self, region: str, account: str, world: Optional[AwsStandIn] = None):
        self.region = region
        self.account = account
        self.world = world or AwsStandIn()

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        state = dict(args.inputs)
        typ, name = args.typ, args.name
        if typ == "aws:s3/bucket:Bucket":
            bucket = state.get("bucket") or f"{name}-mock0001"
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}")
            return bucket, state
        if typ == "aws:amp/workspace:Workspace":
            workspace = "ws-00000000-0000-4000-8000-000000000001"
            state.update(
                arn=f"arn:aws:aps:{self.region}:{self.account}:workspace/{workspace}",
                prometheus_endpoint=f"https://aps-workspaces.{self.region}.amazonaws.com/workspaces/{workspace}/",
            )
            return workspace, state
        arn_prefix = {
            "aws:iam/role:Role": f"arn:aws:iam::{self.account}:role/",
            "aws:iam/policy:Policy": f"arn:aws:iam::{self.account}:policy/",
            "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{self.region}:{self.account}:log-group:",
        }.get(typ)
        if arn_prefix is not None:
            named = state.get("name") or f"{name}-mock0001"
            state.update(name=named, arn=f"{arn_prefix}{named}")
            return named, state
        return f"{name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, Optional[list[tuple[str, str]]]]:
        """The AWS reads the program makes, answered by a stand-in of the account (`AwsStandIn`): render stays offline."""
        world = self.world
        if args.token == "aws:eks/getCluster:getCluster":
            name = args.args["name"]
            return {"name": name, "id": name, "enabledClusterLogTypes": list(world.cluster_log_types)}, []
        if args.token == "aws:cloudwatch/getLogGroups:getLogGroups":
            prefix = args.args.get("logGroupNamePrefix", "")
            names = sorted(n for n in world.log_groups if n.startswith(prefix))
            arns = [f"arn:aws:logs:{self.region}:{self.account}:log-group:{n}" for n in names]
            return {"id": self.region, "logGroupNames": names, "arns": arns}, []
        if args.token == "aws:cloudwatch/getLogGroup:getLogGroup":
            name = args.args["name"]
            retention, tags = world.log_groups[name]
            arn = f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}"
            return {"id": name, "name": name, "arn": arn, "retentionInDays": retention, "tags": dict(tags)}, []
        raise NotImplementedError(f"the program must not call provider functions ({args.token}): render stays offline")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that also keeps the resource options the engine would see."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        # Existing objects the program reads (`Resource.get`): (type, name, id). Never rendered.
        self.reads: list[tuple[str, str, str]] = []

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.reads.append((request.type, request.name, request.id))
        return super().ReadResource(request)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    typ=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=rpc.deserialize_properties(request.object),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    aliases=[_alias(a) for a in request.aliases],
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    replace_on_changes=sorted(request.replaceOnChanges),
                    ignore_changes=sorted(request.ignoreChanges),
                    transforms=len(request.transforms),
                    provider=request.provider,
                    depends_on=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    import_id=request.importId,
                )
            )
        return response


def _alias(alias: Any) -> str:
    """An alias as the engine reads it: a whole URN, or the parts of a spec that differ."""
    if alias.urn:
        return str(alias.urn)
    spec = alias.spec
    parts = {"name": spec.name, "type": spec.type, "parentUrn": spec.parentUrn, "noParent": spec.noParent}
    return ",".join(f"{k}={v}" for k, v in parts.items() if v)


@dataclass
class StackOutput:
    value: Any
    secret: bool


@dataclass
class RunResult:
    registrations: list[Registration]
    outputs: dict[str, StackOutput]
    error: Optional[BaseException] = None
    reads: list[tuple[str, str, str]] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.typ == typ]

    def release(self, name: str) -> dict[str, Any]:
        """Inputs of the Helm release installed as `name`."""
        found = [r.inputs for r in self.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} Helm releases named {name!r}")
        return found[0]

    def named(self, name: str, component: bool = False) -> Registration:
        """The one resource named `name`: a custom resource, or with `component` a component
        (a component and its main child may share a name, as `loki-bucket` does)."""
        found = [r for r in self.registrations if r.name == name and r.custom != component]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]


def duplicate_keys(text: str) -> list[str]:
    """Every key defined twice in one mapping, at any depth, with both lines: YAML parsers keep the
    last one silently (a second `services:` block appended to a stack file replaced every service)."""
    found: list[str] = []

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value)
                where = f"{path}.{name}" if path else name
                if name in seen:
                    found.append(f"{where}: defined twice, at lines {seen[name]} and {key.start_mark.line + 1}; keep one (merge them).")
                else:
                    seen[name] = key.start_mark.line + 1
                walk(value, where)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return found


def load_stack_file(stack: str, project_dir: Path = ROOT) -> tuple[dict[str, Any], set[str]]:
    """Config as the Pulumi CLI hands it to the program: objects as JSON text, `secure:` keys secret.

    A `secure:` value is ciphertext only the CLI can decrypt, so it becomes the redaction marker.
    """
    path = project_dir / f"Pulumi.{stack}.yaml"
    try:
        text = path.read_text()
        duplicates = duplicate_keys(text)
        if duplicates:
            raise ConfigError([f"{path.name}: {problem}" for problem in duplicates])
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError([f"{path.name}: not valid YAML{where}: {problem}."]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{path.name}: got a {type(raw).__name__} at the top level; a stack file is a mapping with a `config:` key."])
    section = raw.get("config") or {}
    if not isinstance(section, dict):
        raise ConfigError([f"{path.name}: config: got a {type(section).__name__}; it must be a mapping of `<namespace>:<key>: value`."])
    config: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for key, value in section.items():
        key = str(key)
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full] = REDACTED
            secret_keys.add(full)
        elif isinstance(value, (dict, list)):
            # YAML dates (an unquoted 2024-01-01) become their text, as the CLI passes them.
            config[full] = json.dumps(value, default=str)
        elif isinstance(value, bool):
            config[full] = "true" if value else "false"
        else:
            config[full] = str(value)
    return config, secret_keys


def stack_config(stack: str, project_dir: Path = ROOT) -> Any:
    """Pulumi.<stack>.yaml validated as the program validates it, secrets standing in as redacted
    (a StackConfig); raises ConfigError."""
    from components.stack import load_stack_config

    return load_stack_config(*with_redacted_secrets(*load_stack_file(stack, project_dir)))


def report_invalid(tool: str, stack: str, err: ConfigError) -> int:
    """A CI tool's answer to an invalid stack file: its problems, one per line, and exit code 2."""
    print(f"{tool}: Pulumi.{stack}.yaml is invalid:", *err.issues, sep="\n  ", file=sys.stderr)
    return 2


def with_redacted_secrets(config: dict[str, Any], secret_keys: set[str]) -> tuple[dict[str, Any], set[str]]:
    """Stand the redaction marker in for every secret key an operator would set with the CLI."""
    config = dict(config)
    secret_keys = set(secret_keys)
    try:
        alerting = json.loads(config.get(f"{PROJECT}:alerting", "{}"))
    except (TypeError, json.JSONDecodeError):
        alerting = {}
    for key in [*SECRET_CONFIG_KEYS, *sorted(declared_team_secrets({"alerting": alerting}))]:
        full = f"{PROJECT}:{key}"
        if full not in config:
            config[full] = REDACTED
            secret_keys.add(full)
    return config, secret_keys


def _mock_region_account(config: dict[str, Any]) -> tuple[str, str]:
    try:
        cluster = json.loads(config.get(f"{PROJECT}:cluster", "{}"))
    except (TypeError, json.JSONDecodeError):
        cluster = {}
    cluster = cluster if isinstance(cluster, dict) else {}
    arn = cluster.get("oidcProviderArn") or ""
    account = arn.split(":")[4] if arn.count(":") >= 5 and arn.split(":")[4].isdigit() else MOCK_ACCOUNT
    return str(cluster.get("region") or "us-east-1"), account


def run_program(
    config: dict[str, Any],
    secret_keys: set[str],
    stack: str = "dev",
    program: Optional[Callable[[], None]] = None,
    check: bool = True,
    preview: bool = False,
    aws: Optional[AwsStandIn] = None,
) -> RunResult:
    """Run `__main__.py` (or `program`) under mocks with this config; return what it registered.

    An exception the program raises (a ConfigError among them) propagates once the runtime has
    settled, or with `check=False` comes back as `RunResult.error` beside what was registered.
    """
    region, account = _mock_region_account(config)
    monitor = RecordingMonitor(RecordingMocks(region, account, aws))
    settings.ROOT.set(None)
    set_all_config(dict(config), sorted(secret_keys))
    pulumi_mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)

    def main() -> None:
        if program is not None:
            program()
            return
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        finally:
            os.chdir(cwd)

    try:
        _sync_await(run_pulumi_func(main))
    except Exception as err:  # noqa: BLE001 handed back to the caller
        if check:
            raise
        return RunResult(monitor.registrations, {}, err, monitor.reads)
    return RunResult(monitor.registrations, _stack_outputs(), reads=monitor.reads)


def _stack_outputs() -> dict[str, StackOutput]:
    """What `pulumi.export` recorded on the root stack, resolved, with each value's secretness."""
    root = settings.get_root_resource()
    outputs: dict[str, StackOutput] = {}
    for name, value in sorted(getattr(root, "outputs", {}).items()):
        output = pulumi.Output.from_input(value)
        outputs[name] = StackOutput(_sync_await(output.future()), bool(_sync_await(output.is_secret())))
    return outputs


def _redact(value: Any, marker: Optional[str]) -> Any:
    """Every leaf becomes the marker; keys stay, so a redacted object keeps its shape."""
    if isinstance(value, dict):
        return {k: _redact(v, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, marker) for v in value]
    return marker


def unwrap_secrets(value: Any, marker: Optional[str] = REDACTED) -> Any:
    """Replace every secret the engine would hold encrypted with `marker`.

    The SDK marks the whole enclosing object secret when one value inside it is, so all of that
    object's values are redacted, not only the secret one.
    """
    if rpc.is_rpc_secret(value):
        return _redact(rpc.unwrap_rpc_secret(value), marker)
    if isinstance(value, dict):
        return {k: unwrap_secrets(v, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v, marker) for v in value]
    return value
