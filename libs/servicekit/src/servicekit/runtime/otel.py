"""OpenTelemetry tracing, off unless OTEL_ENABLED=true.

When on, FastAPI requests and httpx calls become spans exported over OTLP/HTTP to the collector
named by the standard OTEL_EXPORTER_OTLP_ENDPOINT (OTEL_SERVICE_NAME names the service). The
imports happen only then, so a service without tracing pays nothing for it.
"""

import os
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig


def enabled() -> bool:
    return os.environ.get("OTEL_ENABLED", "false").strip().lower() in {"1", "true", "yes"}


def fastapi_telemetry() -> TelemetryConfig:
    """``FastAPI(telemetry=...)``: FastAPI's own OpenTelemetry support asks for configured
    providers on every request (~6 µs) unless told there is none to find, i.e. unless
    OTEL_ENABLED (then ``setup_tracing`` configures them)."""
    if enabled():
        return {}
    return {"tracing": False, "metrics": False, "logs": False}


def setup_tracing(app: FastAPI, service_name: str, exporter: Any = None) -> Any:
    """Instrument ``app`` and outgoing httpx calls; returns the tracer provider."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor: Any = BatchSpanProcessor(OTLPSpanExporter())
    else:
        processor = SimpleSpanProcessor(exporter)
    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    # Spans are named after route templates; the reset link's token lives in a query string,
    # so every attribute that would carry one is rewritten without it.
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls="healthz,metrics",
        server_request_hook=_drop_query_string,
    )
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    return provider


_URL_ATTRIBUTES = ("http.url", "http.target", "url.full")


def _drop_query_string(span: Any, scope: dict[str, Any]) -> None:
    if not span or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(name, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")
