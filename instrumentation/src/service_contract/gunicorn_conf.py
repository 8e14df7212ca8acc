"""gunicorn settings for a service using the package:

    gunicorn -c python:service_contract.gunicorn_conf app:app

uvicorn workers (`WEB_CONCURRENCY` of them, default 1) on `0.0.0.0:$PORT` (default 8080); every
line gunicorn itself writes, its master's included, is one JSON object like the app's (the master
never imports the app, so `instrument()` cannot set it up there); no access log (the package writes
one line per request, with the route template and the trace id).

Several workers need `PROMETHEUS_MULTIPROC_DIR`: without it each worker would answer scrapes with
its own counts, which jump and reset, so gunicorn refuses to start, with one `critical` line saying
so (exit code 2). The master empties the directory before the workers start: a container restarted
in its pod keeps its `emptyDir`, and the dead process's files would be summed with the new ones.
Any setting here can be overridden on the command line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .contract import MULTIPROC_ENV, SERVICE_ENV, VERSION_ENV

worker_class = "uvicorn.workers.UvicornWorker"
bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
accesslog = None
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "service_contract.jsonlog.JsonFormatter",
            "service": os.environ.get(SERVICE_ENV, ""),
            "version": os.environ.get(VERSION_ENV, ""),
        }
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": [], "propagate": True, "level": "INFO"},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}


def on_starting(server: Any) -> None:
    """In the master, before any worker starts: refuse several workers without the multiprocess
    directory, and empty the directory."""
    directory = os.environ.get(MULTIPROC_ENV)
    if server.cfg.workers > 1 and not directory:
        server.log.critical(
            f"{server.cfg.workers} workers need {MULTIPROC_ENV} (an empty directory, e.g. an emptyDir volume): "
            "without it each worker answers scrapes with its own counts"
        )
        sys.exit(2)
    if directory:
        for stale in Path(directory).glob("*.db"):
            stale.unlink()
