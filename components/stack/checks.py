"""Rules that span several keys, each reported at the key an operator must change."""

from __future__ import annotations

import json

from ..conventions import PROJECT, SECRET_CONFIG_KEYS
from ..lib.types import byte_size_bytes, quantity_bytes
from ..metrics.config import PLACEHOLDER_RUNBOOK_BASE_URL, PLATFORM_TEAM
from ..metrics.rules import all_alert_rules
from ..services.canary import real_share
from ..services.rules import service_alert_names
from .config import StackConfig
from .errors import allowed_keys

# In prod the first canary step must send the canary less traffic than stable, with room to spare.
PROD_MAX_FIRST_STEP_SHARE = 0.45
MAX_REPLICAS_SEARCHED = 100

# Prometheus needs room beside the blocks retentionSize counts: the WAL and a compaction's output.
MAX_RETENTION_SHARE = 0.85


def _survives_a_node_loss(config: StackConfig) -> list[str]:
    """Prod refuses what one node's loss would stop: scraping and rule evaluation (Prometheus),
    notifications (Alertmanager), log ingestion (Loki), as it refuses a canary it cannot judge."""
    if not config.prod:
        return []
    issues = []
    stack, loki = config.prometheus_stack, config.loki
    why = "a prod stack must survive a node loss"
    if stack.enabled and stack.prometheus.replicas < 2:
        issues.append(
            f"{PROJECT}:prometheusStack.prometheus.replicas: got {stack.prometheus.replicas}; {why}: one Prometheus down stops "
            "every alert and canary analysis. Set 2 (the replicas scrape alike; Alertmanager deduplicates their alerts)."
        )
    if stack.enabled and stack.alertmanager.replicas < 2:
        issues.append(
            f"{PROJECT}:prometheusStack.alertmanager.replicas: got {stack.alertmanager.replicas}; {why}: one Alertmanager down "
            "sends no page. Set 3 (a gossip quorum; 2 at least)."
        )
    if loki.enabled and (loki.deployment_mode == "Monolithic" or loki.replicas < 2):
        got = f"deploymentMode {loki.deployment_mode} with {loki.replicas} replica{'s' if loki.replicas > 1 else ''}"
        issues.append(
            f"{PROJECT}:loki: got {got}; {why}: one Loki down stops log ingestion. Set deploymentMode Distributed and replicas 3 "
            "(logs written three times)."
        )
    return issues


