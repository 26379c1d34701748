"""Correlation across services: a W3C ``traceparent`` carried over HTTP and Kafka headers.

Every log line of a request (or of an event being handled) carries the trace id, so one reset
can be followed through reset, identity and the notifier. OpenTelemetry tracing proper is
optional (servicekit.runtime.otel); this works without it.
"""

import contextvars
import re
import secrets

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def continue_from(incoming: str | None) -> str:
    """A traceparent for our own span: same trace as ``incoming`` if valid, else a new trace."""
    match = _TRACEPARENT.match((incoming or "").strip().lower())
    if match and match.group(1) != "0" * 32:
        return new_traceparent(match.group(1))
    return new_traceparent()


def set_current(traceparent: str) -> contextvars.Token[str | None]:
    return _current.set(traceparent)


def reset_current(token: contextvars.Token[str | None]) -> None:
    _current.reset(token)


def current_traceparent() -> str | None:
    return _current.get()


def current_trace_id() -> str | None:
    value = _current.get()
    return value.split("-")[1] if value else None


def outgoing_headers() -> dict[str, str]:
    """Headers for an outgoing HTTP call, continuing the current trace."""
    value = _current.get()
    return {"traceparent": new_traceparent(value.split("-")[1])} if value else {}


def event_extensions() -> dict[str, str]:
    """CloudEvents extensions for an event produced now (distributed tracing extension)."""
    value = _current.get()
    return {"traceparent": value} if value else {}
