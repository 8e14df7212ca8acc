"""Debian's Prometheus server on a TSDB directory, on 127.0.0.1 only, stopped by whoever started it.

Every wait is bounded; the server is terminated (then killed) when the `with` block ends.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import engines

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], grace_s: float = 10) -> None:
    """Terminate, then kill what has not exited after `grace_s`: every stop is bounded."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=120) as response:  # noqa: S310 (127.0.0.1 only)
            answer = json.loads(response.read())
        if answer.get("status") != "success":
            raise RuntimeError(f"{path}: {answer}")
        return answer["data"]

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=30) as response:  # noqa: S310
            return str(response.read().decode())

    def query_range(self, expr: str, start: float, end: float, step: int) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
        data = self.get("/api/v1/query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=str(step))
        return {tuple(sorted(series["metric"].items())): [(float(t), float(v)) for t, v in series["values"]] for series in data["result"]}


@contextmanager
def prometheus(
    data: Path,
    rule_files: Sequence[Path] = (),
    evaluation_interval: str = "30s",
    timeout_s: float = 120,
    scrape_configs: Sequence[dict[str, Any]] = (),
) -> Iterator[Server]:
    """A server on `data` evaluating `rule_files`; it scrapes only `scrape_configs` (its own metrics are read over HTTP)."""
    config = data.parent / f"{data.name}-prometheus.yml"
    settings: dict[str, Any] = {"global": {"evaluation_interval": evaluation_interval}, "rule_files": [str(p) for p in rule_files]}
    if scrape_configs:
        settings["scrape_configs"] = list(scrape_configs)
    config.write_text(yaml.safe_dump(settings))
    port = free_port()
    log = (data.parent / f"{data.name}-prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            engines.binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=30d",
            f"--web.listen-address={HOST}:{port}",
            "--web.enable-admin-api",
            "--query.max-samples=500000000",
            "--query.timeout=10m",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://{HOST}:{port}", proc.pid)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(data.parent / f'{data.name}-prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus not ready after {timeout_s}s")
            time.sleep(0.5)
        yield server
    finally:
        stop(proc, grace_s=60)
        log.close()
