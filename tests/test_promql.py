"""Every PromQL expression the program emits parses in the real promtool."""

from __future__ import annotations

import json
import re

import yaml

from tests import promtool


def test_every_promql_expression_parses(rendered_prod):
    """Rules, analysis queries and dashboard queries, each parsed by promtool."""
    exprs: list[str] = []
    for path, text in rendered_prod.items():
        if not path.startswith("k8s/") or "/ConfigFile/" in path:
            continue
        doc = yaml.safe_load(text)
        if doc["kind"] == "PrometheusRule":
            exprs += [r["expr"] for g in doc["spec"]["groups"] for r in g["rules"]]
        elif doc["kind"] == "AnalysisTemplate":
            exprs += [m["provider"]["prometheus"]["query"] for m in doc["spec"]["metrics"]]
        elif doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("dashboard-"):
            for text_ in doc["data"].values():
                dashboard = json.loads(text_)
                # Prometheus panels only: Loki panels' LogQL is parsed by Grafana's LogQL grammar
                # (tests/logging/test_logql.py), the audit log's Logs Insights queries are CloudWatch's.
                exprs += [
                    t["expr"]
                    for p in dashboard["panels"]
                    if p.get("datasource", {}).get("type") == "prometheus"
                    for t in p.get("targets", [])
                ]
                exprs += [v["query"] for v in dashboard["templating"].get("list", []) if v["type"] == "query"]
    assert len(exprs) > 100
    substitutions = {"$__rate_interval": "1m", "$service": "svc", "$namespace": "ns", "$version": "1.0.0", "$node": "node"}
    rules = []
    for index, expr in enumerate(exprs):
        for var, value in substitutions.items():
            expr = expr.replace(var, value)
        expr = re.sub(r"\{\{args\.[a-z-]+\}\}", "x", expr)
        if expr.startswith("label_values("):  # Grafana templating, not PromQL: check its selector
            expr = re.sub(r"^label_values\((.*), [A-Za-z_]+\)$", r"\1", expr)
        rules.append({"record": f"check:expr_{index}", "expr": expr})
    proc = promtool.check_rules([{"name": "all-expressions", "rules": rules}])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promql_parse_check_can_fail():
    proc = promtool.check_rules([{"name": "bad", "rules": [{"record": "x:y", "expr": "sum by (a (rate(x[5m]))"}]}])
    assert proc.returncode != 0
