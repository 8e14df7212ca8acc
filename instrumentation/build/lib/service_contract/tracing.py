"""Trace ids: taken from `X-Trace-ID` or W3C `traceparent`, or made up; kept for the request's log lines."""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterable

TRACE_HEADER = b"x-trace-id"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_TRACE_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")

current_trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)


def new_trace_id() -> str:
    """32 lower-case hex digits, the W3C trace-id format."""
    return secrets.token_hex(16)


def from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The caller's trace id: `X-Trace-ID` first, then the trace-id of a valid `traceparent`."""
    traceparent = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == TRACE_HEADER:
            candidate = value.decode("latin-1").strip()
            if _TRACE_ID.match(candidate):
                return candidate
        elif lowered == b"traceparent":
            traceparent = value.decode("latin-1").strip().lower()
    if traceparent:
        match = _TRACEPARENT.match(traceparent)
        if match and match.group(1) != "0" * 32:
            return match.group(1)
    return None