def cross_checks(config: StackConfig) -> list[str]:
    issues = []
    if config.cluster.oidc_provider_arn is None:
        for path in config.needs_irsa():
            issues.append(
                f"{PROJECT}:cluster.oidcProviderArn: missing, but {path} needs an IRSA role; set it to the cluster's "
                "IAM OIDC provider ARN (aws eks describe-cluster --query cluster.identity.oidc.issuer)."
            )
    if config.prod and not config.protect_data:
        issues.append(f"{PROJECT}:protectData: got false; prod stacks must protect and retain their data (set true).")
    seen: dict[str, int] = {}
    for index, service in enumerate(config.services):
        if service.name in seen:
            issues.append(
                f"{PROJECT}:services[{index}].name: got {json.dumps(service.name)}; duplicate of services[{seen[service.name]}].name, "
                "service names must be unique."
            )
        seen.setdefault(service.name, index)
    platform = {config.namespaces.monitoring, config.namespaces.logging, config.namespaces.rollouts}
    for index, service in enumerate(config.services):
        if service.namespace in platform:
            issues.append(
                f"{PROJECT}:services[{index}].namespace: got {json.dumps(service.namespace)}; the platform's own namespaces "
                f"({', '.join(sorted(platform))}) are not for services: use the team's own namespace."
            )
    issues += _canary_shares(config)
    issues += _teams(config)
    issues += _alerting(config)
    issues += _survives_a_node_loss(config)
    if config.services and not config.argo_rollouts.enabled:
        issues.append(f"{PROJECT}:argoRollouts.enabled: got false; services need the Argo Rollouts controller for their canaries.")
    if config.services and not config.prometheus_stack.enabled:
        issues.append(f"{PROJECT}:prometheusStack.enabled: got false; service monitoring and canary analysis need Prometheus.")
    prom = config.prometheus_stack.prometheus
    share = byte_size_bytes(prom.retention_size) / quantity_bytes(prom.storage_size)
    if share > MAX_RETENTION_SHARE:
        allowed = int(quantity_bytes(prom.storage_size) * MAX_RETENTION_SHARE / 2**30)
        issues.append(
            f"{PROJECT}:prometheusStack.prometheus.retentionSize: got {json.dumps(prom.retention_size)}; that is {share:.0%} of "
            f"storageSize {prom.storage_size} (Prometheus counts GB as GiB). Keep at most {MAX_RETENTION_SHARE:.0%}, "
            f"{allowed}GB here, so the WAL and compaction have room before the volume fills."
        )
    amp = config.prometheus_stack.backend.amp
    if config.prometheus_stack.backend.mode == "amp" and amp.workspace_arn and amp.workspace_region() != config.cluster.region:
        issues.append(
            f"{PROJECT}:prometheusStack.backend.amp.workspaceArn: got {json.dumps(amp.workspace_arn)}; the workspace is in "
            f"{amp.workspace_region()} but the cluster in {config.cluster.region}: remote write and queries are signed for the "
            "cluster's region. Use a workspace in that region, or leave workspaceArn empty to create one."
        )
    if config.kubecost.enabled and not config.prometheus_stack.enabled:
        issues.append(
            f"{PROJECT}:kubecost.enabled: got true; Kubecost reads the platform Prometheus, so prometheusStack.enabled must be true."
        )
    if config.fluent_bit.send_to_loki and config.fluent_bit.enabled and not config.loki.enabled:
        issues.append(f"{PROJECT}:fluentBit.sendToLoki: got true, but loki.enabled is false; disable one or enable Loki.")
    issues += _budget_issues(config)
    return issues


def _budget_issues(config: StackConfig) -> list[str]:
    """A team budget needs a team that owns a namespace of its own: its spend is those namespaces'."""
    owned = set(config.namespace_teams().values())
    known = {team.name for team in config.alerting.teams} | {PLATFORM_TEAM}
    issues = []
    for index, budget in enumerate(config.kubecost.budgets):
        if budget.team is None:
            continue
        where = f"{PROJECT}:kubecost.budgets[{index}].team: got {json.dumps(budget.team)}"
        if budget.team not in known:
            issues.append(f"{where}; expected one of alerting.teams ({', '.join(sorted(known))}).")
        elif budget.team not in owned:
            issues.append(f"{where}; no namespace runs only this team's services, so it has no spend of its own; budget its namespaces.")
    return issues


# Alerts the chart and the routing name: a team alert of the same name would be routed, inhibited
# and silenced as the platform's.
CHART_ALERTS_ROUTED = ("Watchdog", "InfoInhibitor")


def _teams(config: StackConfig) -> list[str]:
    """A service's team must be configured, and a team's secret may not take a key the program reads otherwise."""
    teams = [team.name for team in config.alerting.teams]
    issues = [
        f"{PROJECT}:services[{index}].team: got {service.team!r}; must be one of alerting.teams "
        f"({', '.join(teams) or 'none configured'}), or unset for the platform's receivers."
        for index, service in enumerate(config.services)
        if service.team is not None and service.team not in teams
    ]
    taken = set(SECRET_CONFIG_KEYS) | set(allowed_keys(StackConfig))
    for index, team in enumerate(config.alerting.teams):
        issues += [
            f"{PROJECT}:alerting.teams[{index}]: secret name {secret!r} is a key the program already reads; "
            f"name the team's own, e.g. {team.name.replace('-', '')}PagerdutyRoutingKey."
            for secret in team.secret_names()
            if secret in taken
        ]
    return issues


