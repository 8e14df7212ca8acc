"""The rules sync Job's script, run with the machine's curl and sh against a stand-in for Loki's ruler API
on 127.0.0.1: the answers a real ruler gives during a rollout (connections refused while it starts, 503
with Retry-After while it joins its ring), a group it refuses, an empty namespace (404), and groups of
its namespace the platform no longer ships. Teams' namespaces are never touched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.logging.logql import RULES_NAMESPACE, ServiceLogs, logql_rule_groups
from components.logging.ruler import SCRIPT, rules_files
from tests.stackfixtures import fixture_config

HOST = "127.0.0.1"
PREFIX = "/loki/api/v1/rules/"
SCRIPT_TIMEOUT_S = 90


@dataclass
class Ruler:
    """What the ruler holds, by namespace then group, and every request it was sent."""

    groups: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    busy: int = 0  # answer this many requests 503 + Retry-After first
    style: str = "yaml.v2"  # how the listing is indented (Loki's Go YAML encoder)
    refuse: str = ""  # answer a POST of this group 400
    lock: threading.Lock = field(default_factory=threading.Lock)


def listing(namespace: str, held: dict[str, str], style: str) -> str:
    """The namespace's groups as Loki lists them: Go's encoder keeps the struct's field order (`name`
    first) and puts a list item's keys two columns past its dash; yaml.v3 indents lists by four."""
    groups = []
    for _, text in sorted(held.items()):
        group = yaml.safe_load(text)
        groups.append({"name": group.pop("name"), **group})
    body = yaml.safe_dump(groups, sort_keys=False)
    if style == "yaml.v3":
        body = "".join(f"    {line}" for line in body.splitlines(keepends=True))
    return f"{namespace}:\n{body}"


def _handler(ruler: Ruler) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, body: str = "", headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length).decode() if length else ""
            with ruler.lock:
                ruler.requests.append((self.command, self.path))
                if ruler.busy:
                    ruler.busy -= 1
                    return self._answer(503, "ruler not ready: joining the ring\n", {"Retry-After": "1"})
                namespace, _, group = self.path[len(PREFIX) :].partition("/")
                held = ruler.groups.setdefault(namespace, {})
                if self.command == "POST":
                    name = yaml.safe_load(payload)["name"]
                    if name == ruler.refuse:
                        return self._answer(400, f"could not parse rule group {name}: bad expression\n")
                    held[name] = payload
                    return self._answer(202, '{"status":"success","data":null}')
                if self.command == "GET":
                    if not held:
                        return self._answer(404, "no rule groups found\n")
                    return self._answer(200, listing(namespace, held, ruler.style), {"Content-Type": "application/yaml"})
                if self.command == "DELETE":
                    held.pop(group, None)
                    return self._answer(202, '{"status":"success","data":null}')
            return self._answer(405)

        do_GET = do_POST = do_DELETE = _handle  # noqa: N815 (http.server API)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(ruler: Ruler, port: int, after_s: float = 0.0) -> Iterator[None]:
    """The ruler on `port`, listening only `after_s` seconds from now (refusing connections until then)."""
    servers: list[ThreadingHTTPServer] = []

    def start() -> None:
        time.sleep(after_s)
        server = ThreadingHTTPServer((HOST, port), _handler(ruler))
        servers.append(server)
        server.serve_forever()

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    try:
        yield
    finally:
        deadline = time.monotonic() + 5
        while not servers and time.monotonic() < deadline:
            time.sleep(0.05)
        for server in servers:
            server.shutdown()
            server.server_close()
        thread.join(timeout=5)


def _groups() -> list[dict[str, Any]]:
    config = fixture_config("prod")
    return logql_rule_groups([ServiceLogs("orders", "orders-api", "payments")], "logging", config.alerting)


