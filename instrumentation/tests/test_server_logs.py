"""Every line a service writes is one JSON object: under a real uvicorn process, the server's own
lines, one access line per request (the package's, not uvicorn's) and an unhandled exception as one
line with its trace id and traceback (not a 56-line plain-text traceback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
APP = '''
from fastapi import FastAPI
from service_contract import instrument

app = FastAPI()


@app.get("/ok")
async def ok() -> dict:
    return {"ok": True}


@app.get("/boom")
async def boom() -> dict:
    raise RuntimeError("boom")


instrument(app, service="orders-api", version="1.4.2")
'''
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:  # noqa: S310 (127.0.0.1)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_uvicorn_lines_are_json_with_the_trace_id(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    port = _port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(tmp_path)])}
    command = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"http://127.0.0.1:{port}/healthz") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.2)
        assert _get(f"http://127.0.0.1:{port}/ok") == 200
        assert _get(f"http://127.0.0.1:{port}/boom", {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}) == 500
    finally:
        proc.send_signal(signal.SIGTERM)  # what Kubernetes sends
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate(timeout=10)
    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line parses: no plain text at all
    loggers = [r["logger"] for r in records]
    assert "uvicorn.error" in loggers  # the server's start and stop lines, as JSON
    assert "uvicorn.access" not in loggers
    access = [r for r in records if r["logger"] == "service_contract.access"]
    assert [(r["path"], r["status"]) for r in access] == [("/ok", 200), ("/boom", 500)]
    (error,) = [r for r in records if r["level"] == "error"]
    assert error["logger"] == "service_contract.error" and error["trace_id"] == TRACE_ID and error["path"] == "/boom"
    assert "RuntimeError: boom" in error["exception"]
    assert not any("Exception in ASGI application" in r["message"] for r in records)
