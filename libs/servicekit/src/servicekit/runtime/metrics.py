"""Prometheus metrics every service exposes, and the HTTP middleware that records them.

The middleware also writes one JSON log line per request (route template, never the raw path:
the reset link carries a token in its query string) with the request's trace id.
"""

import logging
import time

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.runtime import otel, tracing
from servicekit.web.http_errors import error_response

log = logging.getLogger("servicekit.access")

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_QUIET = {"/metrics", "/healthz/live", "/healthz/ready"}


class RequestTelemetry:
    """Trace context in, metrics and one access log line out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"traceparent", b"").decode("latin-1")
        traceparent = tracing.continue_from(incoming)
        token = tracing.set_current(traceparent)
        status = 500
        started = time.perf_counter()

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"traceparent", traceparent.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = scope["path"]
            template = getattr(route, "path", None) or (path if path in _QUIET else "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            if template not in _QUIET:
                log.info(
                    "http request",
                    extra={
                        "fields": {
                            "method": method,
                            "route": template,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 2),
                        }
                    },
                )
            tracing.reset_current(token)


METRICS_PATH = "/metrics"


class MetricsPortGate:
    """``/metrics`` only on ``METRICS_PORT``, and nothing else there.

    A NetworkPolicy sees ports, not paths: with metrics on a port of their own it admits only
    the monitoring namespace to them, and the public port (the ingress) never serves them. No
    metrics port configured: no metrics served at all.
    """

    def __init__(self, app: ASGIApp, metrics_port: int | None) -> None:
        self.app = app
        self.metrics_port = metrics_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server") or (None, None)
        on_metrics_port = self.metrics_port is not None and server[1] == self.metrics_port
        if on_metrics_port and scope["path"] == METRICS_PATH and scope["method"] in ("GET", "HEAD"):
            await Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)(scope, receive, send)
            return
        if on_metrics_port or scope["path"] == METRICS_PATH:
            await error_response(404, "not_found", "Not Found")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_telemetry(app: FastAPI, service: str) -> None:
    """Access log, HTTP metrics and trace context; OpenTelemetry spans too when OTEL_ENABLED.
    Call it last: its middleware wraps everything. /metrics itself: ``MetricsPortGate``."""
    app.add_middleware(RequestTelemetry)
    if otel.enabled():
        otel.setup_tracing(app, service)
