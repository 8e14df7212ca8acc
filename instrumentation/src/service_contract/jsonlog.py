"""JSON log lines on stdout, one object per line, with the request's trace id on every line.

Fluent Bit's kubernetes filter (`Merge_Log On`) lifts these keys into the record as they are; none
collides with the labels Loki indexes (namespace, pod, container, app), which come from Kubernetes.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

from .tracing import current_trace_id

# Keys a log call may add with `extra=`: the request's own fields.
REQUEST_FIELDS = ("method", "path", "status", "latency")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, version: str):
        super().__init__()
        self.service, self.version = service, version

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            # timezone.utc, not datetime.UTC: the package supports Python 3.10.
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(timespec="milliseconds"),  # noqa: UP017
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "version": self.version,
            "trace_id": current_trace_id.get(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


# The servers' own loggers: their lines go through the root handler as JSON. Their access lines are
# dropped, because the package writes one per request itself, with the route template and trace id.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "gunicorn", "gunicorn.error")
SERVER_ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access")
# Set on an exception the middleware has logged with its trace id; the server's own report of it
# (uvicorn's "Exception in ASGI application") is then dropped, so one error is one line.
LOGGED = "_service_contract_logged"


class _AlreadyLogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and getattr(record.exc_info[1], LOGGED, False))


def configure_logging(service: str, version: str, level: int = logging.INFO) -> logging.Handler:
    """Route every line the process writes through logging to stdout as one JSON object: the root
    logger's, the ASGI server's (uvicorn, gunicorn) and uncaught exceptions outside a request.

    uvicorn configures its loggers when it starts: run it with the app as an import string
    (`uvicorn app:app`, as the platform's image does) so this runs after, or pass `log_config=None`.
    Returns the handler (tests can swap the stream)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, version))
    handler.addFilter(_AlreadyLogged())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in SERVER_LOGGERS:
        server = logging.getLogger(name)
        server.handlers, server.propagate = [], True
    for name in SERVER_ACCESS_LOGGERS:
        access = logging.getLogger(name)
        access.handlers, access.propagate, access.disabled = [], False, True

    def uncaught(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        logging.getLogger("service_contract").critical("uncaught exception", exc_info=(kind, error, tb))

    sys.excepthook = uncaught
    return handler
