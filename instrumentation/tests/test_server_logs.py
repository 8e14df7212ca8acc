"""Every line a service writes is one JSON object: under a real uvicorn process, the server's own
lines, one access line per request (the package's, not uvicorn's) and an unhandled exception as one
line with its trace id and traceback (not a 56-line plain-text traceback)."""

from __future__ import annotations

import json
from pathlib import Path

from uvicorn_process import get, uvicorn

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


def test_uvicorn_lines_are_json_with_the_trace_id(tmp_path: Path) -> None:
    with uvicorn(tmp_path, APP) as served:
        assert get(f"{served.url}/ok") == 200
        assert get(f"{served.url}/boom", {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}) == 500
    output = served.output
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