def run_sync(
    tmp_path: Path, port: int, groups: list[dict[str, Any]], retries: int = 10, max_time_s: int = 30
) -> subprocess.CompletedProcess[str]:
    """The script as the Job runs it: its ConfigMap's files in RULES_DIR, curl and a POSIX sh."""
    if shutil.which("curl") is None:
        pytest.fail("curl is needed to run the rules sync script (the Job's image is curl's)")
    rules = tmp_path / "rules"
    rules.mkdir()
    for name, text in rules_files(groups).items():
        (rules / name).write_text(text)
    env = {
        **os.environ,
        "LOKI_URL": f"http://{HOST}:{port}",
        "RULES_NAMESPACE": RULES_NAMESPACE,
        "RULES_DIR": str(rules),
        "TMPDIR": str(tmp_path),
        "RETRIES": str(retries),
        "RETRY_MAX_TIME": str(max_time_s),
    }
    return subprocess.run(["sh", str(rules / "sync-rules.sh")], env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)


def test_the_script_is_the_one_the_job_mounts():
    assert rules_files(_groups())["sync-rules.sh"] == SCRIPT
    assert SCRIPT.startswith("#!/bin/sh\n")


@pytest.mark.parametrize("style", ["yaml.v2", "yaml.v3"])
def test_a_starting_ruler_gets_every_group_and_loses_the_retired_ones(tmp_path, style):
    groups = _groups()
    ruler = Ruler(busy=2, style=style)
    # A rule's label called `name` is not a group.
    retired = {"name": "retired.group", "rules": [{"alert": "Old", "expr": "vector(1)", "labels": {"name": "a-label"}}]}
    ruler.groups = {
        RULES_NAMESPACE: {"retired.group": yaml.safe_dump(retired)},
        "team-a": {"their.rules": yaml.safe_dump({"name": "their.rules", "rules": []})},
    }
    port = _free_port()
    # Refuses connections for 1.5 s, then answers 503 twice: curl backs off and keeps going.
    with serving(ruler, port, after_s=1.5):
        proc = run_sync(tmp_path, port, groups)
    assert proc.returncode == 0, proc.stderr
    assert sorted(ruler.groups[RULES_NAMESPACE]) == sorted(g["name"] for g in groups)
    for group in groups:
        assert yaml.safe_load(ruler.groups[RULES_NAMESPACE][group["name"]]) == group
    assert ruler.groups["team-a"] == {"their.rules": yaml.safe_dump({"name": "their.rules", "rules": []})}
    assert all(path.startswith(PREFIX + RULES_NAMESPACE) for _, path in ruler.requests)
    assert [p for m, p in ruler.requests if m == "DELETE"] == [f"{PREFIX}{RULES_NAMESPACE}/retired.group"]
    assert proc.stdout.splitlines() == [*(f"pushed {g['name']}" for g in groups), "deleted retired.group"]


def test_an_empty_namespace_is_filled_and_nothing_deleted(tmp_path):
    ruler, port = Ruler(), _free_port()
    ruler.groups = {RULES_NAMESPACE: {}}
    with serving(ruler, port):
        proc = run_sync(tmp_path, port, _groups())
    assert proc.returncode == 0, proc.stderr
    assert [m for m, _ in ruler.requests].count("DELETE") == 0


def test_a_refused_group_fails_the_job_with_the_rulers_answer_and_deletes_nothing(tmp_path):
    groups = _groups()
    ruler, port = Ruler(refuse=groups[-1]["name"]), _free_port()
    ruler.groups = {RULES_NAMESPACE: {"retired.group": yaml.safe_dump({"name": "retired.group", "rules": []})}}
    with serving(ruler, port):
        proc = run_sync(tmp_path, port, groups)
    assert proc.returncode == 1
    assert f"pushing {groups[-1]['name']}: HTTP 400: could not parse rule group" in proc.stderr
    assert "retired.group" in ruler.groups[RULES_NAMESPACE]


def test_a_ruler_that_never_answers_fails_within_the_retry_budget(tmp_path):
    started = time.monotonic()
    proc = run_sync(tmp_path, _free_port(), _groups(), retries=3, max_time_s=5)  # nothing listens there
    assert proc.returncode != 0
    assert "Failed to connect" in proc.stderr or "Connection refused" in proc.stderr
    assert time.monotonic() - started < 30
