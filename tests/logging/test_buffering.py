"""Logs survive an outage of either destination: filesystem buffers per output, retries that never give up."""

from __future__ import annotations

import re

import pytest

from components.conventions import PROJECT
from components.logging.config import FluentBitConfig
from components.logging.fluent_bit_values import STORAGE_PATH, fluent_bit_values, parse_sections, pipeline
from components.stack import ConfigError, load_stack_config
from tests.conftest import ROOT
from tests.stackfixtures import fixture_config, fixture_values, to_pulumi_config

LOKI = ("loki-gateway.logging.svc.cluster.local", 80)


def _sections() -> dict[str, dict[str, str]]:
    config = fixture_config()
    rendered = fluent_bit_values(config.fluent_bit, pipeline(config.fluent_bit, "eu-west-1", "/aws/eks/x", LOKI))["config"]
    sections = [s for part in ("service", "inputs", "filters", "outputs") for s in parse_sections(rendered[part])]
    return {_key(kind, dict(entries)): dict(entries) for kind, entries in sections}


def _key(kind: str, entries: dict[str, str]) -> str:
    """Sections by plugin name; the pipeline's own input and filters (tag `pipeline.*`) apart."""
    name = entries.get("Name", kind)
    return f"pipeline {name}" if "pipeline." in entries.get("Tag", "") + entries.get("Match", "") else name


def test_each_output_buffers_on_disk_and_never_gives_up():
    sections = _sections()
    assert sections["SERVICE"]["storage.path"] == f"{STORAGE_PATH}/"
    assert sections["tail"]["storage.type"] == "filesystem"
    for output in ("cloudwatch_logs", "loki"):
        assert sections[output]["Retry_Limit"] == "no_limits"
        assert sections[output]["storage.total_limit_size"] == "2GB"


def test_long_lines_are_kept_up_to_a_megabyte():
    tail = _sections()["tail"]
    assert (tail["Buffer_Chunk_Size"], tail["Buffer_Max_Size"]) == ("64KB", "1MB")


def test_the_pipeline_ships_only_its_own_error_lines():
    sections = _sections()
    excluded = sections["tail"]["Exclude_Path"].split(",")
    own = ["/var/log/containers/fluent-bit-*_logging_*.log", "/var/log/containers/loki-*_logging_*.log"]
    assert excluded == own  # system agents' logs are kept
    assert sections["pipeline tail"]["Path"].split(",") == own
    assert sections["pipeline kubernetes"]["Kube_Tag_Prefix"] == "pipeline.var.log.containers."
    key, regex = sections["pipeline grep"]["Regex"].split(" ", 1)
    assert key == "log"
    error = re.compile(regex)
    # What Fluent Bit, Loki (logfmt) and Loki's gateway (nginx) write, as the cri parser leaves it in `log`.
    assert error.search("[2026/12/08 01:02:03] [error] [output:loki:loki.0] could not flush chunk 1-1733620000.1.flb")
    assert error.search('level=error ts=2026-12-08T01:02:03Z caller=flush.go:143 msg="failed to flush" err="RequestCanceled"')
    assert error.search('2026/12/08 01:02:03 [error] 23#23: *417 upstream timed out (110: Connection timed out)')
    assert not error.search("[2026/12/08 01:02:03] [ info] [output:loki:loki.0] worker #0 started")
    assert not error.search('level=info ts=2026-12-08T01:02:03Z caller=table_manager.go:136 msg="uploading tables"')
    assert not error.search('level=warn msg="error budget" detail="errors=0"')


def test_system_namespaces_go_to_cloudwatch_only():
    loki = re.compile(_sections()["loki"]["Match_Regex"])
    assert "Match" not in _sections()["loki"]
    tag = "kube.var.log.containers.{pod}_{ns}_{container}-0123abcd.log"
    assert not loki.match(tag.format(pod="coredns-5d78c9869d-abcde", ns="kube-system", container="coredns"))
    assert not loki.match(tag.format(pod="aws-node-x7k2p", ns="kube-system", container="aws-node"))
    assert loki.match(tag.format(pod="orders-api-7f9c-2", ns="orders", container="orders-api"))
    assert loki.match(tag.format(pod="kube-system-lookalike-1", ns="orders", container="app"))
    # The pipeline's own error lines go to both: CloudWatch keeps them while Loki is down.
    assert loki.match("pipeline.var.log.containers.fluent-bit-x7k2p_logging_fluent-bit-0123abcd.log")
    cloudwatch = re.compile(_sections()["cloudwatch_logs"]["Match_Regex"])
    assert cloudwatch.match(tag.format(pod="coredns-5d78c9869d-abcde", ns="kube-system", container="coredns"))
    assert cloudwatch.match("pipeline.var.log.containers.loki-write-0_logging_loki-0123abcd.log")


def test_buffer_lives_on_the_node():
    config = fixture_config()
    values = fluent_bit_values(config.fluent_bit, pipeline(config.fluent_bit, "eu-west-1", "/aws/eks/x", LOKI))
    assert values["extraVolumes"] == [{"name": "flb-storage", "hostPath": {"path": STORAGE_PATH, "type": "DirectoryOrCreate"}}]
    assert values["extraVolumeMounts"] == [{"name": "flb-storage", "mountPath": STORAGE_PATH}]


def test_outage_survival_is_computed_and_documented():
    minutes = FluentBitConfig().outage_minutes()
    assert minutes == {"loki": 2048 / 10, "cloudwatch": 2048 / 10}
    doc = (ROOT / "docs" / "failure-modes.md").read_text()
    assert f"{minutes['loki']:.0f} minutes" in doc


def test_a_buffer_too_small_for_the_log_rate_is_refused():
    values = fixture_values(fluentBit={"lokiBufferLimit": "100MB", "nodeLogRate": "10MB"})
    with pytest.raises(ConfigError) as err:
        load_stack_config(*to_pulumi_config(values))
    (issue,) = err.value.issues
    assert issue.startswith(f"{PROJECT}:fluentBit: got ")
    assert issue.endswith("the loki buffer holds 10 minutes of 10MB a minute, under minOutageMinutes 60: raise lokiBufferLimit.")
