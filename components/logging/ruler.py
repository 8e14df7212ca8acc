"""The platform's LogQL rules, written to Loki's ruler API by a Job on every `pulumi up` that changes them.

Why a Job and not rule files: the ruler keeps its rule groups in the ruler bucket and serves an API to
change them (teams add their own there). Loki's file-based store is read-only and would replace that
store, not sit beside it. The Job owns one ruler namespace (`eks-observability`) and makes it hold exactly the
rendered groups; the ConfigMap and the Job are named by the content's hash, so a change runs a new Job,
`pulumi up` waits for it to succeed, and an unchanged program runs nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..conventions import MANAGED_BY_LABELS, PROJECT, RESTRICTED_CONTAINER
from ..k8s.network import RULES_SYNC_APP
from ..lib.options import child_opts
from .logql import RULES_NAMESPACE

SCRIPT = (Path(__file__).parent / "sync-rules.sh").read_text()
# curl as the official image ships it, as its own unprivileged user (uid 100, gid 101).
IMAGE = "curlimages/curl:8.11.1"
CURL_USER, CURL_GROUP = 100, 101
APP = RULES_SYNC_APP
RULES_DIR = "/rules"
DEADLINE_S = 600


def rules_files(groups: list[dict[str, Any]]) -> dict[str, str]:
    """One file a group (the body the ruler's API takes), and the script; sorted keys, the same bytes for the same rules."""
    files = {f"{g['name']}.yaml": yaml.safe_dump(g, sort_keys=True) for g in groups}
    return {"sync-rules.sh": SCRIPT, **files}


def content_hash(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:10]


def sync_job(name: str, namespace: str, config_map: str, loki_url: str) -> dict[str, Any]:
    """The Job as a manifest: restricted, no service account token, bounded in time."""
    labels = {**MANAGED_BY_LABELS, "app.kubernetes.io/name": APP}
    container = {
        "name": "sync",
        "image": IMAGE,
        "command": ["/bin/sh", f"{RULES_DIR}/sync-rules.sh"],
        "env": [
            {"name": "LOKI_URL", "value": loki_url},
            {"name": "RULES_NAMESPACE", "value": RULES_NAMESPACE},
            {"name": "RULES_DIR", "value": RULES_DIR},
            {"name": "TMPDIR", "value": "/tmp"},
        ],
        "securityContext": {**RESTRICTED_CONTAINER, "runAsNonRoot": True, "runAsUser": CURL_USER, "runAsGroup": CURL_GROUP},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        "volumeMounts": [{"name": "rules", "mountPath": RULES_DIR, "readOnly": True}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": DEADLINE_S,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [{"name": "rules", "configMap": {"name": config_map}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


class LokiRulesArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: list[dict[str, Any]] = Field(description="The rendered LogQL rule groups (`logql.logql_rule_groups`).")
    namespace: str = Field(description="Loki's namespace; the Job runs there.")
    loki_url: str = Field(description="Loki's gateway URL; the gateway routes /loki/api/v1/rules to the ruler.")


class LokiRules(pulumi.ComponentResource):
    """Creates the ConfigMap of rule groups and the Job that writes them to the ruler, both named by their hash."""

    job_name: pulumi.Output[str]

    def __init__(self, name: str, args: LokiRulesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{PROJECT}:logging:LokiRules", name, None, opts)
        files = rules_files(args.groups)
        suffix = content_hash(files)
        child = child_opts(self, opts)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-rules",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{APP}-{suffix}", namespace=args.namespace, labels={**MANAGED_BY_LABELS, "app.kubernetes.io/name": APP}
            ),
            data=files,
            opts=child,
        )
        manifest = sync_job(f"{APP}-{suffix}", args.namespace, f"{APP}-{suffix}", args.loki_url)
        job = k8s.batch.v1.Job(
            f"{name}-sync",
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=child_opts(self, opts, depends_on=[config_map], custom_timeouts=pulumi.CustomTimeouts(create=f"{DEADLINE_S}s")),
        )
        self.job = job
        self.job_name = pulumi.Output.from_input(manifest["metadata"]["name"])
        self.register_outputs({"job_name": self.job_name})