def _alerting(config: StackConfig) -> list[str]:
    """Config that Prometheus and Alertmanager accept but that silently disables an alert."""
    issues = []
    if config.prod and config.alerting.runbook_base_url == PLACEHOLDER_RUNBOOK_BASE_URL:
        issues.append(
            f"{PROJECT}:alerting.runbookBaseUrl: got the placeholder {json.dumps(PLACEHOLDER_RUNBOOK_BASE_URL)}; every prod alert "
            "links to it. Set it to where your on-call reads docs/runbooks.md (your fork or wiki page)."
        )
    if config.prod and config.prometheus_stack.enabled and not config.alerting.heartbeat.enabled:
        issues.append(
            f"{PROJECT}:alerting.heartbeat.enabled: got false; a prod stack must page when alerting itself dies. Enable it and set "
            "the dead man's switch's ping URL: `pulumi config set --secret heartbeatUrl <url>` (CI: HEARTBEAT_URL)."
        )
    platform = sorted({rule.alert for rule in all_alert_rules(config.alerting)} | set(service_alert_names()) | set(CHART_ALERTS_ROUTED))
    for index, service in enumerate(config.services):
        bounds = service.metrics.bucket_bounds
        if service.slo.latency_seconds not in bounds:
            issues.append(
                f"{PROJECT}:services[{index}].slo.latencySeconds: got {service.slo.latency_seconds:g}; the latency SLO reads the "
                f"duration histogram's bucket at that bound and no series has it, so its alerts could never fire. Use one of the "
                f"buckets: {', '.join(f'{b:g}' for b in bounds)} (or declare the service's own in metrics.buckets)."
            )
        if service.analysis.latency_p95_seconds not in bounds:
            issues.append(
                f"{PROJECT}:services[{index}].analysis.latencyP95Seconds: got {service.analysis.latency_p95_seconds:g}; the canary's "
                "latency check counts the requests slower than it from the histogram's bucket at that bound, and no series has "
                f"it, so the check could never decide. Use one of the buckets: {', '.join(f'{b:g}' for b in bounds)}."
            )
        for j, alert in enumerate(service.alerts):
            if alert.name in platform:
                issues.append(
                    f"{PROJECT}:services[{index}].alerts[{j}].name: got {json.dumps(alert.name)}; the platform already has an alert "
                    "of that name, and routing, inhibition and silences would treat both as one. Choose another name "
                    f"(taken: {', '.join(platform)})."
                )
    return issues


def _canary_shares(config: StackConfig) -> list[str]:
    """Without a traffic router the canary's share is set by pod counts: refuse a first step that
    really sends more than the limit, naming the replicas that would keep it under."""
    issues = []
    for index, service in enumerate(config.services):
        limit = service.canary.max_first_step_share or (PROD_MAX_FIRST_STEP_SHARE if config.prod else None)
        weights = [step.set_weight for step in service.canary.steps if step.set_weight is not None]
        if limit is None or not weights or weights[0] / 100 > limit:
            continue  # a first step above the limit by design is the operator's choice
        share = real_share(service.replicas, weights[0])
        if share <= limit:
            continue
        enough = next((r for r in range(service.replicas + 1, MAX_REPLICAS_SEARCHED + 1) if real_share(r, weights[0]) <= limit), None)
        fix = f"run at least {enough} replicas ({real_share(enough, weights[0]):.0%})" if enough else "start with a larger setWeight"
        issues.append(
            f"{PROJECT}:services[{index}].replicas: got {service.replicas}; the first canary step (setWeight {weights[0]}) really sends "
            f"{share:.0%} of the traffic to the canary (traffic follows pod counts), over canary.maxFirstStepShare {limit:g}"
            f"{'' if service.canary.max_first_step_share else ' (the prod default)'}: {fix}, or raise canary.maxFirstStepShare."
        )
    return issues
