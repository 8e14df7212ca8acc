"""Trace ids: the active OpenTelemetry span's, or taken from `X-Trace-ID` or the propagation headers,
or made up; kept for the request's log lines and exemplars.

Where the OpenTelemetry API is installed, its configured propagators read the headers (W3C
tracecontext by default, B3 or others if the service configured them) and a span an OpenTelemetry
instrumentation already started wins, so logs, exemplars and traces share one id. Without it the
package reads `traceparent` itself.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterable
from typing import Any

try:  # optional: the service's own OpenTelemetry set-up, if it has one
    from opentelemetry import propagate as otel_propagate
    from opentelemetry import trace as otel_trace
except ImportError:  # pragma: no cover - exercised in the oldest-dependencies run
    otel_trace = None  # type: ignore[assignment]
    otel_propagate = None  # type: ignore[assignment]

TRACE_HEADER = b"x-trace-id"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_TRACE_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")

current_trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)


def new_trace_id() -> str:
    """32 lower-case hex digits, the W3C trace-id format."""
    return secrets.token_hex(16)


_FIELDS: dict[int, tuple[Any, frozenset[str]]] = {}


def _fields(textmap: Any) -> frozenset[str]:
    """The headers a propagator reads, once per propagator object (a composite one builds the set
    on every access). Keyed by identity and holding the object, so a replaced propagator is read again."""
    known = _FIELDS.get(id(textmap))
    if known is None or known[0] is not textmap:
        _FIELDS.clear()  # one global propagator at a time
        known = _FIELDS[id(textmap)] = (textmap, frozenset(textmap.fields))
    return known[1]


def _otel_trace_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The active span's trace id, else the one OpenTelemetry's propagators find in the headers."""
    if otel_trace is None or otel_propagate is None:
        return None
    context: Any = otel_trace.get_current_span().get_span_context()
    if not context.is_valid:
        # Only the headers the configured propagators read, and only when there are any (per request).
        textmap = otel_propagate.get_global_textmap()
        fields = _fields(textmap)
        carrier = {k: v.decode("latin-1") for k, v in ((n.decode("latin-1").lower(), v) for n, v in headers) if k in fields}
        if not carrier:
            return None
        context = otel_trace.get_current_span(textmap.extract(carrier)).get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The caller's trace id: `X-Trace-ID` first, then OpenTelemetry's (when installed), then the
    trace-id of a valid `traceparent`."""
    headers = list(headers)
    traceparent = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == TRACE_HEADER:
            candidate = value.decode("latin-1").strip()
            if _TRACE_ID.match(candidate):
                return candidate
        elif lowered == b"traceparent":
            traceparent = value.decode("latin-1").strip().lower()
    otel = _otel_trace_id(headers)
    if otel:
        return otel
    if traceparent:
        match = _TRACEPARENT.match(traceparent)
        if match and match.group(1) != "0" * 32:
            return match.group(1)
    return None
