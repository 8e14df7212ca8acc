"""gunicorn with the package's settings (`-c python:service_contract.gunicorn_conf`), two uvicorn
workers: every scrape counts every worker's requests, every line the server writes (its master's
included) is JSON, and several workers without PROMETHEUS_MULTIPROC_DIR refuse to start."""

from __future__ import annotations

import json
import time
from pathlib import Path

from uvicorn_process import get, gunicorn, requests_counted, run

APP = '''
import logging

from fastapi import FastAPI
from service_contract import instrument

app = FastAPI()


@app.get("/work")
async def work() -> dict:
    logging.getLogger("orders").info("worked")
    return {"ok": True}


instrument(app, service="orders-api", version="1.4.2")
'''
CONFIG = ["-c", "python:service_contract.gunicorn_conf"]
ENV = {"WEB_CONCURRENCY": "2", "SERVICE_NAME": "orders-api", "SERVICE_VERSION": "1.4.2"}
REQUESTS = 60


def test_two_workers_count_together_and_log_json(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    # A file a dead process left: the master clears it, or its counts would be summed in.
    (metrics / "counter_4242.db").write_bytes(b"stale")
    env = {**ENV, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    with gunicorn(tmp_path, APP, *CONFIG, env=env) as served:
        time.sleep(1)  # the second worker is up too
        for _ in range(REQUESTS):
            assert get(f"{served.url}/work") == 200  # a new connection each: both workers answer
        deadline = time.monotonic() + 5  # a request is counted after its response is sent
        while requests_counted(f"{served.url}/metrics", "/work") < REQUESTS and time.monotonic() < deadline:
            time.sleep(0.1)
        totals = [requests_counted(f"{served.url}/metrics", "/work") for _ in range(20)]
    assert totals == [REQUESTS] * 20
    assert not (metrics / "counter_4242.db").exists()
    lines = [line for line in served.output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line: a plain-text one fails here
    by_logger: dict[str, list[dict]] = {}
    for record in records:
        by_logger.setdefault(record["logger"], []).append(record)
    # The master's own lines (before any app is imported) and the workers' are JSON with the service.
    assert any(r["message"].startswith("Starting gunicorn") for r in by_logger["gunicorn.error"])
    assert sum(r["message"].startswith("Booting worker") for r in by_logger["gunicorn.error"]) == 2
    assert {(r["service"], r["version"]) for r in records} == {("orders-api", "1.4.2")}
    # One access line per request, the package's, with the route template; gunicorn writes none.
    access = [r for r in records if r.get("path") == "/work"]
    assert len(access) == REQUESTS and all(r["status"] == 200 and len(r["trace_id"]) == 32 for r in access)
    assert len(by_logger["orders"]) == REQUESTS


def test_several_workers_without_the_directory_refuse_to_start(tmp_path: Path) -> None:
    code, output = run(tmp_path, APP, ["-m", "gunicorn", *CONFIG, "--bind", "127.0.0.1:0", "app:app"], env={**ENV, "PROMETHEUS_MULTIPROC_DIR": ""})
    assert code == 2, output
    refusals = [json.loads(line) for line in output.splitlines() if "PROMETHEUS_MULTIPROC_DIR" in line]
    assert [(r["level"], r["logger"]) for r in refusals] == [("critical", "gunicorn.error")], output
    assert refusals[0]["message"].startswith("2 workers need PROMETHEUS_MULTIPROC_DIR")
