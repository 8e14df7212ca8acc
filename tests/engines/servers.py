"""The real Prometheus and Alertmanager servers and a webhook sink, on 127.0.0.1 only.

Each server runs in its own temporary directory, on a free port, is stopped by the fixture that
started it (terminate, then kill after a bounded wait), and every wait here is bounded in time.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tools import engines
from tools.rulebench.server import stop

HOST = "127.0.0.1"
START_TIMEOUT_S = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def require(binary: str) -> str:
    """The server the cluster runs (Prometheus 3, Alertmanager 0.28+); `make tools` installs it."""
    try:
        return engines.binary(binary)
    except engines.EngineError as err:
        pytest.fail(str(err))


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (OSError, ValueError, KeyError) as err:  # server not up yet, or not the answer yet
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
        return json.loads(response.read())


def post_json(url: str, body: Any) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
        return int(response.status)


@contextmanager
def process(args: list[str], cwd: Path, ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    log = (cwd / "server.log").open("wb")
    proc = subprocess.Popen(args, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{args[0]} exited: {(cwd / 'server.log').read_text()[-2000:]}")
            with urllib.request.urlopen(ready_url, timeout=2) as response:  # noqa: S310
                return int(response.status) == 200

        wait_for(ready, START_TIMEOUT_S, f"{args[0]} to be ready")
        yield proc
    finally:
        stop(proc)
        log.close()


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = 0.0  # time.monotonic() on arrival


@dataclass
class WebhookSink:
    """Records every POST it receives, by path."""

    port: int
    received: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def at(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.received if r.path == path]


def reply_of(path: str) -> tuple[int, str, bytes]:
    """What the real service answers a good POST with. Alertmanager 0.26+ reads the answer: a Slack
    webhook that does not answer a plain `ok` counts as failed, the firing message is not logged as sent,
    and its resolved message is then never sent (nothing was known to be firing)."""
    if path.startswith("/slack"):
        return 200, "text/html", b"ok"
    if path.startswith("/pagerduty"):
        return 202, "application/json", b'{"status":"success","message":"Event processed","dedup_key":"sink"}'
    return 200, "text/plain; charset=utf-8", b"OK"


@contextmanager
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = raw.decode(errors="replace")
            with sink.lock:
                sink.received.append(Request(urllib.parse.urlparse(self.path).path, dict(self.headers), body, time.monotonic()))
            status, content_type, answer = reply_of(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, sink.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
