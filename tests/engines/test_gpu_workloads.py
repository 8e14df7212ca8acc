"""GPU use per workload on the real Prometheus: what the DCGM exporter serves, scraped through the chart's
own ServiceMonitor (as prometheus-operator turns it into a scrape config), read by the program's GPU rules.

The exporter labels an allocated GPU's series with the pod, namespace and container holding it and a free
GPU's with none; pods end and GPUs are handed to new pods while the exporter keeps running. Each of those is
served here, one after the other, from one exporter endpoint.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.helm import require_charts
from tests.conftest import REDACTED, SECRET_CONFIG_KEYS
from tests.engines.scrape import relabel
from tests.engines.servers import HOST, free_port, get_json, process, require, wait_for
from tests.stackfixtures import fixture_values, to_pulumi_config
from tools import charts
from tools.mockrun import RunResult, run_program
from tools.render import render

NODE = "ip-10-0-1-5.ec2.internal"
EXPORTER_POD = "dcgm-exporter-x7k2p"
DEVICE = 'gpu="{gpu}",UUID="GPU-5f1e2d3c-000{gpu}",pci_bus_id="00000000:00:1{gpu}.0",device="nvidia{gpu}",modelName="NVIDIA A10G",Hostname="{node}",DCGM_FI_DRIVER_VERSION="570.172.08"'


def exposition(gpus: dict[int, tuple[float, tuple[str, str, str] | None]]) -> str:
    """dcgm-exporter 4.x text for `gpu -> (utilisation %, (namespace, pod, container) or None when free)`."""
    lines = []
    for metric, help_text in (("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)."), ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).")):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        for gpu, (util, holder) in sorted(gpus.items()):
            labels = DEVICE.format(gpu=gpu, node=NODE)
            if holder:
                labels += ',container="{2}",namespace="{0}",pod="{1}"'.format(*holder)
            value = util if metric == "DCGM_FI_DEV_GPU_UTIL" else (20480 if holder else 0)
            lines.append(f"{metric}{{{labels}}} {value:g}")
    return "\n".join(lines) + "\n"


class Exporter:
    """One DCGM exporter endpoint whose GPUs the test hands out and takes back."""

    def __init__(self) -> None:
        self.text = ""
        self.lock = threading.Lock()

    def serve(self, gpus: dict[int, tuple[float, tuple[str, str, str] | None]]) -> None:
        with self.lock:
            self.text = exposition(gpus)


@contextmanager
def exporter_endpoint(exporter: Exporter) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            with exporter.lock:
                body = exporter.text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def program() -> RunResult:
    values = fixture_values("prod", dcgmExporter={"enabled": True})
    return run_program(*to_pulumi_config(values, {key: REDACTED for key in SECRET_CONFIG_KEYS}), stack="prod")


@pytest.fixture(scope="module")
def service_monitor(program: RunResult) -> dict[str, Any]:
    """The ServiceMonitor the pinned dcgm-exporter chart renders from the program's values."""
    require_charts()
    releases, _ = charts.render_all(render(program), only=["dcgm-exporter"])
    (monitor,) = [o for o in releases["dcgm-exporter"] if o["kind"] == "ServiceMonitor"]
    return monitor


def gpu_rules(program: RunResult) -> list[dict[str, Any]]:
    groups = program.named("kube-prometheus-stack-platform-rules").inputs["spec"]["groups"]
    return [g for g in groups if any(r.get("alert", "").startswith("GPU") for r in g["rules"])]


def scrape_config(monitor: dict[str, Any], address: str) -> dict[str, Any]:
    """What the operator generates: its own target labels from discovery, then the monitor's relabelings."""
    (endpoint,) = monitor["spec"]["endpoints"]
    meta = monitor["metadata"]
    service = meta["name"]
    return {
        "job_name": f"serviceMonitor/{meta['namespace']}/{service}/0",
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "metrics_path": endpoint.get("path", "/metrics"),
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "static_configs": [
            {
                "targets": [address],
                "labels": {
                    "__meta_kubernetes_pod_node_name": NODE,
                    "job": service,
                    "namespace": meta["namespace"],
                    "service": service,
                    "pod": EXPORTER_POD,
                    "container": "exporter",
                    "endpoint": endpoint["port"],
                },
            }
        ],
        "relabel_configs": relabel(endpoint.get("relabelings", [])),
        "metric_relabel_configs": relabel(endpoint.get("metricRelabelings", [])),
    }


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def series(self, metric: str) -> list[dict[str, str]]:
        result = get_json(f"{self.url}/api/v1/query?query={metric}")["data"]["result"]
        return sorted((r["metric"] for r in result), key=lambda m: m["gpu"])

    def alerts(self, name: str) -> list[dict[str, Any]]:
        return [a for a in get_json(f"{self.url}/api/v1/alerts")["data"]["alerts"] if a["labels"]["alertname"] == name]


