"""EKS control-plane logs: the log types the platform expects, checked on the cluster at every preview; the
retention of the log group EKS writes them to; the audit log searchable from Grafana.

EKS creates `/aws/eks/<cluster>/cluster` itself, without retention, the first time a log type is enabled.
The program owns the group's retention: it creates the group when none exists yet (EKS then writes into it),
or imports the existing one (`controlPlaneLogs.importLogGroup`). It is never deleted by the program: EKS
keeps writing there whatever the platform does.
"""

from __future__ import annotations

import json
from typing import Literal, Optional

import pulumi
import pulumi_aws as aws
from grafana_foundation_sdk.builders.cloudwatch import CloudWatchLogsQuery, LogGroup
from grafana_foundation_sdk.builders.dashboard import TextBoxVariable
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.models.cloudwatch import CloudWatchQueryMode
from grafana_foundation_sdk.models.common import TableCellHeight
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos
from pydantic import BaseModel, ConfigDict, Field

from ..aws.irsa import ClusterIdentity
from ..conventions import CLOUDWATCH_DATASOURCE_UID, PROJECT
from ..lib.dashboards import dashboard, encode
from ..lib.options import child_opts
from ..lib.sidecar import dashboard_config_map
from ..lib.types import Model, RetentionDays

LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
EXPECTED_TYPES: list[LogType] = ["api", "audit", "authenticator"]
AUDIT_DASHBOARD_UID = "eks-audit-log"


class ControlPlaneLogsConfig(Model):
    enabled: bool = Field(True, description="Check the cluster's control-plane log types at preview and own their log group's retention.")
    expected_types: list[LogType] = Field(
        default_factory=lambda: list(EXPECTED_TYPES),
        description="Control-plane log types the platform expects enabled; a preview names the missing ones with the command to enable them.",
    )
    retention_days: RetentionDays = Field(90, description="Retention of `/aws/eks/<cluster>/cluster` (EKS creates it without one).")
    import_log_group: bool = Field(
        False,
        description="The group exists already (EKS made it when logging was first enabled): import it instead of creating it. Its "
        "current retention must be `retentionDays` for the import; change it in a later `up`.",
    )


def log_group_name(cluster: str) -> str:
    return f"/aws/eks/{cluster}/cluster"


def missing_types_warning(cluster: str, region: str, enabled: Optional[list[str]], expected: list[str]) -> Optional[str]:
    """A preview warning naming the expected log types the cluster does not send, with the command that enables them."""
    missing = [t for t in expected if t not in (enabled or [])]
    if not missing:
        return None
    logging = json.dumps({"clusterLogging": [{"types": sorted(set(expected) | set(enabled or [])), "enabled": True}]}, separators=(",", ":"))
    return (
        f"EKS control-plane logging of cluster {cluster} does not send {', '.join(missing)}: the audit queries of "
        f"*Platform / EKS audit log* find nothing there. Enable them with: aws eks update-cluster-config --region {region} "
        f"--name {cluster} --logging '{logging}'"
    )


# Logs Insights queries over the audit log, one per question an on-call asks; `$name` and `$namespace` are
# the dashboard's text boxes, regular expressions (`.*` matches everything). Deletions are not narrowed by
# namespace: a deleted namespace, node or ClusterRole has none.
AUDIT_QUERIES = {
    "Who deleted it": 'fields @timestamp, user.username, objectRef.resource, objectRef.namespace, objectRef.name, responseStatus.code\n'
    '| filter verb = "delete" and objectRef.name like /$name/\n'
    "| sort @timestamp desc\n| limit 200",
    "Who changed a Secret": "fields @timestamp, user.username, verb, objectRef.namespace, objectRef.name, responseStatus.code\n"
    '| filter objectRef.resource = "secrets" and verb in ["create", "update", "patch", "delete"]\n'
    "| filter objectRef.name like /$name/ and objectRef.namespace like /$namespace/\n"
    "| sort @timestamp desc\n| limit 200",
    "Who ran commands in a pod (exec, attach, port-forward)": "fields @timestamp, user.username, objectRef.namespace, objectRef.name, "
    "objectRef.subresource\n"
    '| filter objectRef.subresource in ["exec", "attach", "portforward"] and objectRef.namespace like /$namespace/\n'
    "| sort @timestamp desc\n| limit 200",
    "Refused requests (401, 403)": "fields @timestamp, user.username, verb, objectRef.resource, objectRef.namespace, objectRef.name, "
    "responseStatus.code\n| filter responseStatus.code in [401, 403]\n| sort @timestamp desc\n| limit 200",
}


