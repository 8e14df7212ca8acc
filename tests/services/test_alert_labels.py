"""Teams' own alerts may not read, group by or write a forbidden label: checked on the parsed
expression (components/lib/promql_labels.py), not by searching its text."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from components.lib.promql_labels import label_names
from components.services.config import CustomAlert


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("timestamp(up) > 0", set()),  # a function, not the `timestamp` label
        ('sum(rate(http_requests_total{path="/timestamp"}[5m])) > 1', {"path"}),  # a value, not a label
        ('up{"user_id"="1"} == 0', {"user_id"}),  # Prometheus 3's quoted label names
        ('{"up", trace_id=~".+"}', {"trace_id"}),
        ("sum by (user_id) (rate(errors_total[5m])) > 1", {"user_id"}),
        ("sum without (url) (up)", {"url"}),
        ("a > on (url) group_left (raw_path) b", {"url", "raw_path"}),
        ("a and ignoring (trace_id) b", {"trace_id"}),
        ('count_values("session_id", up)', {"session_id"}),
        ('label_replace(up, "request_id", "$1", "job", "(.*)")', {"request_id", "job"}),
        ('label_join(up, "x", ",", "a", "timestamp")', {"x", "a", "timestamp"}),
        ('sort_by_label(up, "user_id")', {"user_id"}),
        ('max_over_time(up{job="x"}[5m:1m]) or -(up{a="b" or c="d"})', {"job", "a", "c"}),
        ("topk(3, up) by (url)", {"url"}),
    ],
)
def test_label_names_are_read_from_the_parsed_expression(expr, names):
    assert label_names(expr) == names


def _alert(expr: str) -> CustomAlert:
    return CustomAlert.model_validate({"name": "TeamAlert", "expr": expr, "summary": "s", "runbook": "https://r.example.com"})


def test_a_valid_alert_on_a_function_named_like_a_label_is_accepted():
    assert _alert("timestamp(up) > 0").expr == "timestamp(up) > 0"


@pytest.mark.parametrize(
    ("expr", "used"),
    [('up{"user_id"="1"} == 0', "['user_id']"), ("a > on (url) group_left (trace_id) b", "['trace_id', 'url']")],
)
def test_a_forbidden_label_anywhere_is_refused(expr, used):
    with pytest.raises(ValidationError, match=re.escape(f"uses the forbidden label(s) {used}")):
        _alert(expr)


def test_an_expression_that_does_not_parse_is_refused():
    with pytest.raises(ValidationError, match="is not valid PromQL"):
        _alert("sum(rate(jobs[5m]) > 1")