@contextmanager
def prometheus(monitor: dict[str, Any], rules: list[dict[str, Any]], exporter: Exporter) -> Iterator[Prometheus]:
    binary = require("prometheus")
    with tempfile.TemporaryDirectory() as tmp, exporter_endpoint(exporter) as address:
        root = Path(tmp)
        (root / "rules.yaml").write_text(yaml.safe_dump({"groups": [{**g, "interval": "1s"} for g in rules]}))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(root / "rules.yaml")],
            "scrape_configs": [scrape_config(monitor, address)],
        }
        (root / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        args = [binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}", f"--web.listen-address={HOST}:{port}"]
        with process(args, root, f"http://{HOST}:{port}/-/ready"):
            yield Prometheus(f"http://{HOST}:{port}")


TRAINER = ("ml", "trainer-0", "trainer")
SERVER = ("ml", "server-7c9d5-qk2lp", "server")


def pending_idle(prom: Prometheus) -> list[tuple[str, str, str]]:
    return sorted((a["labels"].get("namespace", ""), a["labels"].get("pod", ""), a["labels"]["gpu"]) for a in prom.alerts("GPUAllocatedIdle"))


def test_a_gpu_series_names_the_workload_holding_it_and_a_free_gpu_none(program, service_monitor):
    exporter = Exporter()
    exporter.serve({0: (0, TRAINER), 1: (87, SERVER), 2: (0, None)})
    with prometheus(service_monitor, gpu_rules(program), exporter) as prom:
        series = wait_for(lambda: len(prom.series("DCGM_FI_DEV_GPU_UTIL")) == 3 and prom.series("DCGM_FI_DEV_GPU_UTIL"), 20, "three GPUs")
        held = [{k: s.get(k) for k in ("gpu", "namespace", "pod", "container", "node")} for s in series]
        assert held == [
            {"gpu": "0", "namespace": "ml", "pod": "trainer-0", "container": "trainer", "node": NODE},
            {"gpu": "1", "namespace": "ml", "pod": "server-7c9d5-qk2lp", "container": "server", "node": NODE},
            {"gpu": "2", "namespace": None, "pod": None, "container": None, "node": NODE},
        ]
        assert not any(k.startswith("exported_") for s in series for k in s)
        # The exporter itself stays findable by its target (GPUNodeWithoutExporter reads `up`).
        up = get_json(f"{prom.url}/api/v1/query?query=up")["data"]["result"]
        assert [(u["metric"]["job"], u["metric"]["pod"], u["metric"]["node"]) for u in up] == [("dcgm-exporter", EXPORTER_POD, NODE)]

        # Only the allocated, idle GPU is on its way to GPUAllocatedIdle; the busy one and the free one are not.
        wait_for(lambda: pending_idle(prom) == [("ml", "trainer-0", "0")], 20, "trainer-0's idle GPU pending")
        (alert,) = prom.alerts("GPUAllocatedIdle")
        assert alert["state"] == "pending"
        first_active = alert["activeAt"]

        # The trainer's pod ends: its GPU is free and its alert goes with its series.
        exporter.serve({0: (0, None), 1: (87, SERVER), 2: (0, None)})
        wait_for(lambda: pending_idle(prom) == [] and "gone", 20, "the ended pod's alert to go")

        # The GPU is handed to a new pod, which idles too: a new allocation counts its own hour.
        exporter.serve({0: (0, ("ml", "trainer-1", "trainer")), 1: (87, SERVER), 2: (0, None)})
        wait_for(lambda: pending_idle(prom) == [("ml", "trainer-1", "0")], 20, "trainer-1's idle GPU pending")
        (alert,) = prom.alerts("GPUAllocatedIdle")
        assert alert["activeAt"] > first_active


def test_without_the_relabelings_the_exporters_own_pod_hides_the_workload(program, service_monitor):
    """The planted defect: the chart's ServiceMonitor with no metric relabelings (its default)."""
    (endpoint,) = service_monitor["spec"]["endpoints"]
    bare = {**service_monitor, "spec": {**service_monitor["spec"], "endpoints": [{**endpoint, "metricRelabelings": []}]}}
    exporter = Exporter()
    exporter.serve({0: (0, TRAINER), 2: (0, None)})
    with prometheus(bare, gpu_rules(program), exporter) as prom:
        wait_for(lambda: len(prom.alerts("GPUAllocatedIdle")) == 2, 20, "both GPUs pending")
        # Every GPU, the free one too, now looks held by the exporter's own pod: the test above would fail.
        namespace = service_monitor["metadata"]["namespace"]
        assert pending_idle(prom) == [(namespace, EXPORTER_POD, "0"), (namespace, EXPORTER_POD, "2")]
