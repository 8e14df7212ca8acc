"""Several worker processes behind one port (`uvicorn --workers 2`): with PROMETHEUS_MULTIPROC_DIR
every scrape shows the requests of all workers, whichever answers; without it a scrape shows only
the answering worker's (the failure the mode exists for, shown here so the test can fail)."""

from __future__ import annotations

import time
from pathlib import Path

from uvicorn_process import get, requests_counted, uvicorn

APP = '''
from fastapi import FastAPI
from service_contract import instrument

app = FastAPI()


@app.get("/work")
async def work() -> dict:
    return {"ok": True}


instrument(app, service="orders-api", version="1.4.2", log_level=None)
'''
REQUESTS = 60


def _scrapes(tmp_path: Path, multiprocess: bool) -> list[float]:
    # Empty is unset to prometheus_client and to the package, whatever the outer environment holds.
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics") if multiprocess else ""}
    if multiprocess:
        (tmp_path / "metrics").mkdir()
    with uvicorn(tmp_path, APP, "--workers", "2", "--log-level", "warning", env=env) as served:
        time.sleep(1)  # the second worker is up too
        for _ in range(REQUESTS):
            assert get(f"{served.url}/work") == 200  # a new connection each: both workers answer
        # A request is counted after its response is sent: let the last one land (bounded).
        deadline = time.monotonic() + 5
        while requests_counted(f"{served.url}/metrics", "/work") < REQUESTS and time.monotonic() < deadline and multiprocess:
            time.sleep(0.1)
        return [requests_counted(f"{served.url}/metrics", "/work") for _ in range(20)]


def test_every_scrape_counts_every_workers_requests(tmp_path: Path) -> None:
    assert _scrapes(tmp_path, multiprocess=True) == [REQUESTS] * 20


def test_without_the_mode_a_scrape_sees_one_worker(tmp_path: Path) -> None:
    totals = _scrapes(tmp_path, multiprocess=False)
    assert min(totals) < REQUESTS, totals
