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
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
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


def configure_logging(service: str, version: str, level: int = logging.INFO) -> logging.Handler:
    """Route the root logger to stdout as JSON; returns the handler (tests can swap the stream)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, version))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    return handler