def audit_dashboard(cluster: str, region: str, partition: str, account: str) -> str:
    """*Platform / EKS audit log*: one CloudWatch Logs Insights table per question, over the cluster's log group."""
    name = log_group_name(cluster)
    group = LogGroup().name(name).arn(f"arn:{partition}:logs:{region}:{account}:log-group:{name}")
    source = DataSourceRef(type_val="cloudwatch", uid=CLOUDWATCH_DATASOURCE_UID)
    board = (
        dashboard("Platform / EKS audit log", AUDIT_DASHBOARD_UID, "eks", since="now-24h")
        .with_variable(TextBoxVariable("name").label("object name (regex)").default_value(".*"))
        .with_variable(TextBoxVariable("namespace").label("namespace (regex)").default_value(".*"))
    )
    for index, (title, expression) in enumerate(AUDIT_QUERIES.items()):
        query = (
            CloudWatchLogsQuery()
            .query_mode(CloudWatchQueryMode.LOGS)
            .region(region)
            .expression(expression)
            .log_groups([group])
            .ref_id("A")
            .datasource(source)
        )
        table = Table().id(index + 1).title(title).datasource(source).grid_pos(GridPos(h=10, w=24, x=0, y=index * 10))
        # The table panel's schema requires its options (the builder otherwise writes `options: null`).
        board = board.with_panel(table.show_header(True).cell_height(TableCellHeight.SM).with_target(query))
    return encode(board)


class ControlPlaneLogsArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: ControlPlaneLogsConfig = Field(description="Validated `controlPlaneLogs` stack config.")
    cluster_name: str = Field(description="The EKS cluster.")
    cluster: ClusterIdentity = Field(description="The cluster's region, account and partition.")
    grafana_namespace: Optional[str] = Field(None, description="Where Grafana's dashboard sidecar looks; None: no audit dashboard.")
    protect: bool = Field(False, description="Protect the log group (prod).")
    stack_tag: tuple[str, str] = Field(description="The tag the provider puts on every AWS resource of this stack (key, value).")


Ownership = Literal["create", "own", "import", "leave"]


def ownership(exists: bool, tags: dict[str, str], stack_tag: tuple[str, str], import_group: bool) -> Ownership:
    """What the program does with the group: create it (none yet), keep owning it (it carries this stack's tag),
    import it (another made it and the config says to adopt it), or leave it alone (another made it)."""
    if not exists:
        return "create"
    if tags.get(stack_tag[0]) == stack_tag[1]:
        return "own"
    return "import" if import_group else "leave"


def adopt_warning(cluster: str, retention: Optional[int], wanted: int) -> str:
    current = f"{retention} days" if retention else "never expire"
    return (
        f"{log_group_name(cluster)} exists already (EKS makes it when control-plane logging is first enabled) and is not this "
        f"stack's: its retention ({current}) is left as it is, not {wanted} days. To adopt it: set controlPlaneLogs.importLogGroup: true "
        f"with controlPlaneLogs.retentionDays: {retention or 'its current retention'} for the import, then the retention you want in a "
        "later up."
    )


class ControlPlaneLogs(pulumi.ComponentResource):
    """Reads the cluster's enabled log types (a warning at preview for each one missing) and owns the retention
    of its control-plane log group: creates it when none exists, imports one EKS made when told to, and
    otherwise leaves another's group alone with a warning. Never deletes it (retained on delete)."""

    log_group_name: str

    def __init__(self, name: str, args: ControlPlaneLogsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:logging:ControlPlaneLogs", name, None, opts)
        cfg = args.config
        self.log_group_name = log_group_name(args.cluster_name)
        invoke = pulumi.InvokeOptions(parent=self)
        cluster = aws.eks.get_cluster_output(name=args.cluster_name, opts=invoke)

        def warn(enabled: Optional[list[str]]) -> None:
            message = missing_types_warning(args.cluster_name, args.cluster.region, enabled, list(cfg.expected_types))
            if message:
                pulumi.log.warn(message, resource=self)

        cluster.enabled_cluster_log_types.apply(warn)
        # Read now, not as an output: whether to create, keep or import decides which resource options apply.
        found = aws.cloudwatch.get_log_groups(log_group_name_prefix=self.log_group_name, opts=invoke)
        exists = self.log_group_name in (found.log_group_names or [])
        existing = aws.cloudwatch.get_log_group(name=self.log_group_name, opts=invoke) if exists else None
        self.owning = ownership(exists, dict(existing.tags or {}) if existing else {}, args.stack_tag, cfg.import_log_group)
        if self.owning == "leave":
            pulumi.log.warn(adopt_warning(args.cluster_name, existing.retention_in_days if existing else None, cfg.retention_days), resource=self)
        else:
            self._own(name, args, opts)
        if args.grafana_namespace is not None:
            identity = args.cluster
            board = audit_dashboard(args.cluster_name, identity.region, identity.partition, identity.account_id)
            self.dashboard = dashboard_config_map(f"{name}-dashboard", AUDIT_DASHBOARD_UID, args.grafana_namespace, board, child_opts(self, opts))
        self.register_outputs({"log_group_name": self.log_group_name})

    def _own(self, name: str, args: ControlPlaneLogsArgs, opts: Optional[pulumi.ResourceOptions]) -> None:
        cfg = args.config
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            name=self.log_group_name,
            retention_in_days=cfg.retention_days,
            # Tags come from the provider's default_tags; the empty map keeps the group's inputs unchanged.
            tags={},
            opts=child_opts(
                self,
                opts,
                protect=args.protect,
                retain_on_delete=True,
                import_=self.log_group_name if self.owning == "import" else None,
            ),
        )
